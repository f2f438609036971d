using System;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading;
using Fiberws.Http;
using Fiberws.Server;
using Fiberws.Transport.Tls;

namespace Fiberws.Transport
{
    /// <summary>
    /// The front of the server: one thread running an epoll loop over non-blocking sockets. It accepts
    /// connections, reads and parses request heads, hands each request to the app's router (middleware and
    /// filters run here), answers plain HTTP requests with keep-alive, and passes upgraded sockets on to their
    /// handler threads together with any bytes that followed the handshake. Bounded: a head must fit in
    /// MaxHeaderBytes and arrive within HeaderReadTimeout. With a TLS context every accepted socket speaks TLS: the
    /// handshake runs here too, driven by the first reads, and the session travels with the socket on upgrade.
    /// Thread-safety: everything runs on the loop thread except Stop, which may be called from any thread.
    /// </summary>
    internal sealed unsafe class EventLoop
    {
        private const int MaxEvents = 256;
        private const int ScanIntervalMs = 250;
        private const int DrainTimeoutMs = 2000;
        private const int AcceptPauseMs = 100;
        /// <summary>Connections over the cap still get their 503 (and a drain), up to this many more; beyond, they are closed at once.</summary>
        private const int RefusalHeadroom = 1024;

        private static readonly byte[] s_busy = HttpResponse.Build(503, "Service Unavailable: too many connections",
                                                                     "Retry-After: 1\r\n", keepAlive: false);

        private readonly App _app;
        private readonly int _epoll;
        private readonly int _wake;
        private readonly int _listen;
        private readonly int _maxHead;
        private readonly TlsContext? _tls;
        private object?[] _conns = new object?[1024]; // fd -> HttpConnection or ILoopSocket
        private readonly System.Collections.Generic.List<ILoopSocket> _dirty = new();
        private System.Collections.Generic.List<ILoopSocket> _readAgain = new();
        private System.Collections.Generic.List<ILoopSocket> _readingAgain = new();
        private readonly System.Collections.Concurrent.ConcurrentQueue<Action> _posted = new();
        private int _sockets; // upgraded sockets served by the loop (event API)
        private byte* _readBuffer;
        private int _open;
        private volatile bool _stopping;
        private long _acceptResumeAt; // accepting paused (out of descriptors) until then; 0 = accepting
        private Thread? _thread;

        public EventLoop(App app, IPEndPoint endpoint, TlsContext? tls = null)
        {
            _app = app;
            _tls = tls;
            _maxHead = app.Options.MaxHeaderBytes;
            _epoll = Libc.EpollCreate1(Libc.EPOLL_CLOEXEC);
            if (_epoll < 0)
            {
                throw IoError("epoll_create1");
            }
            _wake = Libc.EventFd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
            if (_wake < 0)
            {
                int e = Libc.Errno;
                Libc.Close(_epoll);
                throw new FwsException(ResultCode.ErrIo, "eventfd failed: " + Libc.Describe(e));
            }
            try
            {
                _listen = OpenListener(endpoint, out int port);
                Port = port;
            }
            catch
            {
                Libc.Close(_wake);
                Libc.Close(_epoll);
                throw;
            }
            Watch(_listen, Libc.EPOLLIN);
            Watch(_wake, Libc.EPOLLIN);
        }

        public int Port { get; }

        /// <summary>Connections that have not upgraded (any thread; a recent value).</summary>
        public int HttpConnections => Volatile.Read(ref _open);

        /// <summary>Event-API WebSocket connections on this loop (any thread; a recent value).</summary>
        public int EventSockets => Volatile.Read(ref _sockets);

        /// <summary>Managed bytes allocated so far by the loop thread (updated each iteration): shows the steady path allocates nothing.</summary>
        public long AllocatedBytes => Volatile.Read(ref _allocatedBytes);

        private long _allocatedBytes;

        /// <summary>Environment.TickCount64 as of the loop's last wake-up (loop thread): timers need no finer clock.</summary>
        public long Now => _now;

        private long _now;

        /// <summary>Size of the receive buffer shared by every event-API socket of this loop.</summary>
        public int ReadBufferSize => SharedReadBufferSize;

