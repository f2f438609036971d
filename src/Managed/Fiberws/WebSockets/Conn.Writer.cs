using System;
using System.Runtime.InteropServices;
using System.Text.Unicode;
using System.Diagnostics;
using System.Threading;
using Fiberws.Protocol;
using Fiberws.Server;
using Fiberws.Transport;

namespace Fiberws.WebSockets
{
    public sealed unsafe partial class Conn
    {
        private readonly object _writeLock = new();
        private readonly int _writeCapacity;
        private byte* _writeBuffer;
        private bool _writeBroken;
        private long _writeDeadline;       // Environment.TickCount64 value; 0 = none
        private long _appliedWriteTimeout; // the SO_SNDTIMEO currently set, in ms
        private bool _fragmenting;         // NextWriter: a message is open
        private bool _fragmentFirst;
        private MessageType _fragmentType;
        private Utf8Stream _fragmentUtf8;

        /// <summary>
        /// Sets the write deadline (SetWriteDeadline): a write still blocked when it passes returns ErrTimeout, and the
        /// connection is then broken for writes (part of a frame may be out). Zero or negative clears it.
        /// </summary>
        public void SetWriteDeadline(TimeSpan fromNow)
        {
            lock (_writeLock)
            {
                _writeDeadline = fromNow > TimeSpan.Zero ? Environment.TickCount64 + Math.Max(1, (long)fromNow.TotalMilliseconds) : 0;
            }
        }

        /// <summary>
        /// Opens a message to be written in pieces (NextWriter): each <see cref="TryWriteFragment"/> sends one frame,
        /// <see cref="TryCloseWriter"/> sends the final one. Meanwhile other data writes wait; control frames do not.
        /// </summary>
        public ResultCode TryNextWriter(MessageType type)
        {
            if (type is not (MessageType.TextMessage or MessageType.BinaryMessage))
            {
                return Fail(ResultCode.ErrInvalidArgument, $"a message writer takes text (1) or binary (2), not {(int)type}");
            }
            lock (_writeLock)
            {
                ResultCode rc = WaitForWriterLocked();
                if (rc != ResultCode.Ok)
                {
                    return rc;
                }
                _fragmenting = true;
                _fragmentFirst = true;
                _fragmentType = type;
                _fragmentUtf8.Reset();
                return ResultCode.Ok;
            }
        }

        /// <summary>Sends the next piece of the message opened by <see cref="TryNextWriter"/> as one frame.</summary>
        public ResultCode TryWriteFragment(byte* data, long length)
        {
            if (length < 0 || (data == null && length != 0))
            {
                return Fail(ResultCode.ErrInvalidArgument, "data is NULL or length is negative");
            }
            lock (_writeLock)
            {
                if (!_fragmenting)
                {
                    return Fail(ResultCode.ErrInvalidState, "no message writer is open (call next_writer first)");
                }
                if (_fragmentType == MessageType.TextMessage &&
                    !_fragmentUtf8.Append(new ReadOnlySpan<byte>(data, (int)Math.Min(length, int.MaxValue)), final: false))
                {
                    return Fail(ResultCode.ErrInvalidArgument, "text message is not valid UTF-8");
                }
                if (_closeSent != 0)
                {
                    return CloseSentError();
                }
                int opcode = _fragmentFirst ? (int)_fragmentType : Opcode.Continuation;
                _fragmentFirst = false;
                ResultCode rc = WriteFrameLocked(opcode, data, length, fin: false);
                if (rc == ResultCode.Ok)
                {
                    _app.Traffic.SentPart(length, messageEnds: false);
                }
                return rc;
            }
        }

        /// <summary>Ends the message opened by <see cref="TryNextWriter"/> with a final (empty) frame.</summary>
        public ResultCode TryCloseWriter()
        {
            lock (_writeLock)
            {
                if (!_fragmenting)
                {
                    return Fail(ResultCode.ErrInvalidState, "no message writer is open");
                }
                if (_fragmentType == MessageType.TextMessage && !_fragmentUtf8.Append(ReadOnlySpan<byte>.Empty, final: true))
                {
                    return Fail(ResultCode.ErrInvalidArgument, "text message ends inside a UTF-8 sequence; write the rest first");
                }
                int opcode = _fragmentFirst ? (int)_fragmentType : Opcode.Continuation;
                _fragmenting = false;
                Monitor.PulseAll(_writeLock);
                if (_closeSent != 0)
                {
                    return CloseSentError();
                }
                ResultCode rc = WriteFrameLocked(opcode, null, 0, fin: true);
                if (rc == ResultCode.Ok)
                {
                    _app.Traffic.SentPart(0, messageEnds: true);
                }
                return rc;
            }
        }

