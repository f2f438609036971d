using System.Runtime.InteropServices;

namespace Fiberws.Native
{
    /// <summary>An application: routes, middleware and a listener. Created by fws_app_new, freed by fws_app_free.</summary>
    [CHandle("fws_app")]
    public struct FwsApp { }

    /// <summary>The HTTP request seen by a middleware, filter or HTTP route handler. Lent: valid only during that callback.</summary>
    [CHandle("fws_ctx")]
    public struct FwsCtx { }

    /// <summary>
    /// A WebSocket connection. Lent: valid until the handler it was passed to returns (event API: from on_open until
    /// on_close returns); afterwards calls with it return FWS_ERR_INVALID_ARGUMENT.
    /// </summary>
    [CHandle("fws_conn")]
    public struct FwsConn { }

    /// <summary>Version numbers and fixed values of the ABI.</summary>
    [CConstants("FWS_")]
    public static class FwsConstants
    {
        public const int VersionMajor = 0;
        public const int VersionMinor = 1;
        public const int VersionPatch = 0;
        /// <summary>(major &lt;&lt; 16) | (minor &lt;&lt; 8) | patch; equals fws_version().</summary>
        public const int VersionHex = (VersionMajor << 16) | (VersionMinor << 8) | VersionPatch;
        /// <summary>Returned by a middleware to pass the request on to the next layer (Fiber's c.Next()).</summary>
        public const int Next = 0;
    }

    /// <summary>
    /// Server-wide settings. Fill with fws_app_config_init() first, then change fields. Fields are only ever
    /// appended; a caller compiled against an older, shorter struct keeps the defaults of the newer fields.
    /// </summary>
    [CStruct("fws_app_config")]
    [StructLayout(LayoutKind.Sequential)]
    public struct FwsAppConfig
    {
        /// <summary>sizeof(fws_app_config), set by fws_app_config_init.</summary>
        public uint StructSize;
        /// <summary>Largest request head (request line + headers) accepted, 256..1048576; larger gets 431. Default 8192.</summary>
        public int MaxHeaderBytes;
        /// <summary>Time allowed to receive a full request head, in ms (slowloris guard). Default 10000; 0 = none.</summary>
        public int HeaderReadTimeoutMs;
        /// <summary>Stack size of each handler thread in KiB. Default 1024.</summary>
        public int HandlerStackKib;
        /// <summary>How long the server waits for the peer's close frame after sending its own, in ms. Default 1000.</summary>
        public int CloseTimeoutMs;
        /// <summary>
        /// Most connections open at once (WebSocket and plain HTTP); beyond it new ones get 503 Service Unavailable
        /// and are closed. Default 100000; 0 = no limit (the process's file descriptor limit still applies).
        /// </summary>
        public int MaxConnections;
    }

    /// <summary>
    /// A snapshot of an app's counters, filled by fws_app_stats. Set struct_size to sizeof(fws_stats) first; a
    /// larger library fills only that much, so programs built against an older header keep working.
    /// </summary>
    [CStruct("fws_stats")]
    [StructLayout(LayoutKind.Sequential)]
    public struct FwsAppStats
    {
        /// <summary>sizeof(fws_stats), set by the caller.</summary>
        public uint StructSize;
        /// <summary>Connections open now: WebSocket connections plus HTTP connections not (yet) upgraded.</summary>
        public long ConnectionsOpen;
        /// <summary>WebSocket connections open now (both APIs).</summary>
        public long WebsocketsOpen;
        /// <summary>TCP connections accepted since the start.</summary>
        public long ConnectionsAccepted;
        /// <summary>Successful upgrades since the start.</summary>
        public long WebsocketsOpened;
        /// <summary>Whole messages received (after reassembly and decompression).</summary>
        public long MessagesIn;
        /// <summary>Whole messages sent; a publish counts once per subscriber.</summary>
        public long MessagesOut;
        /// <summary>Payload bytes of the messages received (uncompressed).</summary>
        public long BytesIn;
        /// <summary>Payload bytes of the messages sent (uncompressed).</summary>
        public long BytesOut;
        /// <summary>Malformed or oversized request heads (400, 414, 431, 505).</summary>
        public long RefusedBadRequest;
        /// <summary>Invalid upgrades on a WebSocket route (400).</summary>
        public long RefusedBadHandshake;
        /// <summary>Plain requests or unsupported versions on a WebSocket route (426).</summary>
        public long RefusedUpgradeRequired;
        /// <summary>Origins not allowed (403).</summary>
        public long RefusedForbidden;
        /// <summary>No route matched (404, 405).</summary>
        public long RefusedNotFound;
        /// <summary>Answered by a middleware or filter (its own status, or 500 when it failed).</summary>
        public long RefusedMiddleware;
        /// <summary>Heads that did not arrive within the header-read or handshake timeout.</summary>
        public long RefusedTimeout;
        /// <summary>Connections over max_connections (503).</summary>
        public long RefusedTooManyConnections;
    }