        /// <summary>The shared receive buffer; its contents are valid until the loop's next receive.</summary>
        public byte* ReadBuffer => _readBuffer != null ? _readBuffer : (_readBuffer = (byte*)NativeMemory.Alloc(SharedReadBufferSize));

        public bool IsLoopThread => Thread.CurrentThread == _thread;

        private const int SharedReadBufferSize = 256 * 1024;

        /// <summary>Runs an action on the loop thread soon (any thread). Actions posted after the loop stopped are dropped.</summary>
        public void Post(Action action)
        {
            _posted.Enqueue(action);
            ulong one = 1;
            Libc.Write(_wake, &one, sizeof(ulong));
        }

        /// <summary>Queues a socket's Flush for the end of this loop iteration (write batching). Loop thread.</summary>
        public void MarkDirty(ILoopSocket socket) => _dirty.Add(socket);

        /// <summary>
        /// Calls the socket's OnEvents(EPOLLIN) again after this iteration's flush, without waiting for epoll: for a
        /// socket that stopped reading at its per-turn budget with data still buffered (TLS). Loop thread.
        /// </summary>
        public void ReadAgain(ILoopSocket socket) => _readAgain.Add(socket);

        /// <summary>Changes the epoll interest of a loop socket. Loop thread.</summary>
        public void SetInterest(int fd, uint events)
        {
            Libc.EpollEvent ev = default;
            ev.Events = events;
            ev.Data = (ulong)fd;
            Libc.EpollCtl(_epoll, Libc.EPOLL_CTL_MOD, fd, &ev);
        }

        /// <summary>Stops watching a loop socket (before it closes its descriptor). Loop thread.</summary>
        public void Unregister(ILoopSocket socket)
        {
            if (socket.Fd < _conns.Length && _conns[socket.Fd] == socket)
            {
                _conns[socket.Fd] = null;
                _sockets--;
                Libc.EpollCtl(_epoll, Libc.EPOLL_CTL_DEL, socket.Fd, null);
            }
        }

        /// <summary>Starts serving an upgraded socket on the loop (event API). Loop thread.</summary>
        public void Adopt(ILoopSocket socket)
        {
            _conns[socket.Fd] = socket;
            _sockets++;
            Watch(socket.Fd, Libc.EPOLLIN | Libc.EPOLLRDHUP);
        }

        public void Start()
        {
            _thread = new Thread(Run) { IsBackground = true, Name = "fiberws-loop" };
            _thread.Start();
        }

        /// <summary>Stops accepting, closes connections that have not upgraded, and waits for the loop thread to end.</summary>
        public void Stop()
        {
            _stopping = true;
            ulong one = 1;
            Libc.Write(_wake, &one, sizeof(ulong));
            if (_thread != null && _thread != Thread.CurrentThread)
            {
                _thread.Join();
            }
        }

        private static int OpenListener(IPEndPoint endpoint, out int port)
        {
            int family = endpoint.AddressFamily == AddressFamily.InterNetworkV6 ? Libc.AF_INET6 : Libc.AF_INET;
            int fd = Libc.Socket(family, Libc.SOCK_STREAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0);
            if (fd < 0)
            {
                throw IoError("socket");
            }
            Libc.SetIntOption(fd, Libc.SOL_SOCKET, Libc.SO_REUSEADDR, 1);
            if (family == Libc.AF_INET6 && endpoint.Address.Equals(IPAddress.IPv6Any))
            {
                Libc.SetIntOption(fd, Libc.IPPROTO_IPV6, Libc.IPV6_V6ONLY, 0); // ":port" serves IPv4 and IPv6
            }
            byte* addr = stackalloc byte[Endpoint.MaxSockAddr];
            uint len = Endpoint.Encode(endpoint, addr);
            if (Libc.Bind(fd, addr, len) != 0)
            {
                int e = Libc.Errno;
                Libc.Close(fd);
                throw new FwsException(ResultCode.ErrIo, $"bind {endpoint} failed: {Libc.Describe(e)}");
            }
            if (Libc.Listen(fd, 4096) != 0)
            {
                int e = Libc.Errno;
                Libc.Close(fd);
                throw new FwsException(ResultCode.ErrIo, $"listen on {endpoint} failed: {Libc.Describe(e)}");
            }
            port = Endpoint.Local(fd)?.Port ?? endpoint.Port;
            return fd;
        }

