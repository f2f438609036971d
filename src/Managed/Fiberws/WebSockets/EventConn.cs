using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Unicode;
using Fiberws.Protocol;
using Fiberws.Server;
using Fiberws.Transport;
using Fiberws.Transport.Tls;

namespace Fiberws.WebSockets
{
    /// <summary>
    /// A WebSocket connection served by the event API, in the style of uWebSockets: it lives on the event loop,
    /// reads are delivered to <see cref="WebSocketEvents.OnMessage"/>, and sends never block: they are queued, sent
    /// in one batch per loop iteration, and what the kernel does not take stays buffered (backpressure). A route's
    /// MaxBackpressure bounds that buffer: a send that would exceed it is dropped, and by default the slow client is
    /// disconnected. Topics give publish/subscribe with each message framed once.
    /// <para>
    /// Thread-safety: meant for the loop thread (inside the callbacks). Calls from other threads are safe: sends,
    /// closes and subscriptions are then copied and run on the loop shortly after (their result is FWS_OK once queued).
    /// </para>
    /// </summary>
    public sealed unsafe class EventConn : WebSocketConnection, ILoopSocket
    {
        private const int DirectSendThreshold = 16 * 1024;
        private const long KeepOutBuffer = 64 * 1024;

        private readonly EventLoop _loop;
        private readonly App _app;
        private readonly WebSocketEvents _events;
        private readonly WebSocketConfig _config;
        private MessageReader? _reader; // created at the first bytes received: an idle connection has none
        private long _readLimit;
        private readonly TlsSession? _tls;
        private NativeBuffer _out;
        private long _outSent;
        private bool _wantWrite;
        private bool _dirty;
        private bool _backpressured;
        private bool _closeSent;
        private bool _terminated;
        private bool _opened;
        private bool _inMessageCallback;
        private int _closeCodeReceived;
        private string _closeTextReceived = string.Empty;
        private long _lastActivity;
        private bool _pingSent;
        private long _pingSentAt;
        private long _closeDeadline;
        private long _keepAliveNextPing;
        private List<string>? _topics;

        internal EventConn(EventLoop loop, App app, int fd, TlsSession? tls, Ctx ctx, WebSocketConfig config, WebSocketEvents events,
                           Handshake.HandshakeResult handshake, string route)
            : base(ctx, handshake.Subprotocol, route)
        {
            _loop = loop;
            _app = app;
            Fd = fd;
            _tls = tls;
            _config = config;
            _events = events;
            _readLimit = config.ReadLimit;
            InitCompression(handshake.Deflate, config, null);
            _lastActivity = Environment.TickCount64;
        }

        public int Fd { get; }

        public override int CloseCodeReceived => _closeCodeReceived;

        public override string CloseTextReceived => _closeTextReceived;

        /// <summary>Bytes queued but not yet taken by the kernel (uWS getBufferedAmount).</summary>
        public override long BufferedAmount => _out.Length - _outSent;

        /// <summary>True once the connection has ended (OnClose ran).</summary>
        public bool IsClosed => _terminated;

        public override void SetReadLimit(long limit)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(limit);
            _readLimit = limit;
            if (_reader != null)
            {
                _reader.ReadLimit = limit;
            }
        }

        /// <summary>Starts the connection on the loop: queues the 101 response, runs OnOpen, then the bytes that came with the handshake.</summary>
        internal void Open(byte[] handshakeResponse, ReadOnlySpan<byte> pending)
        {
            fixed (byte* p = handshakeResponse)
            {
                Append(p, handshakeResponse.Length);
            }
            Flush(); // the 101 goes out before on_open, so sends there cannot count it against max_backpressure
            if (_terminated)
            {
                return;
            }
            if (_out.Length == 0)
            {
                _out.Free(); // an idle connection holds no send buffer; the first message allocates it again
            }
            _opened = true;
            Invoke(() => _events.OnOpen?.Invoke(this));
            if (!pending.IsEmpty && !_terminated)
            {
                byte[] copy = pending.ToArray();
                fixed (byte* p = copy)
                {
                    Process(p, copy.Length);
                }
            }
            if (_tls != null && !_terminated)
            {
                Receive(); // records already inside the TLS session would never make the socket readable again
            }
        }

