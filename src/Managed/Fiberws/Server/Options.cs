using System;
using System.Collections.Generic;
using Fiberws.WebSockets;

namespace Fiberws.Server
{
    /// <summary>Server-wide settings (the C fws_app_config). Read when the app starts.</summary>
    public sealed class AppOptions
    {
        /// <summary>Largest request head accepted; larger gets 431 (414 for a request line alone). Default 8 KiB.</summary>
        public int MaxHeaderBytes { get; set; } = 8192;

        /// <summary>Time allowed to receive a whole request head (slowloris guard); zero = none. Default 10 s.</summary>
        public TimeSpan HeaderReadTimeout { get; set; } = TimeSpan.FromSeconds(10);

        /// <summary>Stack size of each handler thread. Default 1 MiB (committed only as used).</summary>
        public int HandlerStackSize { get; set; } = 1 << 20;

        /// <summary>After sending a close frame, how long to wait for the peer to finish the closing handshake. Default 1 s.</summary>
        public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(1);

        /// <summary>Most connections open at once (WebSocket and HTTP); beyond it new ones get 503. Default 100000; 0 = no limit.</summary>
        public int MaxConnections { get; set; } = DefaultMaxConnections;

        public const int DefaultMaxConnections = 100_000;

        internal void Validate()
        {
            if (MaxHeaderBytes < 256 || MaxHeaderBytes > 1 << 20)
            {
                throw new ArgumentException($"max header bytes must be 256..1048576, not {MaxHeaderBytes}");
            }
            if (HeaderReadTimeout < TimeSpan.Zero || CloseTimeout < TimeSpan.Zero || MaxConnections < 0)
            {
                throw new ArgumentException("timeouts and max connections must not be negative");
            }
            if (HandlerStackSize < 64 * 1024)
            {
                throw new ArgumentException($"handler stack size must be at least 64 KiB, not {HandlerStackSize} bytes");
            }
        }
    }

    /// <summary>Per-route WebSocket settings: the Fiber middleware's websocket.Config.</summary>
    public sealed class WebSocketConfig
    {
        public const long DefaultReadLimit = 64L << 20;
        public const int DefaultBufferSize = 4096;
        public const long DefaultMaxBackpressure = 1L << 20;
        public const int DefaultMaxFramesPerMessage = 100_000;

        /// <summary>Return true to serve the request with this route, false to pass it on (Fiber: if !Filter(c) { return c.Next() }).</summary>
        public Func<Ctx, bool>? Filter { get; set; }

        /// <summary>The whole upgrade must complete within this time; zero = only the app's header-read timeout.</summary>
        public TimeSpan HandshakeTimeout { get; set; }

        /// <summary>Supported subprotocols, in order of preference.</summary>
        public IReadOnlyList<string> Subprotocols { get; set; } = Array.Empty<string>();

        /// <summary>Allowed origins; empty or "*" = all.</summary>
        public IReadOnlyList<string> Origins { get; set; } = Array.Empty<string>();

        /// <summary>Read buffer size in bytes; 0 = default (4 KiB).</summary>
        public int ReadBufferSize { get; set; }

        /// <summary>Write buffer size in bytes; 0 = default (4 KiB).</summary>
        public int WriteBufferSize { get; set; }

        /// <summary>A pool the connections' write buffers come from (null = each connection keeps its own).</summary>
        public IWriteBufferPool? WriteBufferPool { get; set; }

        /// <summary>Negotiate permessage-deflate (RFC 7692) when the client offers it.</summary>
        public bool EnableCompression { get; set; }

        /// <summary>zlib compression level for outgoing messages, 1 (fastest, the default, as in gorilla) to 9.</summary>
        public int CompressionLevel { get; set; } = 1;

        /// <summary>Outgoing messages shorter than this go uncompressed. Default 64 bytes.</summary>
        public int CompressionThreshold { get; set; } = 64;

        /// <summary>Ask for server_no_context_takeover: no per-connection deflate state (about 256 KiB less each), less compression.</summary>
        public bool ServerNoContextTakeover { get; set; }

