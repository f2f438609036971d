using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Net;
using System.Threading;
using Fiberws.Handshake;
using Fiberws.Http;
using Fiberws.Routing;
using Fiberws.Transport;
using Fiberws.Transport.Tls;
using Fiberws.WebSockets;

namespace Fiberws.Server
{
    /// <summary>A middleware: returns <see cref="App.Next"/> to continue (Fiber's c.Next()) or an HTTP status to answer with.</summary>
    public delegate int Middleware(Ctx ctx);

    /// <summary>
    /// A fiberws application (Fiber's *fiber.App): middleware and WebSocket routes, served by one event loop that
    /// accepts connections and parses requests, and one thread per WebSocket connection that runs its handler.
    /// <para>
    /// Thread-safety: configure it (Use, WebSocket) from one thread before Start/Listen; after that only Shutdown
    /// and Dispose may be called, from any thread. Middleware and filters run on the event loop thread; a handler
    /// runs on its connection's own thread.
    /// </para>
    /// </summary>
    public sealed class App : IDisposable
    {
        /// <summary>What a middleware returns to pass the request on.</summary>
        public const int Next = 0;

        [ThreadStatic] private static App? t_serving;

        private readonly List<Layer> _layers = new();
        private readonly HashSet<Conn> _conns = new();
        private readonly ManualResetEventSlim _stopped = new(false);
        private EventLoop? _loop;
        private TlsContext? _tls;
        private HandlerThreads? _threads;
        private Thread? _keepAlive;
        internal TrafficCounters Traffic { get; } = new();
        private readonly long[] _refused = new long[8];
        private long _accepted;
        private long _upgraded;
        private int _state; // 0 configuring, 1 running, 2 stopped

        public App(AppOptions? options = null)
        {
            Options = options ?? new AppOptions();
            Options.Validate();
            ThreadSignals.BlockOnFinalizerThread();
        }

        public AppOptions Options { get; }

        /// <summary>The port the app listens on (after Start).</summary>
        public int Port { get; private set; }

        /// <summary>Number of WebSocket connections whose handler is running or finishing.</summary>
        public int ConnectionCount
        {
            get
            {
                lock (_conns)
                {
                    return _conns.Count;
                }
            }
        }

        /// <summary>Registers a middleware for paths under prefix ("/ws" matches "/ws" and "/ws/..."; "/" matches all). Runs in registration order with routes.</summary>
        public void Use(string prefix, Middleware middleware)
        {
            ArgumentNullException.ThrowIfNull(prefix);
            ArgumentNullException.ThrowIfNull(middleware);
            if (!prefix.StartsWith('/'))
            {
                throw new ArgumentException($"middleware prefix '{prefix}' must start with '/'");
            }
            EnsureConfiguring();
            _layers.Add(new Layer(prefix, middleware, null, null, null, null, null));
        }

        /// <summary>Serves WebSocket upgrades on a GET route (app.Get(pattern, websocket.New(handler, config))).</summary>
        public void WebSocket(string pattern, Action<Conn> handler, WebSocketConfig? config = null)
        {
            ArgumentNullException.ThrowIfNull(handler);
            var route = new RoutePattern(pattern);
            config ??= new WebSocketConfig();
            config.Validate();
            EnsureConfiguring();
            _layers.Add(new Layer(null, null, route, handler, null, config, null));
        }

        /// <summary>
        /// Serves WebSocket upgrades on a GET route with the event API: callbacks on the event loop thread instead of
        /// a thread per connection (uWebSockets' model), for many connections.
        /// </summary>
        public void WebSocketEvents(string pattern, WebSocketEvents events, WebSocketConfig? config = null)
        {
            ArgumentNullException.ThrowIfNull(events);
            var route = new RoutePattern(pattern);
            config ??= new WebSocketConfig();
            config.Validate();
            EnsureConfiguring();
            _layers.Add(new Layer(null, null, route, null, events, config, null));
        }

