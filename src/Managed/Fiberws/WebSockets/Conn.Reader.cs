using System;
using System.Runtime.InteropServices;
using System.Threading;
using Fiberws.Protocol;
using Fiberws.Server;
using Fiberws.Transport;

namespace Fiberws.WebSockets
{
    /// <summary>A ping or pong handler: gets the payload; returning anything but Ok fails the read with ErrInternal.</summary>
    public delegate ResultCode ControlFrameHandler(Conn conn, ReadOnlySpan<byte> payload);

    /// <summary>A close handler: gets the peer's code and reason; it replaces the default echo of the close frame.</summary>
    public delegate ResultCode CloseFrameHandler(Conn conn, int code, string text);

    public sealed unsafe partial class Conn
    {
        [ThreadStatic] private static int t_errno;

        private const int PongWriteWaitMs = 1000;

        private readonly MessageReader _reader;
        private readonly int _readCapacity;
        private byte* _readBuffer;
        private int _readPos;
        private int _readEnd;
        private int _readerActive;
        private ResultCode _readError;
        private string _readErrorText = string.Empty;
        private volatile int _closeCodeReceived;
        private string _closeTextReceived = string.Empty;
        private long _readDeadline;      // Environment.TickCount64 value; 0 = none
        private long _appliedReadTimeout; // the SO_RCVTIMEO currently set on the socket, in ms (0 = none)
        private bool _streamOpen;        // NextReader: the current message has more chunks to come
        private bool _chunkPending;      // NextReader: the first chunk is waiting to be read
        private NativeBuffer _joined;

        public override int CloseCodeReceived => _closeCodeReceived;

        public override string CloseTextReceived => _closeTextReceived;

        /// <summary>Replaces the ping handler (null restores the default, which answers with a pong). Reader thread.</summary>
        public ControlFrameHandler? PingHandler { get; set; }

        /// <summary>Replaces the pong handler (null restores the default, which does nothing). Reader thread.</summary>
        public ControlFrameHandler? PongHandler { get; set; }

        /// <summary>Replaces the close handler (null restores the default, which echoes the peer's close code). Reader thread.</summary>
        public CloseFrameHandler? CloseHandler { get; set; }

        /// <summary>
        /// Sets the read deadline (SetReadDeadline): a read still blocked when it passes returns ErrTimeout, and the
        /// connection can then no longer be read (as in gorilla). Zero or negative clears it.
        /// </summary>
        public void SetReadDeadline(TimeSpan fromNow)
        {
            _readDeadline = fromNow > TimeSpan.Zero ? Environment.TickCount64 + Math.Max(1, (long)fromNow.TotalMilliseconds) : 0;
        }

        /// <summary>
        /// Reads the next complete data message (ReadMessage). Control frames met on the way are handled: a ping
        /// is answered with a pong, a close is echoed and ends the read with <see cref="ResultCode.ErrClosed"/>.
        /// The bytes are lent: valid until the next read on this connection or until the connection finishes.
        /// Errors are sticky: after a failure every later read fails the same way.
        /// </summary>
        public ResultCode TryReadMessage(out MessageType type, out byte* data, out long length)
        {
            type = 0;
            data = null;
            length = 0;
            ResultCode rc = BeginRead();
            if (rc != ResultCode.Ok)
            {
                return rc;
            }
            try
            {
                rc = SkipUnfinishedStream();
                if (rc == ResultCode.Ok)
                {
                    _reader.Streaming = false;
                    rc = Pump();
                }
                if (rc == ResultCode.Ok)
                {
                    type = (MessageType)_reader.MessageOpcode;
                    data = _reader.MessagePointer;
                    length = _reader.MessageLength;
                }
                return rc;
            }
            finally
            {
                EndRead();
            }
        }

        /// <summary>Reads the next message (ReadMessage); throws <see cref="FwsException"/> on failure or close.</summary>
        public MessageType ReadMessage(out ReadOnlySpan<byte> data)
        {
            ResultCode rc = TryReadMessage(out MessageType type, out byte* p, out long length);
            ThrowIfFailed(rc);
            data = new ReadOnlySpan<byte>(p, (int)length);
            return type;
        }