        // ---- sending ------------------------------------------------------------------------------------------

        /// <summary>
        /// Queues a message (uWS send). Returns Ok when queued or sent; ErrBackpressure when the buffered bytes already
        /// exceed the route's MaxBackpressure (the message is dropped; the connection is closed too unless the route
        /// says otherwise); ErrCloseSent / ErrClosed after close.
        /// </summary>
        public ResultCode TrySend(MessageType type, byte* data, long length)
        {
            if (type is not (MessageType.TextMessage or MessageType.BinaryMessage))
            {
                return type is MessageType.PingMessage or MessageType.PongMessage or MessageType.CloseMessage
                    ? TryWriteControl(type, data, length)
                    : Fail(ResultCode.ErrInvalidArgument, $"unknown message type {(int)type}");
            }
            if (length < 0 || (data == null && length != 0))
            {
                return Fail(ResultCode.ErrInvalidArgument, "data is NULL or length is negative");
            }
            if (type == MessageType.TextMessage && !Utf8.IsValid(new ReadOnlySpan<byte>(data, (int)Math.Min(length, int.MaxValue))))
            {
                return Fail(ResultCode.ErrInvalidArgument, "text message is not valid UTF-8 (send it as binary)");
            }
            if (!_loop.IsLoopThread)
            {
                PostSend((int)type, new ReadOnlySpan<byte>(data, (int)length).ToArray());
                return ResultCode.Ok;
            }
            return SendFrame((int)type, data, length);
        }

        /// <summary>
        /// A send from outside the loop: the copy is sent on the loop. Kept out of the senders so that their hot path
        /// does not pay for this lambda's closure (the compiler allocates it on entry to the method that declares it).
        /// </summary>
        private void PostSend(int opcode, byte[] copy)
        {
            _loop.Post(() =>
            {
                fixed (byte* p = copy)
                {
                    SendFrame(opcode, p, copy.Length);
                }
            });
        }

        public override ResultCode TryWriteMessage(MessageType type, byte* data, long length) => TrySend(type, data, length);

        public override ResultCode TryWriteControl(MessageType type, byte* data, long length, int timeoutMs = 0)
        {
            if (type is not (MessageType.PingMessage or MessageType.PongMessage or MessageType.CloseMessage))
            {
                return Fail(ResultCode.ErrInvalidArgument, $"message type {(int)type} is not a control type (8, 9 or 10)");
            }
            if (length < 0 || length > 125 || (data == null && length != 0))
            {
                return Fail(ResultCode.ErrInvalidArgument, "control frame payload must be 0..125 bytes");
            }
            var payload = new ReadOnlySpan<byte>(data, (int)length);
            if (type == MessageType.CloseMessage)
            {
                int code = payload.Length >= 2 ? payload[0] << 8 | payload[1] : CloseFrame.NoStatusReceived;
                if (payload.Length == 1)
                {
                    return Fail(ResultCode.ErrInvalidArgument, "a close payload needs a 2-byte code");
                }
                return TryClose(code, Encoding.UTF8.GetString(payload.Length >= 2 ? payload.Slice(2) : default));
            }
            if (!_loop.IsLoopThread)
            {
                PostSend((int)type, payload.ToArray());
                return ResultCode.Ok;
            }
            return SendFrame((int)type, data, length);
        }

        public override ResultCode TryClose(int code, string reason)
        {
            byte[] reasonBytes = Encoding.UTF8.GetBytes(reason ?? string.Empty);
            string? invalid = CloseFrame.CheckOutgoing(code, reasonBytes);
            if (invalid != null)
            {
                return Fail(ResultCode.ErrInvalidArgument, invalid);
            }
            if (!_loop.IsLoopThread)
            {
                PostClose(code, reasonBytes);
                return ResultCode.Ok;
            }
            StartClose(code, reasonBytes);
            return ResultCode.Ok;
        }

