using System;
using System.Net;
using Fiberws.Server;

namespace Fiberws.WebSockets
{
    /// <summary>
    /// What every WebSocket connection offers, whichever API serves it: the request context it was upgraded from
    /// (Locals, Params, Query, Cookies, Headers, IP), the negotiated subprotocol, writes and close.
    /// <see cref="Conn"/> is served by a blocking handler on its own thread; <see cref="EventConn"/> by callbacks on
    /// the event loop. The try-methods return a <see cref="ResultCode"/> and leave the failure's text in
    /// <see cref="ThreadError"/> (thread-local); the throwing methods wrap them.
    /// </summary>
    public abstract unsafe class WebSocketConnection
    {
        [ThreadStatic] private static string? t_error;
        [ThreadStatic] private static int t_errorCloseCode;

        private protected WebSocketConnection(Ctx context, string subprotocol, string route)
        {
            Context = context;
            Subprotocol = subprotocol;
            Route = route;
        }

        /// <summary>The request context the connection was upgraded from (Locals, Params, Query, Cookies, Headers).</summary>
        public Ctx Context { get; }

        /// <summary>The negotiated subprotocol, or "".</summary>
        public string Subprotocol { get; }

        /// <summary>The route pattern that accepted this connection.</summary>
        public string Route { get; }

        public IPEndPoint? RemoteAddr => Context.RemoteEndPoint;

        public IPEndPoint? LocalAddr => Context.LocalEndPoint;

        /// <summary>The client's IP address as text.</summary>
        public string IP => Context.IP;

        /// <summary>The negotiated Sec-WebSocket-Extensions (e.g. "permessage-deflate; client_no_context_takeover"), or "".</summary>
        public string Extensions => _compression != null ? _deflate!.ResponseHeader : string.Empty;

        /// <summary>The sending half of permessage-deflate, when negotiated.</summary>
        private protected OutgoingCompression? _compression;
        private Handshake.DeflateParameters? _deflate;

        /// <summary>Sets up permessage-deflate after a negotiation: the reader's inflater and the writer's deflater.</summary>
        /// <summary>Sets up permessage-deflate when it was negotiated; reader (if already created) gets its inflater.</summary>
        private protected void InitCompression(Handshake.DeflateParameters? deflate, Server.WebSocketConfig config, Protocol.MessageReader? reader)
        {
            if (deflate == null)
            {
                return;
            }
            _deflate = deflate;
            _compression = new OutgoingCompression(deflate, config.CompressionLevel, config.CompressionThreshold);
            if (reader != null)
            {
                reader.Inflater = CreateInflater();
            }
        }

        /// <summary>The inflater for incoming messages, or null without permessage-deflate.</summary>
        private protected Protocol.Compression.MessageInflater? CreateInflater() =>
            _deflate == null ? null : new Protocol.Compression.MessageInflater(_deflate.ClientNoContextTakeover);

        /// <summary>EnableWriteCompression: compress outgoing messages when permessage-deflate was negotiated (default on).</summary>
        public void EnableWriteCompression(bool enable)
        {
            if (_compression != null)
            {
                _compression.Enabled = enable;
            }
        }

        /// <summary>SetCompressionLevel: zlib level 1-9 for later messages (when permessage-deflate was negotiated).</summary>
        public void SetCompressionLevel(int level)
        {
            if (level < 1 || level > 9)
            {
                throw new FwsException(ResultCode.ErrInvalidArgument, $"compression level must be 1..9, not {level}");
            }
            _compression?.SetLevel(level);
        }

        /// <summary>An opaque slot for the binding layer (the C ABI keeps the connection's handle here).</summary>
        internal nint BindingHandle { get; set; }

        /// <summary>Bytes queued but not yet taken by the kernel (event API backpressure); 0 for blocking connections, whose writes wait instead.</summary>
        public virtual long BufferedAmount => 0;

        /// <summary>The close code the peer sent (1005 if its close had none, 1006 if TCP dropped); 0 while open.</summary>
        public abstract int CloseCodeReceived { get; }