        /// <summary>Sends a prepared message (WritePreparedMessage). Any thread.</summary>
        public override ResultCode TryWritePrepared(PreparedMessage message)
        {
            ArgumentNullException.ThrowIfNull(message);
            lock (_writeLock)
            {
                bool control = message.Type is MessageType.PingMessage or MessageType.PongMessage;
                ResultCode rc = control ? (_closeSent != 0 ? CloseSentError() : ResultCode.Ok) : WaitForWriterLocked();
                if (rc != ResultCode.Ok)
                {
                    return rc;
                }
                if (_writeBroken)
                {
                    return Fail(ResultCode.ErrClosed, "websocket: connection is broken (an earlier write failed)");
                }
                bool addedRef = false;
                try
                {
                    _fd.DangerousAddRef(ref addedRef);
                    ResultCode sent;
                    fixed (byte* p = message.Frame)
                    {
                        sent = SendAll(p, message.Frame.Length);
                    }
                    if (sent == ResultCode.Ok && !control)
                    {
                        _app.Traffic.Sent(message.PayloadLength);
                    }
                    return sent;
                }
                catch (ObjectDisposedException)
                {
                    return Fail(ResultCode.ErrClosed, "websocket: connection is closed");
                }
                finally
                {
                    if (addedRef)
                    {
                        _fd.DangerousRelease();
                    }
                }
            }
        }

        /// <summary>The failure of a write after close: ErrClosed once the connection has finished, else ErrCloseSent.</summary>
        private ResultCode CloseSentError() =>
            IsFinished ? Fail(ResultCode.ErrClosed, "websocket: connection is finished") : Fail(ResultCode.ErrCloseSent, "websocket: close sent");

        /// <summary>Waits (under the write lock) until no fragmented message is open; fails once close was sent.</summary>
        private ResultCode WaitForWriterLocked()
        {
            while (_fragmenting && _closeSent == 0 && !_writeBroken)
            {
                Monitor.Wait(_writeLock);
            }
            if (_closeSent != 0)
            {
                return CloseSentError();
            }
            return ResultCode.Ok;
        }

        /// <summary>
        /// Sends one message as a single frame (WriteMessage). Text must be valid UTF-8. Safe to call from several
        /// threads: writes are serialised. The data is copied or sent before the call returns.
        /// </summary>
        public override ResultCode TryWriteMessage(MessageType type, byte* data, long length)
        {
            if (type != MessageType.TextMessage && type != MessageType.BinaryMessage)
            {
                if (type is MessageType.PingMessage or MessageType.PongMessage or MessageType.CloseMessage)
                {
                    return TryWriteControl(type, data, length);
                }
                return Fail(ResultCode.ErrInvalidArgument, $"unknown message type {(int)type}");
            }
            if (length < 0 || (data == null && length != 0))
            {
                return Fail(ResultCode.ErrInvalidArgument, "data is NULL or length is negative");
            }
            if (type == MessageType.TextMessage && !Utf8.IsValid(new ReadOnlySpan<byte>(data, (int)Math.Min(length, int.MaxValue))))
            {
                return Fail(ResultCode.ErrInvalidArgument, "text message is not valid UTF-8 (send it as binary)");
            }
            lock (_writeLock)
            {
                ResultCode rc = _fragmenting ? WaitForWriterLocked() : _closeSent != 0 ? CloseSentError() : ResultCode.Ok;
                if (rc != ResultCode.Ok)
                {
                    return rc;
                }
                rc = _compression != null && _compression.TryCompress(data, length, out byte* packed, out long packedLength)
                    ? WriteFrameLocked((int)type, packed, packedLength, fin: true, rsv1: true)
                    : WriteFrameLocked((int)type, data, length);
                if (rc == ResultCode.Ok)
                {
                    _app.Traffic.Sent(length);
                }
                return rc;
            }
        }