    /// <summary>
    /// Per-route WebSocket settings (Fiber's websocket.Config). Fill with fws_ws_config_init() first.
    /// Pointers inside are only read during the call that receives the struct: strings are copied.
    /// </summary>
    [CStruct("fws_ws_config")]
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct FwsWsConfig
    {
        /// <summary>sizeof(fws_ws_config), set by fws_ws_config_init.</summary>
        public uint StructSize;
        /// <summary>Largest message accepted, after reassembly, in bytes; a larger one closes with 1009. Default 64 MiB; 0 = no limit.</summary>
        public long ReadLimit;
        /// <summary>Size of each connection's read buffer in bytes. 0 = default (4096).</summary>
        public int ReadBufferSize;
        /// <summary>Size of each connection's write buffer in bytes. 0 = default (4096).</summary>
        public int WriteBufferSize;
        /// <summary>Subprotocols the server supports, in order of preference; NULL = none.</summary>
        [C("const char* const*")]
        public byte** Subprotocols;
        /// <summary>Number of entries in subprotocols.</summary>
        public nuint SubprotocolsCount;
        /// <summary>Allowed Origin values (case-insensitive); NULL/empty or "*" = any origin.</summary>
        [C("const char* const*")]
        public byte** Origins;
        /// <summary>Number of entries in origins.</summary>
        public nuint OriginsCount;
        /// <summary>The whole upgrade must finish within this many ms; 0 = only the app's header-read timeout.</summary>
        public int HandshakeTimeoutMs;
        /// <summary>1 = negotiate permessage-deflate (RFC 7692) when the client offers it. Default 0.</summary>
        public byte EnableCompression;
        /// <summary>
        /// Filter: returns 1 (any positive value) when this route should serve the request, 0 to skip to the next
        /// route or middleware (Fiber contrib: if !Filter(c) { return c.Next() }), negative for a failure (answered 500).
        /// NULL = always serve. Runs on the event loop thread.
        /// </summary>
        [CCallback("fws_filter_fn", "user", "ctx")]
        public delegate* unmanaged<void*, FwsCtx*, int> Filter;
        /// <summary>The user pointer passed to filter.</summary>
        public void* FilterUser;
        /// <summary>
        /// Called when the handler (or an event callback) returns non-zero or a failure occurs while serving a
        /// connection, before the connection is closed with 1011. NULL = the default: print the error to stderr and send
        /// {"error":"..."}. It runs on the thread that failed, right after the failing callback returned; conn is a fresh
        /// handle to the same connection, valid during the call; error is lent for the call.
        /// </summary>
        [CCallback("fws_recover_fn", "user", "conn", "error:const char*")]
        public delegate* unmanaged<void*, FwsConn*, byte*, void> RecoverHandler;
        /// <summary>The user pointer passed to recover_handler.</summary>
        public void* RecoverUser;
        /// <summary>Event API: most bytes a connection may have queued before sends are refused. Default 1 MiB; 0 = no limit.</summary>
        public long MaxBackpressure;
        /// <summary>Event API: 1 = disconnect a client whose queue exceeds max_backpressure (default); 0 = only drop the message.</summary>
        public byte CloseOnBackpressureLimit;
        /// <summary>Event API: 1 = with an idle timeout, ping a quiet client at half of it (default).</summary>
        public byte SendPingsAutomatically;
        /// <summary>Event API: close a connection that received nothing for this many ms. Default 0 = never.</summary>
        public int IdleTimeoutMs;
        /// <summary>
        /// WriteBufferPool: where blocking connections take their write buffers from, so idle connections hold none.
        /// NULL = each connection keeps its own. The pool must stay valid until the app is freed.
        /// </summary>
        [C("const fws_buffer_pool*")]
        public FwsBufferPool* WriteBufferPool;
        /// <summary>permessage-deflate: zlib level of outgoing messages, 1 (fastest, default) to 9.</summary>
        public int CompressionLevel;
        /// <summary>permessage-deflate: outgoing messages shorter than this many bytes go uncompressed. Default 64.</summary>
        public int CompressionThreshold;
        /// <summary>permessage-deflate: 1 = ask for server_no_context_takeover (no per-connection deflate state, ~256 KiB less each). Default 0.</summary>
        public byte ServerNoContextTakeover;
        /// <summary>permessage-deflate: the largest window the server compresses with, 9..15 (smaller = less memory). Default 15.</summary>
        public int ServerMaxWindowBits;
        /// <summary>Most frames one message may span; more closes the connection with 1009. Default 100000; 0 = no limit.</summary>
        public int MaxFramesPerMessage;
        /// <summary>Keepalive: send a ping every this many ms (both APIs). Default 0 = no keepalive pings.</summary>
        public int PingIntervalMs;
        /// <summary>
        /// Keepalive: a connection from which nothing at all arrives within this many ms after a ping is dead and is
        /// closed (the handler's read fails with close code 1006). Default 0 = the ping interval.
        /// </summary>
        public int PongTimeoutMs;
    }