        /// <summary>The largest LZ77 window the server compresses with, 9-15 (smaller: less memory). Default 15.</summary>
        public int ServerMaxWindowBits { get; set; } = 15;

        /// <summary>Largest message after reassembly; 0 = no limit (up to the 2 GiB hard cap). Default 64 MiB.</summary>
        public long ReadLimit { get; set; } = DefaultReadLimit;

        /// <summary>
        /// Called with the connection and the failure when the handler throws (or, from C, returns non-zero),
        /// before the connection closes with 1011. Null = the default: the error goes to stderr and the client
        /// receives the text message {"error":"..."}.
        /// </summary>
        public Action<WebSocketConnection, Exception>? RecoverHandler { get; set; }

        /// <summary>Event API: most bytes a connection may have queued before sends are refused. Default 1 MiB; 0 = no limit.</summary>
        public long MaxBackpressure { get; set; } = DefaultMaxBackpressure;

        /// <summary>Event API: disconnect a client whose queue exceeds MaxBackpressure (else only the message is dropped). Default true.</summary>
        public bool CloseOnBackpressureLimit { get; set; } = true;

        /// <summary>Event API: close a connection that received nothing for this long; zero = never. Default zero.</summary>
        public TimeSpan IdleTimeout { get; set; }

        /// <summary>Event API: with an idle timeout, ping a quiet client at half the timeout so a live one answers. Default true.</summary>
        public bool SendPingsAutomatically { get; set; } = true;

        /// <summary>Most frames one message may span (a flood of empty fragments is bounded too); more closes with 1009. Default 100000; 0 = no limit.</summary>
        public int MaxFramesPerMessage { get; set; } = DefaultMaxFramesPerMessage;

        /// <summary>Keepalive (both APIs): ping every interval; zero = off (the default).</summary>
        public TimeSpan PingInterval { get; set; }

        /// <summary>Keepalive: a peer that sends nothing within this long after a ping is closed (1006). Zero = the ping interval.</summary>
        public TimeSpan PongTimeout { get; set; }

        internal long PingIntervalMs => (long)PingInterval.TotalMilliseconds;

        internal long EffectivePongTimeoutMs => PongTimeout > TimeSpan.Zero ? (long)PongTimeout.TotalMilliseconds : PingIntervalMs;

        internal int EffectiveReadBufferSize => ReadBufferSize > 0 ? ReadBufferSize : DefaultBufferSize;

        internal int EffectiveWriteBufferSize => WriteBufferSize > 0 ? WriteBufferSize : DefaultBufferSize;

        internal void Validate()
        {
            if (ReadBufferSize < 0 || ReadBufferSize > 64 << 20 || WriteBufferSize < 0 || WriteBufferSize > 64 << 20)
            {
                throw new ArgumentException("buffer sizes must be 0..64 MiB");
            }
            if (ReadLimit < 0)
            {
                throw new ArgumentException("read limit must not be negative");
            }
            if (CompressionLevel < 1 || CompressionLevel > 9 || CompressionThreshold < 0 || ServerMaxWindowBits < 9 || ServerMaxWindowBits > 15)
            {
                throw new ArgumentException("compression level must be 1..9, threshold >= 0, server max window bits 9..15");
            }
            if (MaxBackpressure < 0 || IdleTimeout < TimeSpan.Zero || PingInterval < TimeSpan.Zero || PongTimeout < TimeSpan.Zero ||
                MaxFramesPerMessage < 0)
            {
                throw new ArgumentException("max backpressure, idle timeout, ping interval, pong timeout and max frames must not be negative");
            }
            if (HandshakeTimeout < TimeSpan.Zero)
            {
                throw new ArgumentException("handshake timeout must not be negative");
            }
            foreach (string s in Subprotocols)
            {
                if (string.IsNullOrEmpty(s) || !Http.HttpParser.IsToken(System.Text.Encoding.UTF8.GetBytes(s)))
                {
                    throw new ArgumentException($"subprotocol '{s}' is not an HTTP token");
                }
            }
        }
    }
}