        public override ResultCode TryWritePrepared(PreparedMessage message)
        {
            ArgumentNullException.ThrowIfNull(message);
            if (!_loop.IsLoopThread)
            {
                PostPrepared(message);
                return ResultCode.Ok;
            }
            if (_terminated)
            {
                return Fail(ResultCode.ErrClosed, "websocket: connection is closed");
            }
            if (_closeSent)
            {
                return _terminated ? Fail(ResultCode.ErrClosed, "websocket: connection is closed") : Fail(ResultCode.ErrCloseSent, "websocket: close sent");
            }
            if (!CheckBackpressure(message.Frame.Length))
            {
                return Fail(ResultCode.ErrBackpressure, "websocket: backpressure limit exceeded");
            }
            fixed (byte* p = message.Frame)
            {
                Append(p, message.Frame.Length);
            }
            if (!Opcode.IsControl((int)message.Type))
            {
                _app.Traffic.Sent(message.PayloadLength);
            }
            return ResultCode.Ok;
        }

        private void PostClose(int code, byte[] reason) => _loop.Post(() => StartClose(code, reason));

        private void PostPrepared(PreparedMessage message) => _loop.Post(() => TryWritePrepared(message));

        /// <summary>Subscribes to a topic; returns false if already subscribed.</summary>
        public bool Subscribe(string topic)
        {
            ArgumentNullException.ThrowIfNull(topic);
            if (!_loop.IsLoopThread)
            {
                _loop.Post(() => Subscribe(topic));
                return true;
            }
            if (_terminated || !_app.Topics.Subscribe(topic, this))
            {
                return false;
            }
            (_topics ??= new List<string>()).Add(topic);
            return true;
        }

        /// <summary>Unsubscribes from a topic; returns false if not subscribed.</summary>
        public bool Unsubscribe(string topic)
        {
            ArgumentNullException.ThrowIfNull(topic);
            if (!_loop.IsLoopThread)
            {
                _loop.Post(() => Unsubscribe(topic));
                return true;
            }
            if (!_app.Topics.Unsubscribe(topic, this))
            {
                return false;
            }
            _topics?.Remove(topic);
            return true;
        }

        /// <summary>Queues an already framed message (publish: framed once, queued to every subscriber).</summary>
        internal void SendFramed(byte* frame, int length)
        {
            if (_terminated || _closeSent || !CheckBackpressure(length))
            {
                return;
            }
            Append(frame, length);
        }

        private ResultCode SendFrame(int opcode, byte* data, long length)
        {
            if (_terminated)
            {
                return Fail(ResultCode.ErrClosed, "websocket: connection is closed");
            }
            if (_closeSent)
            {
                return _terminated ? Fail(ResultCode.ErrClosed, "websocket: connection is closed") : Fail(ResultCode.ErrCloseSent, "websocket: close sent");
            }
            if (!CheckBackpressure(length))
            {
                return Fail(ResultCode.ErrBackpressure,
                    $"websocket: {BufferedAmount} bytes already buffered, over the route's max_backpressure of {_config.MaxBackpressure}");
            }
            if (!Opcode.IsControl(opcode))
            {
                _app.Traffic.Sent(length);
            }
            bool rsv1 = false;
            if (_compression != null && !Opcode.IsControl(opcode) && _compression.TryCompress(data, length, out byte* packed, out long packedLength))
            {
                data = packed;
                length = packedLength;
                rsv1 = true;
            }
            byte* header = stackalloc byte[FrameHeader.MaxServerHeader];
            int headerLength = FrameHeader.Write(header, opcode, fin: true, rsv1, length);
            if (BufferedAmount == 0 && length >= DirectSendThreshold)
            {
                // Nothing queued: gather header and payload straight to the kernel, queue only the rest.
                long sent = SendDirect(header, headerLength, data, length);
                if (sent < 0)
                {
                    return Fail(ResultCode.ErrClosed, "websocket: connection is closed");
                }
                if (sent < headerLength)
                {
                    Append(header + sent, (int)(headerLength - sent));
                    Append(data, length);
                }
                else if (sent < headerLength + length)
                {
                    Append(data + (sent - headerLength), length - (sent - headerLength));
                }
                return ResultCode.Ok;
            }
            Append(header, headerLength);
            Append(data, length);
            return ResultCode.Ok;
        }