        /// <summary>
        /// Serves plain HTTP GET (and HEAD) requests on a route (Fiber's app.Get(pattern, handler)): the handler runs on
        /// the event loop thread, reads the request through the Ctx and answers with <see cref="Ctx.Send"/>. For small
        /// pages and health checks next to the WebSocket routes; keep it short, the loop serves everyone.
        /// </summary>
        public void Get(string pattern, Action<Ctx> handler)
        {
            ArgumentNullException.ThrowIfNull(handler);
            var route = new RoutePattern(pattern);
            EnsureConfiguring();
            _layers.Add(new Layer(null, null, route, null, null, null, handler));
        }

        /// <summary>Managed bytes allocated so far by the event loop thread (diagnostics and tests).</summary>
        internal long LoopAllocatedBytes => _loop?.AllocatedBytes ?? 0;

        /// <summary>Topic subscriptions of the event API (loop thread only).</summary>
        internal Topics Topics { get; } = new();

        /// <summary>
        /// Sends a message to every event-API connection subscribed to topic, framing it once. Any thread: from
        /// outside the loop the data is copied and published on the loop shortly after. Returns the number of
        /// subscribers it was queued to, or -1 when it was handed to the loop thread.
        /// </summary>
        public unsafe int Publish(string topic, MessageType type, ReadOnlySpan<byte> data)
        {
            ArgumentNullException.ThrowIfNull(topic);
            if (type is not (MessageType.TextMessage or MessageType.BinaryMessage))
            {
                throw new FwsException(ResultCode.ErrInvalidArgument, $"publish takes a text or binary message, not type {(int)type}");
            }
            if (type == MessageType.TextMessage && !System.Text.Unicode.Utf8.IsValid(data))
            {
                throw new FwsException(ResultCode.ErrInvalidArgument, "text message is not valid UTF-8");
            }
            EventLoop loop = _loop ?? throw new InvalidOperationException("the app is not running");
            byte[] frame = new byte[Protocol.FrameHeader.MaxServerHeader + data.Length];
            int headerLength;
            fixed (byte* f = frame)
            {
                headerLength = Protocol.FrameHeader.Write(f, (int)type, fin: true, rsv1: false, data.Length);
            }
            data.CopyTo(frame.AsSpan(headerLength));
            int length = headerLength + data.Length;
            if (!loop.IsLoopThread)
            {
                int payloadLength = data.Length;
                loop.Post(() => PublishFramed(topic, frame, length, payloadLength));
                return -1;
            }
            return PublishFramed(topic, frame, length, data.Length);
        }

        private unsafe int PublishFramed(string topic, byte[] frame, int length, int payloadLength)
        {
            EventConn[] subscribers = Topics.Snapshot(topic);
            Traffic.Sent(payloadLength, subscribers.Length);
            fixed (byte* f = frame)
            {
                foreach (EventConn c in subscribers)
                {
                    c.SendFramed(f, length);
                }
            }
            return subscribers.Length;
        }

        /// <summary>Starts serving in the background on address (":3000", "127.0.0.1:0", "[::1]:8080"); returns the bound port.</summary>
        public int Start(string address) => Start(address, null);

        /// <summary>
        /// Starts serving TLS (wss://, https://) in the background on address; returns the bound port. certFile holds
        /// the PEM certificate chain (server certificate first), keyFile its unencrypted PEM private key. TLS 1.2 and
        /// 1.3 over the system's OpenSSL (libssl.so.3 or 1.1, loaded on first use); ALPN answers http/1.1.
        /// </summary>
        public int StartTls(string address, string certFile, string keyFile)
        {
            ArgumentNullException.ThrowIfNull(certFile);
            ArgumentNullException.ThrowIfNull(keyFile);
            IPEndPoint endpoint = Endpoint.Parse(address);
            TlsContext tls = TlsContext.Create(certFile, keyFile);
            try
            {
                return Start(endpoint, tls);
            }
            catch
            {
                tls.Dispose();
                throw;
            }
        }