        private static FwsException IoError(string call) =>
            new(ResultCode.ErrIo, call + " failed: " + Libc.Describe(Libc.Errno));

        private void Watch(int fd, uint events)
        {
            Libc.EpollEvent ev = default;
            ev.Events = events;
            ev.Data = (ulong)fd;
            if (Libc.EpollCtl(_epoll, Libc.EPOLL_CTL_ADD, fd, &ev) != 0)
            {
                throw IoError("epoll_ctl");
            }
        }

        private void Run()
        {
            ThreadSignals.BlockHostSignals();
            Libc.EpollEvent* events = stackalloc Libc.EpollEvent[MaxEvents];
            _now = Environment.TickCount64;
            long nextScan = _now + ScanIntervalMs;
            _app.MarkServingThread();
            try
            {
                while (!_stopping)
                {
                    int wait = _readAgain.Count > 0 ? 0
                        : _open > 0 || _sockets > 0 || _acceptResumeAt != 0 ? (int)Math.Clamp(nextScan - _now, 0, ScanIntervalMs) : -1;
                    int n = Libc.EpollWait(_epoll, events, MaxEvents, wait);
                    // One clock read per wake-up, not per socket: on some VMs it is a real system call.
                    _now = Environment.TickCount64;
                    if (n < 0 && Libc.Errno != Libc.EINTR)
                    {
                        _app.ReportError("fiberws: epoll_wait failed: " + Libc.Describe(Libc.Errno));
                        break;
                    }
                    for (int i = 0; i < n; i++)
                    {
                        int fd = (int)events[i].Data;
                        if (fd == _listen)
                        {
                            AcceptAll();
                        }
                        else if (fd == _wake)
                        {
                            ulong value;
                            Libc.Read(_wake, &value, sizeof(ulong));
                            RunPosted();
                        }
                        else if (fd < _conns.Length)
                        {
                            object? slot = _conns[fd];
                            if (slot is ILoopSocket socket)
                            {
                                socket.OnEvents(events[i].Events);
                            }
                            else if (slot is HttpConnection conn)
                            {
                                OnReadable(conn);
                            }
                        }
                    }
                    FlushDirty();
                    if (_readAgain.Count > 0)
                    {
                        (_readAgain, _readingAgain) = (_readingAgain, _readAgain);
                        foreach (ILoopSocket socket in _readingAgain)
                        {
                            socket.OnEvents(Libc.EPOLLIN);
                        }
                        _readingAgain.Clear();
                        FlushDirty();
                    }
                    Volatile.Write(ref _allocatedBytes, GC.GetAllocatedBytesForCurrentThread());
                    if ((_open > 0 || _sockets > 0 || _acceptResumeAt != 0) && _now >= nextScan)
                    {
                        ExpireTimeouts();
                        nextScan = _now + ScanIntervalMs;
                    }
                }
            }
            catch (Exception e)
            {
                _app.ReportError("fiberws: event loop failed: " + e);
            }
            finally
            {
                Libc.Close(_listen);
                RunPosted();
                for (int fd = 0; fd < _conns.Length; fd++)
                {
                    if (_conns[fd] is HttpConnection c)
                    {
                        CloseConnection(c);
                    }
                    else if (_conns[fd] is ILoopSocket socket)
                    {
                        socket.OnLoopStopping();
                    }
                }
                NativeMemory.Free(_readBuffer);
                _readBuffer = null;
                Libc.Close(_wake);
                Libc.Close(_epoll);
            }
        }

