using System;

namespace Fiberws.WebSockets
{
    /// <summary>Receives a message on the event loop; the bytes are valid only during the call.</summary>
    public delegate void MessageCallback(EventConn conn, MessageType type, ReadOnlySpan<byte> data);

    /// <summary>Receives the end of a connection: the peer's close code (1006 if none arrived) and reason.</summary>
    public delegate void CloseCallback(EventConn conn, int code, ReadOnlySpan<byte> reason);

    /// <summary>
    /// The callbacks of an event-API route, in the style of uWebSockets: all run on the event loop thread, must not
    /// block, and may call any EventConn method. OnOpen comes first, OnClose exactly once at the end.
    /// </summary>
    public sealed class WebSocketEvents
    {
        public Action<EventConn>? OnOpen { get; set; }

        public MessageCallback? OnMessage { get; set; }

        /// <summary>The connection's send buffer has drained after backpressure built up.</summary>
        public Action<EventConn>? OnDrain { get; set; }

        public CloseCallback? OnClose { get; set; }
    }
}