        private int Start(string address, TlsContext? tls) => Start(Endpoint.Parse(address), tls);

        private int Start(IPEndPoint endpoint, TlsContext? tls)
        {
            if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
            {
                throw new InvalidOperationException("the app was already started");
            }
            try
            {
                _loop = new EventLoop(this, endpoint, tls);
            }
            catch
            {
                _state = 2;
                _stopped.Set();
                throw;
            }
            _tls = tls;
            Port = _loop.Port;
            _loop.Start();
            return Port;
        }

        /// <summary>Serves on address and blocks until Shutdown is called from another thread (Fiber's Listen).</summary>
        public void Listen(string address)
        {
            Start(address);
            _stopped.Wait();
        }

        /// <summary>Serves TLS on address (see <see cref="StartTls"/>) and blocks until Shutdown is called from another thread.</summary>
        public void ListenTls(string address, string certFile, string keyFile)
        {
            StartTls(address, certFile, keyFile);
            _stopped.Wait();
        }

        /// <summary>
        /// Stops accepting, closes every WebSocket connection with 1001 (going away), and waits up to timeout for the
        /// handlers to return; connections still open then are cut. Returns true when every handler has returned.
        /// Any thread; idempotent.
        /// </summary>
        public bool Shutdown(TimeSpan timeout)
        {
            if (Interlocked.Exchange(ref _state, 2) != 1)
            {
                _stopped.Set();
                return WaitForConnections(TimeSpan.Zero);
            }
            _loop?.Stop();
            Conn[] open;
            lock (_conns)
            {
                open = new Conn[_conns.Count];
                _conns.CopyTo(open);
            }
            // Close frames go to every connection that is not in the middle of a write right now; those that are get
            // theirs when the write is over, retried a few times within the timeout (never waiting on one of them).
            var busy = new List<Conn>();
            foreach (Conn c in open)
            {
                if (!c.TryCloseWithoutWaiting((int)CloseCode.CloseGoingAway))
                {
                    busy.Add(c);
                }
            }
            long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            while (busy.Count > 0 && Environment.TickCount64 < deadline && !WaitForConnections(TimeSpan.FromMilliseconds(Math.Min(50, Math.Max(1, deadline - Environment.TickCount64)))))
            {
                busy.RemoveAll(c => c.TryCloseWithoutWaiting((int)CloseCode.CloseGoingAway));
            }
            bool done = WaitForConnections(TimeSpan.FromMilliseconds(Math.Max(0, deadline - Environment.TickCount64)));
            if (!done)
            {
                lock (_conns)
                {
                    open = new Conn[_conns.Count];
                    _conns.CopyTo(open);
                }
                foreach (Conn c in open)
                {
                    c.Abort();
                }
                done = WaitForConnections(TimeSpan.FromMilliseconds(100) + Options.CloseTimeout);
            }
            _threads?.Stop();
            _tls?.Dispose(); // sessions still alive keep OpenSSL's context referenced
            _stopped.Set();
            Thread? keepAlive;
            lock (_conns)
            {
                keepAlive = _keepAlive;
            }
            if (keepAlive != null && keepAlive != Thread.CurrentThread)
            {
                keepAlive.Join();
            }
            return done;
        }

        public void Dispose()
        {
            Shutdown(TimeSpan.FromSeconds(5));
        }

        /// <summary>True on the app's event loop thread and its handler threads.</summary>
        internal bool IsServingThread => t_serving == this;

        internal void MarkServingThread() => t_serving = this;

        internal void ReportError(string message) => Fiberws.Log.Write(LogLevel.Error, message);

        internal void Log(LogLevel level, string message) => Fiberws.Log.Write(level, message);