        private void AcceptAll()
        {
            byte* addr = stackalloc byte[Endpoint.MaxSockAddr];
            while (true)
            {
                uint len = Endpoint.MaxSockAddr;
                int fd = Libc.Accept4(_listen, addr, &len, Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC);
                if (fd < 0)
                {
                    int e = Libc.Errno;
                    if (e == Libc.EINTR)
                    {
                        continue;
                    }
                    if (e != Libc.EAGAIN && e != Libc.ECONNABORTED)
                    {
                        // Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS): the listener would stay readable and
                        // spin the loop, so stop watching it for a moment; pending clients wait in the backlog.
                        _app.Log(LogLevel.Warn, $"fiberws: accept failed ({Libc.Describe(e)}); pausing accepts for {AcceptPauseMs} ms");
                        _acceptResumeAt = Environment.TickCount64 + AcceptPauseMs;
                        SetInterest(_listen, 0);
                    }
                    if (e == Libc.ECONNABORTED)
                    {
                        continue;
                    }
                    return;
                }
                Libc.SetIntOption(fd, Libc.IPPROTO_TCP, Libc.TCP_NODELAY, 1);
                if (fd >= _conns.Length)
                {
                    Array.Resize(ref _conns, Math.Max(fd + 1, _conns.Length * 2));
                }
                long now = Environment.TickCount64;
                long timeout = (long)_app.Options.HeaderReadTimeout.TotalMilliseconds;
                var conn = new HttpConnection(fd, Endpoint.Decode(addr, len), now, timeout > 0 ? now + timeout : long.MaxValue);
                if (_tls != null)
                {
                    try
                    {
                        conn.Tls = new TlsSession(_tls);
                    }
                    catch (FwsException e)
                    {
                        _app.ReportError("fiberws: " + e.Message);
                        Libc.Close(fd);
                        continue;
                    }
                }
                _app.CountAccepted();
                int max = _app.Options.MaxConnections;
                if (max > 0)
                {
                    int total = _open + _sockets + _app.ConnectionCount;
                    if (total >= max + RefusalHeadroom)
                    {
                        conn.Tls?.Dispose();
                        Libc.Close(fd);
                        continue;
                    }
                    if (total >= max)
                    {
                        conn.OverCapacity = true; // its first request is answered 503
                        _app.CountRefusal(RefusalReason.TooManyConnections);
                    }
                }
                _conns[fd] = conn;
                _open++;
                Watch(fd, Libc.EPOLLIN | Libc.EPOLLRDHUP);
            }
        }

        private void OnReadable(HttpConnection conn)
        {
            try
            {
                if (conn.Draining)
                {
                    Drain(conn);
                    return;
                }
                conn.EnsureBuffer(_maxHead);
                // TLS may hold decrypted bytes the socket no longer signals: read until the socket would block.
                do
                {
                    byte* into = conn.Buffer + conn.Length;
                    nuint room = (nuint)(conn.Capacity - conn.Length);
                    nint n = conn.Tls == null ? Libc.Recv(conn.Fd, into, room, 0) : conn.Tls.Recv(conn.Fd, into, room, 0);
                    if (n == 0)
                    {
                        CloseConnection(conn);
                        return;
                    }
                    if (n < 0)
                    {
                        int e = Libc.Errno;
                        if (e != Libc.EAGAIN && e != Libc.EINTR)
                        {
                            if (conn.Tls?.LastError is string tlsError)
                            {
                                _app.Log(LogLevel.Debug, "fiberws: " + tlsError);
                            }
                            CloseConnection(conn);
                            return;
                        }
                        break;
                    }
                    conn.Length += (int)n;
                    Process(conn);
                    if (_conns[conn.Fd] != conn || conn.Draining)
                    {
                        return; // upgraded, closed or answered for good
                    }
                }
                while (conn.Tls != null && conn.Length < conn.Capacity);
                if (conn.Tls != null && conn.Tls.HasPendingOutput != conn.WantWrite)
                {
                    // A handshake flight the socket did not take: go on when it is writable.
                    conn.WantWrite = !conn.WantWrite;
                    SetInterest(conn.Fd, Libc.EPOLLIN | Libc.EPOLLRDHUP | (conn.WantWrite ? Libc.EPOLLOUT : 0));
                }
            }
            catch (Exception e)
            {
                _app.ReportError("fiberws: request failed: " + e.Message);
                if (_conns[conn.Fd] == conn)
                {
                    CloseConnection(conn);
                }
            }
        }