        private bool CheckBackpressure(long length)
        {
            long limit = _config.MaxBackpressure;
            if (limit <= 0 || BufferedAmount <= limit)
            {
                return true;
            }
            if (_config.CloseOnBackpressureLimit)
            {
                Terminate(CloseFrame.AbnormalClosure, "slow client: backpressure limit exceeded");
            }
            return false;
        }

        private void Append(byte* data, long length)
        {
            if (length == 0)
            {
                return;
            }
            _out.Reserve(length);
            Buffer.MemoryCopy(data, _out.Ptr + _out.Length, _out.Capacity - _out.Length, length);
            _out.Length += length;
            if (!_dirty)
            {
                _dirty = true;
                _loop.MarkDirty(this);
            }
        }

        private long SendDirect(byte* header, int headerLength, byte* data, long length)
        {
            if (_tls != null)
            {
                return 0; // TLS encrypts from the queue: nothing is saved by gathering here
            }
            Libc.IoVec* iov = stackalloc Libc.IoVec[2];
            iov[0].Base = header;
            iov[0].Length = (nuint)headerLength;
            iov[1].Base = data;
            iov[1].Length = (nuint)length;
            Libc.MsgHdr msg = default;
            msg.Iov = iov;
            msg.IovLen = 2;
            nint n = Libc.SendMsg(Fd, &msg, Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT);
            if (n >= 0)
            {
                return n;
            }
            int errno = Libc.Errno;
            if (errno == Libc.EAGAIN || errno == Libc.EINTR)
            {
                return 0;
            }
            Terminate(CloseFrame.AbnormalClosure, "write failed: " + Libc.Describe(errno));
            return -1;
        }

        /// <summary>Writes the queue to the kernel; on EAGAIN waits for EPOLLOUT. Loop thread.</summary>
        public void Flush()
        {
            _dirty = false;
            while (_outSent < _out.Length && !_terminated)
            {
                const int flags = Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT;
                byte* from = _out.Ptr + _outSent;
                nuint count = (nuint)(_out.Length - _outSent);
                nint n = _tls == null ? Libc.Send(Fd, from, count, flags) : _tls.Send(Fd, from, count, flags);
                if (n > 0)
                {
                    _outSent += n;
                    continue;
                }
                int errno = n < 0 ? Libc.Errno : Libc.EAGAIN;
                if (errno == Libc.EINTR)
                {
                    continue;
                }
                if (errno == Libc.EAGAIN)
                {
                    _backpressured = true;
                    if (!_wantWrite)
                    {
                        _wantWrite = true;
                        _loop.SetInterest(Fd, Libc.EPOLLIN | Libc.EPOLLOUT | Libc.EPOLLRDHUP);
                    }
                    return;
                }
                Terminate(CloseFrame.AbnormalClosure, "write failed: " + Libc.Describe(errno));
                return;
            }
            if (_terminated)
            {
                return;
            }
            if (_tls != null && _tls.HasPendingOutput && !FlushTls())
            {
                return;
            }
            _out.Length = 0;
            _outSent = 0;
            if (_out.Capacity > KeepOutBuffer)
            {
                _out.Free(); // a burst is over: do not keep its buffer for the idle connection
            }
            if (_wantWrite)
            {
                _wantWrite = false;
                _loop.SetInterest(Fd, Libc.EPOLLIN | Libc.EPOLLRDHUP);
            }
            if (_backpressured)
            {
                _backpressured = false;
                Invoke(() => _events.OnDrain?.Invoke(this));
            }
            if (_closeSent && _closeCodeReceived != 0)
            {
                Terminate(_closeCodeReceived, _closeTextReceived); // closing handshake done and flushed: server closes TCP first
            }
        }