        /// <summary>A snapshot of the app's counters (any thread; counters of other threads may lag by a few messages).</summary>
        public AppStats Stats()
        {
            long messagesIn, messagesOut, bytesIn, bytesOut;
            Traffic.Sum(out messagesIn, out messagesOut, out bytesIn, out bytesOut);
            var refused = new long[_refused.Length];
            for (int i = 0; i < refused.Length; i++)
            {
                refused[i] = Interlocked.Read(ref _refused[i]);
            }
            long blocking = ConnectionCount;
            EventLoop? loop = _loop;
            long webSockets = blocking + (loop?.EventSockets ?? 0);
            return new AppStats
            {
                ConnectionsOpen = webSockets + (loop?.HttpConnections ?? 0),
                WebSocketsOpen = webSockets,
                ConnectionsAccepted = Interlocked.Read(ref _accepted),
                WebSocketsOpened = Interlocked.Read(ref _upgraded),
                MessagesIn = messagesIn,
                MessagesOut = messagesOut,
                BytesIn = bytesIn,
                BytesOut = bytesOut,
                Refused = refused,
            };
        }

        internal void CountRefusal(RefusalReason reason) => Interlocked.Increment(ref _refused[(int)reason]);

        internal void CountAccepted() => Interlocked.Increment(ref _accepted);

        /// <summary>
        /// The keepalive thread of blocking connections (started with the first connection whose route has a ping
        /// interval): ticks each such connection a few times per interval, until the app stops.
        /// </summary>
        private void KeepAliveLoop()
        {
            ThreadSignals.BlockHostSignals();
            var batch = new List<Conn>();
            long tick = 1000;
            do
            {
                batch.Clear();
                tick = 1000;
                lock (_conns)
                {
                    foreach (Conn c in _conns)
                    {
                        if (c.HasKeepAlive)
                        {
                            batch.Add(c);
                            tick = Math.Min(tick, Math.Max(10, c.KeepAliveInterval / 4));
                        }
                    }
                }
                long now = Environment.TickCount64;
                foreach (Conn c in batch)
                {
                    try
                    {
                        c.KeepAliveTick(now);
                    }
                    catch (Exception e)
                    {
                        ReportError($"fiberws: keepalive on {c.Route} failed: {e.Message}");
                    }
                }
            }
            while (!_stopped.Wait(TimeSpan.FromMilliseconds(tick)));
        }

        internal void Unregister(Conn conn)
        {
            lock (_conns)
            {
                _conns.Remove(conn);
                Monitor.PulseAll(_conns);
            }
        }

        private bool WaitForConnections(TimeSpan timeout)
        {
            long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            lock (_conns)
            {
                while (_conns.Count > 0)
                {
                    long left = deadline - Environment.TickCount64;
                    if (left <= 0)
                    {
                        return false;
                    }
                    Monitor.Wait(_conns, (int)Math.Min(left, int.MaxValue));
                }
            }
            return true;
        }

        private void EnsureConfiguring()
        {
            if (Volatile.Read(ref _state) != 0)
            {
                throw new InvalidOperationException("routes and middleware must be added before the app starts");
            }
        }

        /// <summary>
        /// The HandshakeTimeout of the first WebSocket route whose pattern matches path, in ms (0 = none). The loop
        /// uses it as soon as a request line arrives, so a slow upgrade is dropped when the time is up, not later.
        /// </summary>
        internal long HandshakeTimeoutFor(string path)
        {
            foreach (Layer layer in _layers)
            {
                if (layer.Route != null && layer.Config != null && layer.Config.HandshakeTimeout > TimeSpan.Zero && layer.Route.Matches(path))
                {
                    return (long)layer.Config.HandshakeTimeout.TotalMilliseconds;
                }
            }
            return 0;
        }