        /// <summary>Parses and answers every complete request in the buffer (pipelining), or hands the socket off on upgrade.</summary>
        private void Process(HttpConnection conn)
        {
            while (true)
            {
                if (conn.SkipBody > 0)
                {
                    int skip = (int)Math.Min(conn.SkipBody, conn.Length);
                    conn.Consume(skip);
                    conn.SkipBody -= skip;
                    if (conn.SkipBody > 0)
                    {
                        return;
                    }
                }
                if (conn.Length == 0)
                {
                    return;
                }
                var input = new ReadOnlySpan<byte>(conn.Buffer, conn.Length);
                ParseStatus status = HttpParser.TryParse(input, _maxHead, out HttpRequest? request, out int consumed, out RejectReason reason);
                if (status == ParseStatus.Incomplete)
                {
                    TightenHandshakeDeadline(conn, input);
                    return;
                }
                if (status == ParseStatus.Rejected)
                {
                    _app.CountRefusal(RefusalReason.BadRequest);
                    int code = HttpParser.StatusFor(reason);
                    Respond(conn, HttpResponse.Build(code, $"{HttpResponse.ReasonPhrase(code)}: {reason}", string.Empty, keepAlive: false), keepAlive: false);
                    return;
                }
                conn.Consume(consumed);
                if (conn.OverCapacity)
                {
                    Respond(conn, s_busy, keepAlive: false);
                    return;
                }
                App.Decision decision = _app.Dispatch(request!, conn.Remote, conn.Fd, conn.AcceptedAt);
                if (decision.IsDrop)
                {
                    CloseConnection(conn);
                    return;
                }
                if (decision.IsUpgrade)
                {
                    HandOff(conn, decision);
                    return;
                }
                conn.SkipBody = request!.ContentLength;
                conn.Served = true;
                if (!Respond(conn, decision.Response!, decision.KeepAlive))
                {
                    return;
                }
                // Keep-alive: the next request gets a fresh head-read deadline.
                long timeout = (long)_app.Options.HeaderReadTimeout.TotalMilliseconds;
                conn.Deadline = timeout > 0 ? Environment.TickCount64 + timeout : long.MaxValue;
                conn.AcceptedAt = Environment.TickCount64;
                conn.RouteChecked = false;
            }
        }

        /// <summary>Once the request line is in, a WebSocket route's HandshakeTimeout may bound the connection sooner.</summary>
        private void TightenHandshakeDeadline(HttpConnection conn, ReadOnlySpan<byte> input)
        {
            if (conn.RouteChecked)
            {
                return;
            }
            int lf = input.IndexOf((byte)'\n');
            if (lf < 0)
            {
                return;
            }
            conn.RouteChecked = true;
            ReadOnlySpan<byte> line = input.Slice(0, lf);
            int sp1 = line.IndexOf((byte)' ');
            int sp2 = sp1 < 0 ? -1 : line.Slice(sp1 + 1).IndexOf((byte)' ');
            if (sp2 <= 0)
            {
                return;
            }
            string target = System.Text.Encoding.ASCII.GetString(line.Slice(sp1 + 1, sp2));
            int q = target.IndexOf('?');
            long timeout = _app.HandshakeTimeoutFor(q < 0 ? target : target.Substring(0, q));
            if (timeout > 0)
            {
                conn.Deadline = Math.Min(conn.Deadline, conn.AcceptedAt + timeout);
            }
        }

        /// <summary>Sends a small answer. Returns false when the connection is no longer open for more requests.</summary>
        private bool Respond(HttpConnection conn, byte[] response, bool keepAlive)
        {
            fixed (byte* p = response)
            {
                const int flags = Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT;
                nint sent = conn.Tls == null ? Libc.Send(conn.Fd, p, (nuint)response.Length, flags)
                    : conn.Tls.Send(conn.Fd, p, (nuint)response.Length, flags);
                if (sent != response.Length || (conn.Tls?.HasPendingOutput ?? false))
                {
                    // A client that does not read our few hundred bytes is not worth buffering for.
                    CloseConnection(conn);
                    return false;
                }
            }
            if (!keepAlive)
            {
                // Half-close and read until the client closes, so the answer is not destroyed by a reset.
                conn.Tls?.SendCloseNotify(conn.Fd);
                Libc.Shutdown(conn.Fd, Libc.SHUT_WR);
                if (conn.WantWrite)
                {
                    conn.WantWrite = false; // a half-closed socket is always writable: EPOLLOUT would spin the drain
                    SetInterest(conn.Fd, Libc.EPOLLIN | Libc.EPOLLRDHUP);
                }
                conn.Draining = true;
                conn.Deadline = Environment.TickCount64 + DrainTimeoutMs;
                conn.Length = 0;
                return false;
            }
            return true;
        }

