using System;
using System.Runtime.InteropServices;
using System.Threading;
using Fiberws.Protocol;
using Fiberws.Transport;

namespace Fiberws.WebSockets
{
    public sealed unsafe partial class Conn
    {
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

        public override int CloseCodeReceived => _closeCodeReceived;

        public override string CloseTextReceived => _closeTextReceived;

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
            if (Interlocked.Exchange(ref _readerActive, 1) != 0)
            {
                return Fail(ResultCode.ErrBusy, "another thread is already reading this connection");
            }
            bool addedRef = false;
            try
            {
                if (_readError != ResultCode.Ok)
                {
                    return Fail(_readError, _readErrorText, _closeCodeReceived);
                }
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
                            type = (MessageType)_reader.MessageOpcode;
                            data = _reader.MessagePointer;
                            length = _reader.MessageLength;
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
            finally
            {
                if (addedRef)
                {
                    _fd.DangerousRelease();
                }
                Volatile.Write(ref _readerActive, 0);
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

        private ResultCode HandleControl()
        {
            ReadOnlySpan<byte> payload = _reader.Control;
            switch (_reader.ControlOpcode)
            {
                case Opcode.Ping:
                    // The default ping handler: answer with a pong carrying the same payload (skipped once closing).
                    fixed (byte* p = payload)
                    {
                        ResultCode rc = WriteControlFrame(Opcode.Pong, p, payload.Length, suppressAfterClose: true);
                        if (rc != ResultCode.Ok && rc != ResultCode.ErrCloseSent)
                        {
                            return SetReadError(rc, "connection broke while answering a ping", 1006);
                        }
                    }
                    return ResultCode.Ok;
                case Opcode.Pong:
                    return ResultCode.Ok;
                default:
                    string? invalid = CloseFrame.Parse(payload, out int code, out string reason);
                    if (invalid != null)
                    {
                        return ProtocolFailure((int)CloseCode.CloseProtocolError, invalid);
                    }
                    _closeTextReceived = reason;
                    _closeCodeReceived = code;
                    // The default close handler: echo the peer's code (empty payload when it sent none).
                    SendClose(code == CloseFrame.NoStatusReceived ? CloseFrame.NoStatusReceived : code, ReadOnlySpan<byte>.Empty);
                    string text = $"websocket: close {code} {CloseFrame.Describe(code)}" + (reason.Length > 0 ? ": " + reason : string.Empty);
                    return SetReadError(ResultCode.ErrClosed, text, code);
            }
        }

        private ResultCode ProtocolFailure(int closeCode, string reason)
        {
            byte[] reasonBytes = System.Text.Encoding.UTF8.GetBytes(reason.Length > CloseFrame.MaxReasonBytes ? reason.Substring(0, 100) : reason);
            SendClose(closeCode, reasonBytes);
            ResultCode code = closeCode == (int)CloseCode.CloseMessageTooBig ? ResultCode.ErrReadLimit : ResultCode.ErrProtocol;
            string text = code == ResultCode.ErrReadLimit ? "websocket: read limit exceeded: " + reason : $"websocket: protocol error ({closeCode}): {reason}";
            return SetReadError(code, text, closeCode);
        }

        private ResultCode ReceiveFailed(nint n)
        {
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
                // SO_RCVTIMEO fired: the read deadline passed. Like gorilla, the connection is then unusable for reads.
                return SetReadError(ResultCode.ErrTimeout, "websocket: read deadline exceeded", 0);
            }
            return SetReadError(ResultCode.ErrClosed, "websocket: read failed: " + Libc.Describe(t_errno), 1006);
        }

        private ResultCode SetReadError(ResultCode code, string text, int closeCode)
        {
            _readError = code;
            _readErrorText = text;
            return Fail(code, text, closeCode);
        }

        [ThreadStatic] private static int t_errno;

        private nint Receive(byte* buffer, int length)
        {
            while (true)
            {
                nint n = Libc.Recv(_fd.Fd, buffer, (nuint)length, 0);
                if (n >= 0)
                {
                    return n;
                }
                int errno = Libc.Errno;
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