        /// <summary>
        /// Starts reading the next message piece by piece (NextReader): returns its type; then
        /// <see cref="TryReadChunk"/> gives its bytes as they arrive, without buffering the whole message. An
        /// unfinished earlier message is skipped first.
        /// </summary>
        public ResultCode TryNextReader(out MessageType type)
        {
            type = 0;
            ResultCode rc = BeginRead();
            if (rc != ResultCode.Ok)
            {
                return rc;
            }
            try
            {
                rc = SkipUnfinishedStream();
                if (rc != ResultCode.Ok)
                {
                    return rc;
                }
                _reader.Streaming = true;
                rc = Pump();
                if (rc != ResultCode.Ok)
                {
                    return rc;
                }
                type = (MessageType)_reader.MessageOpcode;
                _chunkPending = true;
                _streamOpen = !_reader.ChunkIsFinal;
                return ResultCode.Ok;
            }
            finally
            {
                EndRead();
            }
        }

        /// <summary>
        /// The next piece of the message opened by <see cref="TryNextReader"/>. Returns Ok with a (possibly empty)
        /// chunk, lent until the next read; <see cref="ResultCode.EndOfMessage"/> once the message is complete.
        /// </summary>
        public ResultCode TryReadChunk(out byte* data, out int length)
        {
            data = null;
            length = 0;
            ResultCode rc = BeginRead();
            if (rc != ResultCode.Ok)
            {
                return rc;
            }
            try
            {
                if (_chunkPending)
                {
                    _chunkPending = false;
                }
                else
                {
                    if (!_streamOpen)
                    {
                        return Fail(ResultCode.EndOfMessage, "end of message");
                    }
                    rc = Pump();
                    if (rc != ResultCode.Ok)
                    {
                        _streamOpen = false;
                        return rc;
                    }
                    _streamOpen = !_reader.ChunkIsFinal;
                }
                data = _reader.MessagePointer;
                length = (int)_reader.MessageLength;
                if (length == 0 && !_streamOpen)
                {
                    return Fail(ResultCode.EndOfMessage, "end of message");
                }
                return ResultCode.Ok;
            }
            finally
            {
                EndRead();
            }
        }

        /// <summary>
        /// JoinMessages: reads the next <paramref name="count"/> messages and returns them as one stream, each followed
        /// by <paramref name="terminator"/>. The result is lent until the next read.
        /// </summary>
        public ResultCode TryJoinMessages(int count, ReadOnlySpan<byte> terminator, out byte* data, out long length)
        {
            data = null;
            length = 0;
            if (count <= 0)
            {
                return Fail(ResultCode.ErrInvalidArgument, "count must be at least 1");
            }
            _joined.Length = 0;
            for (int i = 0; i < count; i++)
            {
                ResultCode rc = TryReadMessage(out _, out byte* p, out long n);
                if (rc != ResultCode.Ok)
                {
                    return rc;
                }
                _joined.Reserve(n + terminator.Length);
                Buffer.MemoryCopy(p, _joined.Ptr + _joined.Length, n, n);
                _joined.Length += n;
                terminator.CopyTo(new Span<byte>(_joined.Ptr + _joined.Length, terminator.Length));
                _joined.Length += terminator.Length;
            }
            data = _joined.Ptr;
            length = _joined.Length;
            return ResultCode.Ok;
        }

        private ResultCode BeginRead()
        {
            if (Interlocked.Exchange(ref _readerActive, 1) != 0)
            {
                return Fail(IsFinished ? ResultCode.ErrClosed : ResultCode.ErrBusy,
                    IsFinished ? "websocket: connection is finished" : "another thread is already reading this connection");
            }
            if (_readError != ResultCode.Ok)
            {
                Volatile.Write(ref _readerActive, 0);
                return Fail(_readError, _readErrorText, _closeCodeReceived);
            }
            return ResultCode.Ok;
        }

        private void EndRead() => Volatile.Write(ref _readerActive, 0);

        /// <summary>Drops the rest of a message opened with NextReader and not read to its end (as gorilla does).</summary>
        private ResultCode SkipUnfinishedStream()
        {
            _chunkPending = false;
            while (_streamOpen)
            {
                ResultCode rc = Pump();
                if (rc != ResultCode.Ok)
                {
                    _streamOpen = false;
                    return rc;
                }
                _streamOpen = !_reader.ChunkIsFinal;
            }
            return ResultCode.Ok;
        }