        /// <summary>
        /// Sends a control frame (WriteControl): ping, pong or close, payload at most 125 bytes. A close frame
        /// marks the connection as closing: later data writes fail with ErrCloseSent. Any thread.
        /// </summary>
        public override ResultCode TryWriteControl(MessageType type, byte* data, long length, int timeoutMs = 0)
        {
            if (timeoutMs > 0)
            {
                // The deadline covers waiting for a data write in progress on another thread.
                if (!Monitor.TryEnter(_writeLock, timeoutMs))
                {
                    return Fail(ResultCode.ErrTimeout, $"websocket: control frame not sent within {timeoutMs} ms (a write is in progress)");
                }
                try
                {
                    return TryWriteControl(type, data, length, 0);
                }
                finally
                {
                    Monitor.Exit(_writeLock);
                }
            }
            if (type is not (MessageType.PingMessage or MessageType.PongMessage or MessageType.CloseMessage))
            {
                return Fail(ResultCode.ErrInvalidArgument, $"message type {(int)type} is not a control type (8, 9 or 10)");
            }
            if (length < 0 || length > 125 || (data == null && length != 0))
            {
                return Fail(ResultCode.ErrInvalidArgument, "control frame payload must be 0..125 bytes");
            }
            if (type == MessageType.CloseMessage)
            {
                var payload = new ReadOnlySpan<byte>(data, (int)length);
                string? invalid = payload.Length == 0 ? null : payload.Length == 1 ? "a close payload needs a 2-byte code" :
                    CloseFrame.CheckOutgoing(payload[0] << 8 | payload[1], payload.Slice(2));
                if (invalid != null)
                {
                    return Fail(ResultCode.ErrInvalidArgument, invalid);
                }
                int code = payload.Length == 0 ? CloseFrame.NoStatusReceived : payload[0] << 8 | payload[1];
                return SendClose(code, payload.Length == 0 ? ReadOnlySpan<byte>.Empty : payload.Slice(2), failIfSent: true);
            }
            return WriteControlFrame((int)type, data, (int)length, suppressAfterClose: false);
        }

        /// <summary>
        /// Writes a control frame. With boundMs, the write may block at most that long (or until the write deadline,
        /// if sooner): the automatic pong must not block its reader forever on a peer that never reads.
        /// </summary>
        private ResultCode WriteControlFrame(int opcode, byte* data, int length, bool suppressAfterClose, int boundMs = 0)
        {
            bool taken = false;
            try
            {
                // The bound covers waiting for a write in progress on another thread, too.
                if (boundMs > 0)
                {
                    Monitor.TryEnter(_writeLock, boundMs, ref taken);
                    if (!taken)
                    {
                        return Fail(ResultCode.ErrTimeout, $"websocket: control frame not sent within {boundMs} ms (a write is in progress)");
                    }
                }
                else
                {
                    Monitor.Enter(_writeLock, ref taken);
                }
                if (_closeSent != 0)
                {
                    return suppressAfterClose ? ResultCode.ErrCloseSent : CloseSentError();
                }
                if (boundMs <= 0)
                {
                    return WriteFrameLocked(opcode, data, length);
                }
                long saved = _writeDeadline;
                long bound = Environment.TickCount64 + boundMs;
                _writeDeadline = saved != 0 ? Math.Min(saved, bound) : bound;
                try
                {
                    return WriteFrameLocked(opcode, data, length);
                }
                finally
                {
                    _writeDeadline = saved;
                }
            }
            finally
            {
                if (taken)
                {
                    Monitor.Exit(_writeLock);
                }
            }
        }

        private ResultCode WriteFrameLocked(int opcode, byte* data, long length, bool fin = true, bool rsv1 = false)
        {
            Debug.Assert(Monitor.IsEntered(_writeLock));
            if (_writeBroken)
            {
                return Fail(ResultCode.ErrClosed, "websocket: connection is broken (an earlier write failed)");
            }
            bool addedRef = false;
            try
            {
                _fd.DangerousAddRef(ref addedRef);
                byte* header = stackalloc byte[FrameHeader.MaxServerHeader];
                int headerLength = FrameHeader.Write(header, opcode, fin, rsv1, length);
                if (headerLength + length <= _writeCapacity)
                {
                    // Small frame: one copy, one send. With a pool the buffer is held only during the write.
                    IWriteBufferPool? pool = _config.WriteBufferPool;
                    byte* buffer = _writeBuffer;
                    if (buffer == null)
                    {
                        buffer = pool != null ? (byte*)pool.Get(_writeCapacity) : null;
                        if (buffer == null)
                        {
                            buffer = _writeBuffer = (byte*)NativeMemory.Alloc((nuint)_writeCapacity);
                            pool = null;
                        }
                    }
                    else
                    {
                        pool = null;
                    }
                    try
                    {
                        Buffer.MemoryCopy(header, buffer, _writeCapacity, headerLength);
                        Buffer.MemoryCopy(data, buffer + headerLength, _writeCapacity - headerLength, length);
                        return SendAll(buffer, headerLength + length);
                    }
                    finally
                    {
                        pool?.Put((nint)buffer, _writeCapacity);
                    }
                }
                // Large frame: gather header and payload in one sendmsg, no copy of the payload.
                return SendGather(header, headerLength, data, length);
            }
            catch (ObjectDisposedException)
            {
                return Fail(ResultCode.ErrClosed, "websocket: connection is closed");
            }
            finally
            {
                if (addedRef)
                {
                    _fd.DangerousRelease();
                }
            }
        }