        private void Drain(HttpConnection conn)
        {
            byte* scratch = stackalloc byte[1024];
            nint n = Libc.Recv(conn.Fd, scratch, 1024, Libc.MSG_DONTWAIT);
            if (n == 0 || (n < 0 && Libc.Errno != Libc.EAGAIN && Libc.Errno != Libc.EINTR))
            {
                CloseConnection(conn);
            }
        }

        private void HandOff(HttpConnection conn, App.Decision decision)
        {
            int fd = conn.Fd;
            Libc.EpollCtl(_epoll, Libc.EPOLL_CTL_DEL, fd, null);
            _conns[fd] = null;
            _open--;
            TlsSession? tls = conn.Tls;
            conn.Tls = null; // the WebSocket connection owns it from here
            try
            {
                _app.StartConnection(this, decision, fd, new ReadOnlySpan<byte>(conn.Buffer, conn.Length), tls);
            }
            catch (Exception)
            {
                Libc.Close(fd);
                tls?.Dispose();
            }
            finally
            {
                conn.FreeBuffer();
            }
        }

        private void ExpireTimeouts()
        {
            long now = Environment.TickCount64;
            for (int fd = 0; fd < _conns.Length; fd++)
            {
                object? slot = _conns[fd];
                if (slot is HttpConnection c && now >= c.Deadline)
                {
                    if (!c.Draining && (c.Length > 0 || !c.Served))
                    {
                        _app.CountRefusal(RefusalReason.Timeout);
                    }
                    CloseConnection(c);
                }
                else if (slot is ILoopSocket socket)
                {
                    socket.OnTick(now);
                }
            }
            FlushDirty();
            if (_acceptResumeAt != 0 && now >= _acceptResumeAt)
            {
                _acceptResumeAt = 0;
                SetInterest(_listen, Libc.EPOLLIN);
                AcceptAll();
            }
        }

        private void FlushDirty()
        {
            // Flushing may queue more (a drain callback sends): loop until nothing is dirty.
            for (int i = 0; i < _dirty.Count; i++)
            {
                try
                {
                    _dirty[i].Flush();
                }
                catch (Exception e)
                {
                    _app.ReportError("fiberws: flush failed: " + e.Message);
                }
            }
            _dirty.Clear();
        }

        private void RunPosted()
        {
            while (_posted.TryDequeue(out Action? action))
            {
                try
                {
                    action();
                }
                catch (Exception e)
                {
                    _app.ReportError("fiberws: posted action failed: " + e.Message);
                }
            }
        }

        private void CloseConnection(HttpConnection conn)
        {
            _conns[conn.Fd] = null;
            _open--;
            Libc.EpollCtl(_epoll, Libc.EPOLL_CTL_DEL, conn.Fd, null);
            Libc.Close(conn.Fd);
            conn.FreeBuffer();
            conn.Tls?.Dispose();
            conn.Tls = null;
        }

        /// <summary>A connection that has not upgraded yet: its head buffer and deadlines. Loop thread only.</summary>
        private sealed class HttpConnection(int fd, IPEndPoint? remote, long acceptedAt, long deadline)
        {
            public int Fd { get; } = fd;
            public IPEndPoint? Remote { get; } = remote;
            public long AcceptedAt { get; set; } = acceptedAt;
            public long Deadline { get; set; } = deadline;
            public byte* Buffer { get; private set; }
            public int Capacity { get; private set; }
            public int Length { get; set; }
            public long SkipBody { get; set; }
            public bool Draining { get; set; }
            public bool RouteChecked { get; set; }
            public bool WantWrite { get; set; }
            public bool OverCapacity { get; set; }
            public bool Served { get; set; } // answered a request already (an idle keep-alive expiring is no refusal)
            public TlsSession? Tls { get; set; }

            public void EnsureBuffer(int maxHead)
            {
                if (Buffer == null)
                {
                    // One byte past the limit, so a head that is too large is seen as such.
                    Capacity = maxHead + 1;
                    Buffer = (byte*)NativeMemory.Alloc((nuint)Capacity);
                }
            }

            public void Consume(int count)
            {
                Length -= count;
                if (Length > 0)
                {
                    System.Buffer.MemoryCopy(Buffer + count, Buffer, Capacity, Length);
                }
            }

            public void FreeBuffer()
            {
                NativeMemory.Free(Buffer);
                Buffer = null;
                Capacity = 0;
                Length = 0;
            }
        }
    }
}