        /// <summary>Receives and decodes until a message (or, streaming, a chunk) is ready, handling control frames.</summary>
        private ResultCode Pump()
        {
            bool addedRef = false;
            try
            {
                _fd.DangerousAddRef(ref addedRef);
                while (true)
                {
                    ReadStatus status = ReadStatus.NeedMore;
                    if (_readPos < _readEnd)
                    {
                        status = _reader.FeedInPlace(new Span<byte>(_readBuffer + _readPos, _readEnd - _readPos), out int consumed);
                        _readPos += consumed;
                    }
                    else if (_reader.TryGetDirectTarget(_readCapacity, out byte* target, out int room))
                    {
                        // Inside a large payload: receive straight into the message, skipping the read buffer.
                        nint n = Receive(target, room);
                        if (n <= 0)
                        {
                            return ReceiveFailed(n);
                        }
                        status = _reader.CommitDirect((int)n);
                    }
                    else
                    {
                        EnsureReadBuffer(0);
                        _readPos = 0;
                        _readEnd = 0;
                        nint n = Receive(_readBuffer, _readCapacity);
                        if (n <= 0)
                        {
                            return ReceiveFailed(n);
                        }
                        _readEnd = (int)n;
                        continue;
                    }
                    switch (status)
                    {
                        case ReadStatus.Message:
                            _app.Traffic.Received(_reader.MessageLength);
                            return ResultCode.Ok;
                        case ReadStatus.Chunk:
                            _app.Traffic.Received(_reader.MessageLength, _reader.ChunkIsFinal);
                            return ResultCode.Ok;
                        case ReadStatus.Control:
                            ResultCode control = HandleControl();
                            if (control != ResultCode.Ok)
                            {
                                return control;
                            }
                            break;
                        case ReadStatus.Error:
                            return ProtocolFailure(_reader.ErrorCode, _reader.ErrorReason);
                    }
                }
            }
            catch (OutOfMemoryException)
            {
                return ProtocolFailure((int)CloseCode.CloseMessageTooBig, "message too large to buffer");
            }
            catch (ObjectDisposedException)
            {
                return Fail(ResultCode.ErrClosed, "websocket: connection is finished");
            }
            finally
            {
                if (addedRef)
                {
                    _fd.DangerousRelease();
                }
            }
        }

        private ResultCode HandleControl()
        {
            ReadOnlySpan<byte> payload = _reader.Control;
            switch (_reader.ControlOpcode)
            {
                case Opcode.Ping:
                    if (PingHandler != null)
                    {
                        return HandlerResult(PingHandler(this, payload), "ping");
                    }
                    // The default ping handler: answer with a pong carrying the same payload (skipped once closing),
                    // waiting at most a second for the peer to take it, as gorilla's default handler does.
                    fixed (byte* p = payload)
                    {
                        ResultCode rc = WriteControlFrame(Opcode.Pong, p, payload.Length, suppressAfterClose: true, boundMs: PongWriteWaitMs);
                        if (rc != ResultCode.Ok && rc != ResultCode.ErrCloseSent && rc != ResultCode.ErrTimeout)
                        {
                            return SetReadError(rc, "connection broke while answering a ping", 1006);
                        }
                    }
                    return ResultCode.Ok;
                case Opcode.Pong:
                    return PongHandler != null ? HandlerResult(PongHandler(this, payload), "pong") : ResultCode.Ok;
                default:
                    string? invalid = CloseFrame.Parse(payload, out int code, out string reason);
                    if (invalid != null)
                    {
                        return ProtocolFailure((int)CloseCode.CloseProtocolError, invalid);
                    }
                    _closeTextReceived = reason;
                    _closeCodeReceived = code;
                    if (CloseHandler != null)
                    {
                        CloseHandler(this, code, reason);
                    }
                    else
                    {
                        // The default close handler: echo the peer's code (empty payload when it sent none).
                        SendClose(code, ReadOnlySpan<byte>.Empty);
                    }
                    string text = $"websocket: close {code} {CloseFrame.Describe(code)}" + (reason.Length > 0 ? ": " + reason : string.Empty);
                    return SetReadError(ResultCode.ErrClosed, text, code);
            }
        }

