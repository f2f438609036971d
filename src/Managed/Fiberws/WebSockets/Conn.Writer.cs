using System;
using System.Runtime.InteropServices;
using System.Text.Unicode;
using System.Diagnostics;
using System.Threading;
using Fiberws.Protocol;
using Fiberws.Transport;

namespace Fiberws.WebSockets
{
    public sealed unsafe partial class Conn
    {
        private readonly object _writeLock = new();
        private readonly int _writeCapacity;
        private byte* _writeBuffer;
        private bool _writeBroken;

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
                if (_closeSent != 0)
                {
                    return Fail(ResultCode.ErrCloseSent, "websocket: close sent");
                }
                return WriteFrameLocked((int)type, data, length);
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

        private ResultCode WriteControlFrame(int opcode, byte* data, int length, bool suppressAfterClose)
        {
            lock (_writeLock)
            {
                if (_closeSent != 0)
                {
                    return suppressAfterClose ? ResultCode.ErrCloseSent : Fail(ResultCode.ErrCloseSent, "websocket: close sent");
                }
                return WriteFrameLocked(opcode, data, length);
            }
        }

        private ResultCode WriteFrameLocked(int opcode, byte* data, long length)
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
                int headerLength = FrameHeader.Write(header, opcode, fin: true, rsv1: false, length);
                if (headerLength + length <= _writeCapacity)
                {
                    // Small frame: one copy, one send.
                    if (_writeBuffer == null)
                    {
                        _writeBuffer = (byte*)NativeMemory.Alloc((nuint)_writeCapacity);
                    }
                    Buffer.MemoryCopy(header, _writeBuffer, _writeCapacity, headerLength);
                    Buffer.MemoryCopy(data, _writeBuffer + headerLength, _writeCapacity - headerLength, length);
                    return SendAll(_writeBuffer, headerLength + length);
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

        private ResultCode SendAll(byte* data, long length)
        {
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
            Libc.IoVec* iov = stackalloc Libc.IoVec[2];
            iov[0].Base = header;
            iov[0].Length = (nuint)headerLength;
            iov[1].Base = data;
            iov[1].Length = (nuint)length;
            Libc.MsgHdr msg = default;
            msg.Iov = iov;
            msg.IovLen = 2;
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
            return Fail(ResultCode.ErrClosed, "websocket: write failed: " + Libc.Describe(errno), (int)CloseCode.CloseAbnormalClosure);
        }
    }
}