        /// <summary>The reason text of the peer's close frame, or "".</summary>
        public abstract string CloseTextReceived { get; }

        /// <summary>The text of the last failure of a try-method on this thread.</summary>
        public static string ThreadError => t_error ?? string.Empty;

        /// <summary>The close code that went with the last failure on this thread (0 if none).</summary>
        public static int ThreadErrorCloseCode => t_errorCloseCode;

        public string? Params(string name) => Context.Params(name);

        public string? Query(string name) => Context.Query(name);

        public string? Cookies(string name) => Context.Cookies(name);

        public string? Headers(string name) => Context.Headers(name);

        public void SetLocal(string key, object? value) => Context.SetLocal(key, value);

        public bool TryGetLocal(string key, out object? value) => Context.TryGetLocal(key, out value);

        /// <summary>Sends a text or binary message (a control type goes to <see cref="TryWriteControl"/>).</summary>
        public abstract ResultCode TryWriteMessage(MessageType type, byte* data, long length);

        /// <summary>Sends a ping, pong or close control frame (at most 125 bytes).</summary>
        public abstract ResultCode TryWriteControl(MessageType type, byte* data, long length, int timeoutMs = 0);

        /// <summary>Starts the closing handshake with a code (1005 = none) and reason. Idempotent; any thread.</summary>
        public abstract ResultCode TryClose(int code, string reason);

        /// <summary>Sends a prepared message (WritePreparedMessage).</summary>
        public abstract ResultCode TryWritePrepared(PreparedMessage message);

        /// <summary>Sets the largest message accepted from now on (0 = no limit).</summary>
        public abstract void SetReadLimit(long limit);

        /// <summary>Sends a message; throws <see cref="FwsException"/> on failure.</summary>
        public void WriteMessage(MessageType type, ReadOnlySpan<byte> data)
        {
            fixed (byte* p = data)
            {
                ThrowIfFailed(TryWriteMessage(type, p, data.Length));
            }
        }

        /// <summary>Closes with a code and reason; throws only for an invalid code or reason.</summary>
        public void Close(int code = 1000, string reason = "")
        {
            ResultCode rc = TryClose(code, reason);
            if (rc == ResultCode.ErrInvalidArgument)
            {
                ThrowIfFailed(rc);
            }
        }

        /// <summary>
        /// After a handler failure (an exception, or a non-zero return from C): runs the route's recover handler, or by
        /// default reports the error on stderr and sends {"error":"..."} as the contrib package does; then closes with 1011.
        /// </summary>
        private protected void RunRecoverHandler(Exception failure, App app, WebSocketConfig config)
        {
            if (config.RecoverHandler != null)
            {
                try
                {
                    config.RecoverHandler(this, failure);
                }
                catch (Exception e)
                {
                    app.ReportError($"fiberws: recover handler on {Route} failed: {e.Message}");
                }
            }
            else
            {
                app.ReportError($"fiberws: handler on {Route} failed: {failure.Message}");
                byte[] json = System.Text.Encoding.UTF8.GetBytes("{\"error\":" + JsonString(failure.Message) + "}");
                fixed (byte* p = json)
                {
                    TryWriteMessage(MessageType.TextMessage, p, json.Length);
                }
            }
            TryClose((int)CloseCode.CloseInternalServerErr, string.Empty);
        }

        private static string JsonString(string s)
        {
            var sb = new System.Text.StringBuilder(s.Length + 2).Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    default:
                        if (c < 0x20)
                        {
                            sb.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
                        }
                        else
                        {
                            sb.Append(c);
                        }
                        break;
                }
            }
            return sb.Append('"').ToString();
        }

        private protected static ResultCode Fail(ResultCode code, string message, int closeCode = 0)
        {
            t_error = message;
            t_errorCloseCode = closeCode;
            return code;
        }

        private protected static void ThrowIfFailed(ResultCode code)
        {
            if (code != ResultCode.Ok)
            {
                throw new FwsException(code, ThreadError, ThreadErrorCloseCode);
            }
        }
    }
}