        private ResultCode HandlerResult(ResultCode rc, string kind) =>
            rc == ResultCode.Ok ? rc : SetReadError(ResultCode.ErrInternal, $"websocket: {kind} handler failed with {(int)rc}", 0);

        private ResultCode ProtocolFailure(int closeCode, string reason)
        {
            byte[] reasonBytes = System.Text.Encoding.UTF8.GetBytes(reason.Length > 100 ? reason.Substring(0, 100) : reason);
            SendClose(closeCode, reasonBytes);
            ResultCode code = closeCode == (int)CloseCode.CloseMessageTooBig ? ResultCode.ErrReadLimit : ResultCode.ErrProtocol;
            string text = code == ResultCode.ErrReadLimit ? "websocket: read limit exceeded: " + reason : $"websocket: protocol error ({closeCode}): {reason}";
            return SetReadError(code, text, closeCode);
        }

        private ResultCode ReceiveFailed(nint n)
        {
            if (_keepAliveExpired)
            {
                _peerGone = true;
                _closeCodeReceived = (int)CloseCode.CloseAbnormalClosure;
                return SetReadError(ResultCode.ErrClosed,
                    $"websocket: close 1006 (abnormal closure): keepalive timeout, nothing received within {_config.EffectivePongTimeoutMs} ms of a ping", 1006);
            }
            if (n == 0 || t_errno is Libc.ECONNRESET or Libc.EPIPE)
            {
                if (_closeSent != 0)
                {
                    int local = _closeCodeSent;
                    return SetReadError(ResultCode.ErrClosed, $"websocket: connection closed locally with {local} {CloseFrame.Describe(local)}", local);
                }
                _peerGone = true;
                _closeCodeReceived = (int)CloseCode.CloseAbnormalClosure;
                return SetReadError(ResultCode.ErrClosed, "websocket: close 1006 (abnormal closure): unexpected EOF", 1006);
            }
            if (t_errno == Libc.EAGAIN)
            {
                // The read deadline passed. Like gorilla, the connection is then unusable for reads.
                return SetReadError(ResultCode.ErrTimeout, "websocket: read deadline exceeded", 0);
            }
            string why = t_errno == Libc.EPROTO && _tls?.LastError is string tlsError ? tlsError : Libc.Describe(t_errno);
            return SetReadError(ResultCode.ErrClosed, "websocket: read failed: " + why, 1006);
        }

        private ResultCode SetReadError(ResultCode code, string text, int closeCode)
        {
            _readError = code;
            _readErrorText = text;
            return Fail(code, text, closeCode);
        }

        private nint Receive(byte* buffer, int length)
        {
            while (true)
            {
                long timeout = 0;
                if (_readDeadline != 0)
                {
                    timeout = _readDeadline - Environment.TickCount64;
                    if (timeout <= 0)
                    {
                        t_errno = Libc.EAGAIN;
                        return -1;
                    }
                }
                if (timeout != _appliedReadTimeout)
                {
                    Libc.SetTimeout(_fd.Fd, Libc.SO_RCVTIMEO, timeout);
                    _appliedReadTimeout = timeout;
                }
                nint n = _tls == null ? Libc.Recv(_fd.Fd, buffer, (nuint)length, 0) : _tls.Recv(_fd.Fd, buffer, (nuint)length, 0);
                if (n >= 0)
                {
                    _bytesReceived += n;
                    return n;
                }
                int errno = Libc.Errno;
                if (errno == Libc.EAGAIN && _readDeadline != 0 && _readDeadline - Environment.TickCount64 > 0)
                {
                    continue; // woke a little early: wait out the rest of the deadline
                }
                if (errno != Libc.EINTR)
                {
                    t_errno = errno;
                    return -1;
                }
            }
        }

        private void EnsureReadBuffer(int atLeast)
        {
            if (_readBuffer == null)
            {
                int size = Math.Max(_readCapacity, atLeast);
                _readBuffer = (byte*)NativeMemory.Alloc((nuint)size);
            }
        }
    }
}