        /// <summary>Sends the TLS records still pending; false when the socket is full (EPOLLOUT awaited) or failed.</summary>
        private bool FlushTls()
        {
            if (_tls!.Flush(Fd, Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT))
            {
                return true;
            }
            int errno = Libc.Errno;
            if (errno == Libc.EAGAIN)
            {
                _backpressured = true;
                if (!_wantWrite)
                {
                    _wantWrite = true;
                    _loop.SetInterest(Fd, Libc.EPOLLIN | Libc.EPOLLOUT | Libc.EPOLLRDHUP);
                }
            }
            else
            {
                Terminate(CloseFrame.AbnormalClosure, "write failed: " + Libc.Describe(errno));
            }
            return false;
        }

        // ---- receiving ----------------------------------------------------------------------------------------

        public void OnEvents(uint events)
        {
            if ((events & Libc.EPOLLOUT) != 0)
            {
                Flush();
            }
            // TLS: a read that stopped because OpenSSL's output was full goes on once that output has left.
            bool readable = (events & (Libc.EPOLLIN | Libc.EPOLLHUP | Libc.EPOLLERR | Libc.EPOLLRDHUP)) != 0 ||
                            (_tls != null && (events & Libc.EPOLLOUT) != 0);
            if (readable && !_terminated)
            {
                Receive();
            }
        }

        /// <summary>
        /// Reads what the socket has. A plain socket is read once per readiness event (epoll is level-triggered). TLS
        /// reads until the socket would block, since decrypted data can wait inside the session unsignalled, but at
        /// most one read buffer's worth per turn: then the loop flushes the replies and calls again.
        /// </summary>
        private void Receive()
        {
            long budget = _loop.ReadBufferSize;
            while (!_terminated)
            {
                if (budget <= 0)
                {
                    _loop.ReadAgain(this);
                    return;
                }
                // Inside a large payload: receive straight into the message.
                bool direct = Reader.TryGetDirectTarget(_loop.ReadBufferSize, out byte* target, out int room);
                byte* into = direct ? target : _loop.ReadBuffer;
                nuint size = (nuint)(direct ? room : _loop.ReadBufferSize);
                nint n = _tls == null ? Libc.Recv(Fd, into, size, 0) : _tls.Recv(Fd, into, size, 0);
                if (n > 0)
                {
                    _lastActivity = _loop.Now;
                    _pingSent = false;
                    budget -= n;
                    if (direct)
                    {
                        Handle(Reader.CommitDirect((int)n));
                    }
                    else
                    {
                        Process(into, (int)n);
                    }
                    if (_tls == null)
                    {
                        return;
                    }
                    continue;
                }
                if (n < 0)
                {
                    int errno = Libc.Errno;
                    if (errno == Libc.EAGAIN || errno == Libc.EINTR)
                    {
                        if (_tls != null && _tls.HasPendingOutput && !_wantWrite)
                        {
                            FlushTls();
                        }
                        return;
                    }
                    if (errno == Libc.EPROTO && _tls?.LastError is string tlsError)
                    {
                        _app.Log(LogLevel.Debug, $"fiberws: {Route}: {tlsError}");
                    }
                }
                Terminate(_closeCodeReceived != 0 ? _closeCodeReceived : CloseFrame.AbnormalClosure,
                          _closeCodeReceived != 0 ? _closeTextReceived : "connection dropped");
                return;
            }
        }