        /// <summary>Routes a parsed request through middleware and routes (on the loop thread).</summary>
        internal Decision Dispatch(HttpRequest request, IPEndPoint? remote, int socket, long acceptedAt)
        {
            var ctx = new Ctx(request, remote, socket);
            bool pathMatchedOtherMethod = false;
            foreach (Layer layer in _layers)
            {
                if (layer.Middleware != null)
                {
                    if (!PrefixMatch.Matches(layer.Prefix!, request.Path))
                    {
                        continue;
                    }
                    int status;
                    try
                    {
                        status = layer.Middleware(ctx);
                    }
                    catch (Exception e)
                    {
                        ReportError($"fiberws: middleware for '{layer.Prefix}' failed: {e.Message}");
                        status = 500;
                    }
                    if (status == Next)
                    {
                        continue;
                    }
                    ctx.ReleaseAttachment();
                    CountRefusal(RefusalReason.Middleware);
                    return Decision.Respond(status < 100 || status > 599 ? 500 : status, null, string.Empty, request.KeepAlive);
                }
                List<KeyValuePair<string, string>>? parameters = layer.Route!.Match(request.Path);
                if (parameters == null)
                {
                    continue;
                }
                bool head = layer.HttpHandler != null && request.Method == "HEAD";
                if (request.Method != "GET" && !head)
                {
                    pathMatchedOtherMethod = true;
                    continue;
                }
                ctx.SetParams(parameters.Count == 0 ? Array.Empty<KeyValuePair<string, string>>() : parameters);
                if (layer.HttpHandler != null)
                {
                    return ServeHttp(layer, ctx, request, head);
                }
                WebSocketConfig config = layer.Config!;
                if (config.Filter != null)
                {
                    bool serve;
                    try
                    {
                        serve = config.Filter(ctx);
                    }
                    catch (Exception e)
                    {
                        ReportError($"fiberws: filter for '{layer.Route.Pattern}' failed: {e.Message}");
                        ctx.ReleaseAttachment();
                        CountRefusal(RefusalReason.Middleware);
                        return Decision.Respond(500, null, string.Empty, request.KeepAlive);
                    }
                    if (!serve)
                    {
                        continue;
                    }
                }
                HandshakeResult hs = WebSocketHandshake.Validate(request, config.Subprotocols, config.Origins,
                    config.EnableCompression ? new DeflateSettings { ServerNoContextTakeover = config.ServerNoContextTakeover, ServerMaxWindowBits = config.ServerMaxWindowBits } : null);
                if (hs.Status != 0)
                {
                    ctx.ReleaseAttachment();
                    CountRefusal(hs.Status switch
                    {
                        403 => RefusalReason.Forbidden,
                        426 => RefusalReason.UpgradeRequired,
                        _ => RefusalReason.BadHandshake,
                    });
                    return Decision.Respond(hs.Status, hs.Error, hs.ExtraHeaders, request.KeepAlive && hs.Status != 400);
                }
                if (config.HandshakeTimeout > TimeSpan.Zero &&
                    Environment.TickCount64 - acceptedAt > (long)config.HandshakeTimeout.TotalMilliseconds)
                {
                    ctx.ReleaseAttachment();
                    CountRefusal(RefusalReason.Timeout);
                    return Decision.Drop();
                }
                Interlocked.Increment(ref _upgraded);
                return Decision.Upgrade(ctx, layer, hs, acceptedAt);
            }
            ctx.ReleaseAttachment();
            CountRefusal(RefusalReason.NotFound);
            if (pathMatchedOtherMethod)
            {
                return Decision.Respond(405, null, "Allow: GET\r\n", request.KeepAlive);
            }
            return Decision.Respond(404, $"Cannot {request.Method} {request.Path}", string.Empty, request.KeepAlive);
        }

        private Decision ServeHttp(Layer layer, Ctx ctx, HttpRequest request, bool head)
        {
            try
            {
                layer.HttpHandler!(ctx);
            }
            catch (Exception e)
            {
                ReportError($"fiberws: HTTP handler for '{layer.Route!.Pattern}' failed: {e.Message}");
                ctx.ReleaseAttachment();
                return Decision.Respond(500, null, string.Empty, request.KeepAlive);
            }
            ctx.ReleaseAttachment();
            Ctx.Reply reply = ctx.Response ?? new Ctx.Reply(200, "text/plain; charset=utf-8", Array.Empty<byte>());
            byte[] response = HttpResponse.BuildContent(reply.Status, reply.ContentType, reply.Body, request.KeepAlive, head);
            return Decision.Raw(response, request.KeepAlive);
        }