        /// <summary>Applies the write deadline to the socket before a send; false when it has already passed.</summary>
        private bool ApplyWriteDeadline()
        {
            long timeout = 0;
            if (_writeDeadline != 0)
            {
                timeout = _writeDeadline - Environment.TickCount64;
                if (timeout <= 0)
                {
                    return false;
                }
            }
            if (timeout != _appliedWriteTimeout)
            {
                Libc.SetTimeout(_fd.Fd, Libc.SO_SNDTIMEO, timeout);
                _appliedWriteTimeout = timeout;
            }
            return true;
        }

        private ResultCode SendAll(byte* data, long length)
        {
            if (!ApplyWriteDeadline())
            {
                return WriteFailed(Libc.EAGAIN);
            }
            if (_tls != null)
            {
                int failed = _tls.SendAll(_fd.Fd, data, length);
                return failed == 0 ? ResultCode.Ok : WriteFailed(failed);
            }
            while (length > 0)
            {
                nint n = Libc.Send(_fd.Fd, data, (nuint)length, Libc.MSG_NOSIGNAL);
                if (n < 0)
                {
                    int errno = Libc.Errno;
                    if (errno == Libc.EINTR)
                    {
                        continue;
                    }
                    return WriteFailed(errno);
                }
                data += n;
                length -= n;
            }
            return ResultCode.Ok;
        }

        private ResultCode SendGather(byte* header, int headerLength, byte* data, long length)
        {
            if (_tls != null)
            {
                ResultCode rc = SendAll(header, headerLength);
                return rc == ResultCode.Ok ? SendAll(data, length) : rc;
            }
            Libc.IoVec* iov = stackalloc Libc.IoVec[2];
            iov[0].Base = header;
            iov[0].Length = (nuint)headerLength;
            iov[1].Base = data;
            iov[1].Length = (nuint)length;
            Libc.MsgHdr msg = default;
            msg.Iov = iov;
            msg.IovLen = 2;
            if (!ApplyWriteDeadline())
            {
                return WriteFailed(Libc.EAGAIN);
            }
            while (true)
            {
                nint n = Libc.SendMsg(_fd.Fd, &msg, Libc.MSG_NOSIGNAL);
                if (n < 0)
                {
                    int errno = Libc.Errno;
                    if (errno == Libc.EINTR)
                    {
                        continue;
                    }
                    return WriteFailed(errno);
                }
                // Advance past what was sent; the header may be partly sent.
                while (n > 0 && msg.IovLen > 0)
                {
                    if ((nuint)n >= msg.Iov->Length)
                    {
                        n -= (nint)msg.Iov->Length;
                        msg.Iov++;
                        msg.IovLen--;
                    }
                    else
                    {
                        msg.Iov->Base = (byte*)msg.Iov->Base + n;
                        msg.Iov->Length -= (nuint)n;
                        n = 0;
                    }
                }
                if (msg.IovLen == 0)
                {
                    return ResultCode.Ok;
                }
            }
        }

        private ResultCode WriteFailed(int errno)
        {
            _writeBroken = true;
            if (errno == Libc.EAGAIN)
            {
                return Fail(ResultCode.ErrTimeout, "websocket: write deadline exceeded");
            }
            string why = errno == Libc.EPROTO && _tls?.LastError is string tlsError ? tlsError : Libc.Describe(errno);
            return Fail(ResultCode.ErrClosed, "websocket: write failed: " + why, (int)CloseCode.CloseAbnormalClosure);
        }
    }
}
