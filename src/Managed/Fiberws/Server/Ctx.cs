using System;
using System.Collections.Generic;
using System.Net;
using Fiberws.Handshake;
using Fiberws.Http;
using Fiberws.Routing;

namespace Fiberws.Server
{
    /// <summary>
    /// The request as middleware, filters and handlers see it: Fiber's *fiber.Ctx, reduced to what a WebSocket
    /// server needs. After an upgrade the connection keeps it, so Locals, Params, Query, Cookies and Headers travel
    /// into the connection. Thread-safety: Locals may be used from several threads (it locks); the rest is immutable.
    /// </summary>
    public sealed class Ctx
    {
        private Dictionary<string, object?>? _locals; // created on first use; guarded by lock (this), as NativeStrings.For is
        private IReadOnlyList<KeyValuePair<string, string>> _params = Array.Empty<KeyValuePair<string, string>>();

        private readonly int _socket;
        private volatile bool _socketClosed;
        private IPEndPoint? _local;

        internal Ctx(HttpRequest request, IPEndPoint? remote, int socket)
        {
            Request = request;
            RemoteEndPoint = remote;
            _socket = socket;
        }

        public HttpRequest Request { get; }

        public IPEndPoint? RemoteEndPoint { get; }

        /// <summary>The server's address of this connection, asked of the socket on first use (null once it has closed).</summary>
        public IPEndPoint? LocalEndPoint => _local ??= _socketClosed ? null : Transport.Endpoint.Local(_socket);

        /// <summary>Called before the connection's socket closes: its descriptor may be reused afterwards.</summary>
        internal void MarkSocketClosed() => _socketClosed = true;

        /// <summary>The client's IP address as text ("" when unknown).</summary>
        public string IP => RemoteEndPoint?.Address.ToString() ?? string.Empty;

        public string Method => Request.Method;

        public string Path => Request.Path;

        /// <summary>Slot for the binding layer (e.g. native copies of strings); disposed when the request or connection ends.</summary>
        internal IDisposable? Attachment { get; set; }

        /// <summary>True when the client asked for a WebSocket upgrade (Fiber's websocket.IsWebSocketUpgrade).</summary>
        public bool IsWebSocketUpgrade => WebSocketHandshake.IsUpgradeRequest(Request);

        /// <summary>A route parameter (":id", "*", "*1", "+"...); null when the route has no such parameter.</summary>
        public string? Params(string name) => RoutePattern.Lookup(_params, name);

        /// <summary>A query parameter, decoded; null when absent.</summary>
        public string? Query(string name) => Request.Query(name);

        /// <summary>A cookie's value; null when absent.</summary>
        public string? Cookies(string name) => Request.Cookie(name);

        /// <summary>A request header (case-insensitive name); repeated headers joined by ", "; null when absent.</summary>
        public string? Headers(string name) => Request.Header(name);

        /// <summary>Stores a value under a key, for later middleware and the connection (Fiber's c.Locals(key, value)).</summary>
        public void SetLocal(string key, object? value)
        {
            lock (this)
            {
                (_locals ??= new Dictionary<string, object?>(StringComparer.Ordinal))[key] = value;
            }
        }

        /// <summary>Reads a stored value; false when the key was never set.</summary>
        public bool TryGetLocal(string key, out object? value)
        {
            lock (this)
            {
                value = null;
                return _locals != null && _locals.TryGetValue(key, out value);
            }
        }

        internal void SetParams(IReadOnlyList<KeyValuePair<string, string>> parameters) => _params = parameters;

        /// <summary>
        /// In a plain HTTP route's handler: the response to send (Fiber's c.Status(status).Send(body) with a
        /// Content-Type). The body is copied. Without a call the route answers 200 with an empty body.
        /// </summary>
        public void Send(int status, string contentType, ReadOnlySpan<byte> body)
        {
            ArgumentNullException.ThrowIfNull(contentType);
            if (status < 200 || status > 599)
            {
                throw new ArgumentOutOfRangeException(nameof(status), "status must be 200..599");
            }
            if (contentType.AsSpan().IndexOfAny('\r', '\n') >= 0)
            {
                throw new ArgumentException("content type must not contain CR or LF");
            }
            Response = new Reply(status, contentType, body.ToArray());
        }

        /// <summary>What a plain HTTP route's handler answered (null: nothing yet).</summary>
        internal Reply? Response { get; private set; }

        internal sealed record Reply(int Status, string ContentType, byte[] Body);

        internal void ReleaseAttachment()
        {
            IDisposable? a = Attachment;
            Attachment = null;
            a?.Dispose();
        }
    }
}