        /// <summary>The frame reader, created with the first bytes received (loop thread).</summary>
        private MessageReader Reader => _reader ??= new MessageReader
        {
            ReadLimit = _readLimit,
            MaxFrames = _config.MaxFramesPerMessage,
            Inflater = CreateInflater(),
        };

        private void Process(byte* data, int length)
        {
            int pos = 0;
            while (pos < length && !_terminated)
            {
                ReadStatus status = Reader.FeedInPlace(new Span<byte>(data + pos, length - pos), out int consumed);
                pos += consumed;
                if (status == ReadStatus.NeedMore)
                {
                    return;
                }
                Handle(status);
            }
        }

        private void Handle(ReadStatus status)
        {
            switch (status)
            {
                case ReadStatus.Message:
                    if (!_closeSent)
                    {
                        var type = (MessageType)Reader.MessageOpcode;
                        byte* p = Reader.MessagePointer;
                        int len = (int)Reader.MessageLength;
                        _app.Traffic.Received(len);
                        MessageCallback? onMessage = _events.OnMessage;
                        if (onMessage != null)
                        {
                            _inMessageCallback = true;
                            try
                            {
                                onMessage(this, type, new ReadOnlySpan<byte>(p, len));
                            }
                            catch (Exception e)
                            {
                                Fault(e);
                            }
                            finally
                            {
                                _inMessageCallback = false;
                                if (_terminated)
                                {
                                    _reader?.Dispose(); // deferred by Terminate: the callback was reading the message
                                }
                            }
                        }
                    }
                    break;
                case ReadStatus.Control:
                    HandleControl();
                    break;
                case ReadStatus.Error:
                    byte[] reason = Encoding.UTF8.GetBytes(Reader.ErrorReason.Length > 100 ? Reader.ErrorReason.Substring(0, 100) : Reader.ErrorReason);
                    int code = Reader.ErrorCode;
                    _closeCodeReceived = CloseFrame.AbnormalClosure;
                    SendCloseFrame(code, reason);
                    Flush();
                    Terminate(code, Reader.ErrorReason);
                    break;
            }
        }

        private void HandleControl()
        {
            ReadOnlySpan<byte> payload = Reader.Control;
            switch (Reader.ControlOpcode)
            {
                case Opcode.Ping:
                    if (!_closeSent)
                    {
                        fixed (byte* p = payload)
                        {
                            SendFrame(Opcode.Pong, p, payload.Length);
                        }
                    }
                    break;
                case Opcode.Pong:
                    break;
                default:
                    string? invalid = CloseFrame.Parse(payload, out int code, out string reason);
                    if (invalid != null)
                    {
                        SendCloseFrame(CloseFrame.ProtocolError, Encoding.UTF8.GetBytes(invalid));
                        Flush();
                        Terminate(CloseFrame.ProtocolError, invalid);
                        return;
                    }
                    _closeCodeReceived = code;
                    _closeTextReceived = reason;
                    if (!_closeSent)
                    {
                        SendCloseFrame(code, ReadOnlySpan<byte>.Empty); // echo the peer's code
                    }
                    Flush(); // terminates once the echo is out
                    if (!_terminated && !_wantWrite)
                    {
                        Terminate(code, reason);
                    }
                    break;
            }
        }

        private void StartClose(int code, byte[] reason)
        {
            if (_terminated || _closeSent)
            {
                return;
            }
            SendCloseFrame(code, reason);
            long timeout = (long)_app.Options.CloseTimeout.TotalMilliseconds;
            _closeDeadline = Environment.TickCount64 + Math.Max(timeout, 1);
        }

        private void SendCloseFrame(int code, ReadOnlySpan<byte> reason)
        {
            if (_closeSent)
            {
                return;
            }
            byte* payload = stackalloc byte[125];
            int length = CloseFrame.Format(code, reason, new Span<byte>(payload, 125));
            SendFrame(Opcode.Close, payload, length);
            _closeSent = true;
        }