    /// <summary>A pool of write buffers shared by connections (Fiber's websocket.BufferPool). Callbacks run on handler threads, concurrently.</summary>
    [CStruct("fws_buffer_pool")]
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct FwsBufferPool
    {
        /// <summary>sizeof(fws_buffer_pool).</summary>
        public uint StructSize;
        /// <summary>Returns a buffer of at least size bytes, or NULL to let the write use its own.</summary>
        [CCallback("fws_pool_get_fn", "user", "size")]
        public delegate* unmanaged<void*, nuint, void*> Get;
        /// <summary>Takes back a buffer that get returned.</summary>
        [CCallback("fws_pool_put_fn", "user", "buffer", "size")]
        public delegate* unmanaged<void*, void*, nuint, void> Put;
        /// <summary>Passed to get and put.</summary>
        public void* User;
    }

    /// <summary>A message framed once for many connections (gorilla's PreparedMessage). Owned: fws_prepared_message_free.</summary>
    [CHandle("fws_prepared_message")]
    public struct FwsPreparedMessage { }

    /// <summary>
    /// The callbacks of an event-API route (fws_app_websocket_events), in the style of uWebSockets. Every callback
    /// runs on the event loop thread and must not block; each may be NULL. conn is valid from on_open until
    /// on_close returns. Fill with fws_ws_events_init() first.
    /// </summary>
    [CStruct("fws_ws_events")]
    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct FwsWsEvents
    {
        /// <summary>sizeof(fws_ws_events), set by fws_ws_events_init.</summary>
        public uint StructSize;
        /// <summary>
        /// A connection was upgraded (the 101 response is already on its way). Returns 0; non-zero is a failure: the
        /// route's recover handler runs and the connection closes with 1011 (as for on_message and on_drain).
        /// </summary>
        [CCallback("fws_open_fn", "user", "conn")]
        public delegate* unmanaged<void*, FwsConn*, int> OnOpen;
        /// <summary>A complete message arrived. data is lent: valid only during the call. Returns 0 (non-zero: failure, see on_open).</summary>
        [CCallback("fws_message_fn", "user", "conn", "type", "data:const uint8_t*", "len")]
        public delegate* unmanaged<void*, FwsConn*, int, byte*, nuint, int> OnMessage;
        /// <summary>The send queue drained after backpressure built up (see fws_conn_send). Returns 0 (non-zero: failure).</summary>
        [CCallback("fws_drain_fn", "user", "conn")]
        public delegate* unmanaged<void*, FwsConn*, int> OnDrain;
        /// <summary>
        /// The connection ended: code is the peer's close code (1005 if its close had none), or 1006 when none arrived
        /// (drop, timeout, protocol error), reason its text (lent, not NUL-terminated). Called exactly once.
        /// </summary>
        [CCallback("fws_close_fn", "user", "conn", "code", "reason:const uint8_t*", "reason_len")]
        public delegate* unmanaged<void*, FwsConn*, int, byte*, nuint, void> OnClose;
    }
}