        /// <summary>Takes over an upgraded socket: starts its handler thread.</summary>
        internal void StartConnection(EventLoop loop, Decision decision, int fd, ReadOnlySpan<byte> pending, TlsSession? tls)
        {
            Layer layer = decision.Layer!;
            byte[] response = WebSocketHandshake.BuildResponse(decision.Handshake!);
            if (layer.Events != null)
            {
                // Event API: the socket stays on the loop (non-blocking); no thread of its own.
                var eventConn = new EventConn(loop, this, fd, tls, decision.Ctx!, layer.Config!, layer.Events, decision.Handshake!,
                                              layer.Route!.Pattern);
                loop.Adopt(eventConn);
                eventConn.Open(response, pending);
                return;
            }
            // Until the handler thread runs, the caller still owns the descriptor (it closes it if this throws), so the
            // handle must not close it a second time from its finalizer.
            var socket = new SocketFd(fd);
            Conn conn;
            try
            {
                conn = new Conn(this, decision.Ctx!, socket, tls, layer.Config!, decision.Handshake!,
                                response, pending, layer.Handler!, layer.Route!.Pattern, decision.AcceptedAt);
            }
            catch
            {
                socket.SetHandleAsInvalid();
                throw;
            }
            lock (_conns)
            {
                _conns.Add(conn);
                if (conn.HasKeepAlive && _keepAlive == null)
                {
                    _keepAlive = new Thread(KeepAliveLoop) { IsBackground = true, Name = "fiberws-keepalive" };
                    _keepAlive.Start();
                }
            }
            try
            {
                (_threads ??= new HandlerThreads(Options.HandlerStackSize)).Start(conn.Run);
            }
            catch (Exception e)
            {
                ReportError($"fiberws: cannot start a handler thread: {e.Message}");
                Unregister(conn);
                socket.SetHandleAsInvalid();
                throw;
            }
        }

        internal sealed class Layer(string? prefix, Middleware? middleware, RoutePattern? route, Action<Conn>? handler,
                                    WebSocketEvents? events, WebSocketConfig? config, Action<Ctx>? httpHandler)
        {
            public WebSocketEvents? Events { get; } = events;
            public Action<Ctx>? HttpHandler { get; } = httpHandler;
            public string? Prefix { get; } = prefix;
            public Middleware? Middleware { get; } = middleware;
            public RoutePattern? Route { get; } = route;
            public Action<Conn>? Handler { get; } = handler;
            public WebSocketConfig? Config { get; } = config;
        }

        /// <summary>What the loop does with a request: answer it, upgrade it, or drop the connection.</summary>
        internal sealed class Decision
        {
            public int Status { get; private init; }
            public byte[]? Response { get; private init; }
            public bool KeepAlive { get; private init; }
            public Ctx? Ctx { get; private init; }
            public Layer? Layer { get; private init; }
            public HandshakeResult? Handshake { get; private init; }
            public bool IsUpgrade => Layer != null;
            public bool IsDrop { get; private init; }

            public static Decision Respond(int status, string? body, string extraHeaders, bool keepAlive) => new()
            {
                Status = status,
                Response = HttpResponse.Build(status, body, extraHeaders, keepAlive),
                KeepAlive = keepAlive,
            };

            public static Decision Raw(byte[] response, bool keepAlive) => new()
            {
                Status = 200,
                Response = response,
                KeepAlive = keepAlive,
            };

            public static Decision Upgrade(Ctx ctx, Layer layer, HandshakeResult hs, long acceptedAt) =>
                new() { Ctx = ctx, Layer = layer, Handshake = hs, AcceptedAt = acceptedAt };

            public long AcceptedAt { get; private init; }

            public static Decision Drop() => new() { IsDrop = true };
        }
    }
}