        // ---- timers and the end -------------------------------------------------------------------------------

        public void OnTick(long now)
        {
            if (_terminated)
            {
                return;
            }
            if (_closeSent && _closeDeadline > 0 && now >= _closeDeadline)
            {
                Terminate(_closeCodeReceived != 0 ? _closeCodeReceived : CloseFrame.AbnormalClosure, "close timeout");
                return;
            }
            if (_config.PingIntervalMs > 0 && KeepAliveTick(now))
            {
                return;
            }
            long idle = (long)_config.IdleTimeout.TotalMilliseconds;
            if (idle <= 0)
            {
                return;
            }
            long quiet = now - _lastActivity;
            if (_config.SendPingsAutomatically)
            {
                // Ping once the client has been quiet for half the timeout; drop it only when it then stays quiet
                // for another half since the ping, so a live client always gets its chance to answer.
                if (!_pingSent && quiet >= idle / 2)
                {
                    _pingSent = true;
                    _pingSentAt = now;
                    SendFrame(Opcode.Ping, null, 0);
                }
                else if (_pingSent && quiet >= idle && now - _pingSentAt >= idle / 2)
                {
                    Terminate(CloseFrame.AbnormalClosure, "idle timeout");
                }
            }
            else if (quiet >= idle)
            {
                Terminate(CloseFrame.AbnormalClosure, "idle timeout");
            }
        }

        /// <summary>
        /// Keepalive (PingInterval): a ping every interval; when nothing at all arrived within the pong timeout after it
        /// (receiving anything clears _pingSent), the connection is dead and ends with 1006. True when it ended.
        /// </summary>
        private bool KeepAliveTick(long now)
        {
            if (_pingSent && now - _pingSentAt >= _config.EffectivePongTimeoutMs)
            {
                Terminate(CloseFrame.AbnormalClosure, "keepalive timeout");
                return true;
            }
            if (_keepAliveNextPing == 0)
            {
                _keepAliveNextPing = now + _config.PingIntervalMs;
            }
            else if (now >= _keepAliveNextPing)
            {
                _keepAliveNextPing = now + _config.PingIntervalMs;
                if (!_pingSent && !_closeSent)
                {
                    _pingSent = true;
                    _pingSentAt = now;
                    SendFrame(Opcode.Ping, null, 0);
                }
            }
            return false;
        }

        public void OnLoopStopping()
        {
            if (_terminated)
            {
                return;
            }
            SendCloseFrame(1001, ReadOnlySpan<byte>.Empty);
            Flush();
            Terminate(_closeCodeReceived != 0 ? _closeCodeReceived : 1001, "server shutdown");
        }

        /// <summary>Ends the connection: closes the socket, leaves topics, runs OnClose once, frees buffers.</summary>
        private void Terminate(int code, string reason)
        {
            if (_terminated)
            {
                return;
            }
            _terminated = true;
            _loop.Unregister(this);
            Context.MarkSocketClosed();
            _tls?.SendCloseNotify(Fd);
            Libc.Close(Fd);
            _tls?.Dispose();
            if (_topics != null)
            {
                foreach (string t in _topics)
                {
                    _app.Topics.Unsubscribe(t, this);
                }
                _topics = null;
            }
            if (_opened)
            {
                byte[] reasonBytes = Encoding.UTF8.GetBytes(reason);
                Invoke(() => _events.OnClose?.Invoke(this, code, reasonBytes));
            }
            _out.Free();
            _outSent = 0;
            if (!_inMessageCallback)
            {
                _reader?.Dispose(); // else on_message still holds the message: freed when it returns
            }
            _compression?.Dispose();
            Context.ReleaseAttachment();
        }

        private void Fault(Exception e) => RunRecoverHandler(e, _app, _config);

        private void Invoke(Action callback)
        {
            try
            {
                callback();
            }
            catch (Exception e)
            {
                Fault(e);
            }
        }
    }
}
