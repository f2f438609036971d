using System;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using Fiberws.Protocol;
using Fiberws.Transport;

namespace Fiberws.WebSockets
{
    public sealed unsafe partial class Conn
    {
        private int _closeSent;
        private int _closeCodeSent;
        private bool _peerGone;
        private int _finished;

        /// <summary>True once the connection has finished (handler returned, socket closed).</summary>
        public bool IsFinished => Volatile.Read(ref _finished) != 0;

        /// <summary>
        /// Starts the closing handshake: sends a close frame with the code and reason (1005 = no code) unless one
        /// was already sent, and wakes a read blocked on another thread (it returns ErrClosed). The server then waits
        /// up to the app's close timeout for the peer to answer before dropping TCP. Idempotent; any thread.
        /// </summary>
        public override ResultCode TryClose(int code, string reason)
        {
            byte[] reasonBytes = Encoding.UTF8.GetBytes(reason ?? string.Empty);
            string? invalid = CloseFrame.CheckOutgoing(code, reasonBytes);
            if (invalid != null)
            {
                return Fail(ResultCode.ErrInvalidArgument, invalid);
            }
            if (IsFinished)
            {
                return ResultCode.Ok;
            }
            ResultCode rc = SendClose(code, reasonBytes);
            if (Volatile.Read(ref _readerActive) != 0)
            {
                // A read is blocked (or about to block) on another thread: end it now rather than when the peer answers.
                WakeReader();
            }
            return rc == ResultCode.ErrCloseSent ? ResultCode.Ok : rc;
        }

        /// <summary>
        /// Server shutdown: sends a close frame unless a write holds the connection right now (then returns false and
        /// the caller tries again later, or cuts the connection at its deadline). Never waits.
        /// </summary>
        internal bool TryCloseWithoutWaiting(int code)
        {
            if (IsFinished)
            {
                return true;
            }
            ResultCode rc = SendClose(code, ReadOnlySpan<byte>.Empty, lockWait: TimeSpan.Zero);
            if (rc == ResultCode.ErrBusy)
            {
                return false;
            }
            if (Volatile.Read(ref _readerActive) != 0)
            {
                WakeReader();
            }
            return true;
        }

        /// <summary>
        /// Sends a close frame once. Returns ErrCloseSent (without setting an error) when one was sent before. With
        /// lockWait zero a busy connection returns ErrBusy at once; otherwise a write blocked past the close timeout
        /// gets the connection cut.
        /// </summary>
        private ResultCode SendClose(int code, ReadOnlySpan<byte> reason, bool failIfSent = false, TimeSpan? lockWait = null)
        {
            byte* payload = stackalloc byte[125];
            int length = CloseFrame.Format(code, reason, new Span<byte>(payload, 125));
            bool taken = false;
            try
            {
                // A write blocked on a peer that does not read holds the lock: do not wait for it forever. The peer
                // cannot take a close frame anyway, so cut the connection; that also ends the blocked write.
                TimeSpan wait = lockWait ?? CloseLockWait;
                Monitor.TryEnter(_writeLock, wait, ref taken);
                if (!taken && wait == TimeSpan.Zero)
                {
                    return ResultCode.ErrBusy;
                }
                if (!taken)
                {
                    Abort();
                    return Fail(ResultCode.ErrTimeout,
                        "websocket: close frame not sent: a write is blocked on a peer that does not read; connection cut");
                }
                if (_closeSent != 0)
                {
                    return failIfSent ? CloseSentError() : ResultCode.ErrCloseSent;
                }
                _closeSent = 1;
                _closeCodeSent = code;
                // Sent even when the peer has half-closed: a FIN only means it stopped sending, it may still read.
                ResultCode rc = WriteFrameLocked(Opcode.Close, payload, length);
                return rc == ResultCode.ErrClosed ? ResultCode.Ok : rc; // a dead socket cannot take a close frame; that is fine
            }
            finally
            {
                if (taken)
                {
                    Monitor.Exit(_writeLock);
                }
            }
        }

        /// <summary>How long a close waits for a write in progress on another thread: the app's close timeout, at least 100 ms.</summary>
        private TimeSpan CloseLockWait => _app.Options.CloseTimeout > TimeSpan.FromMilliseconds(100) ? _app.Options.CloseTimeout : TimeSpan.FromMilliseconds(100);

        private void WakeReader() => ShutdownSocket(Libc.SHUT_RD);

        /// <summary>Wakes a blocked reader and writers from outside (server shutdown).</summary>
        internal void Abort() => ShutdownSocket(Libc.SHUT_RDWR);

        private void ShutdownSocket(int how)
        {
            bool added = false;
            try
            {
                _fd.DangerousAddRef(ref added);
                Libc.Shutdown(_fd.Fd, how);
            }
            catch (ObjectDisposedException)
            {
                // already closed: nothing left to wake
            }
            finally
            {
                if (added)
                {
                    _fd.DangerousRelease();
                }
            }
        }

        /// <summary>
        /// Ends the connection after the handler returned: half-closes, lets the peer finish the closing handshake
        /// (bounded by the close timeout, discarding what it still sends), closes the socket and frees buffers.
        /// </summary>
        private void Finish()
        {
            int fd = _fd.Fd;
            if (!_peerGone)
            {
                _tls?.SendCloseNotify(fd);
                Libc.Shutdown(fd, Libc.SHUT_WR);
                long timeoutMs = (long)_app.Options.CloseTimeout.TotalMilliseconds;
                if (timeoutMs > 0)
                {
                    long deadline = Environment.TickCount64 + timeoutMs;
                    Libc.SetTimeout(fd, Libc.SO_RCVTIMEO, Math.Max(1, timeoutMs));
                    byte* scratch = stackalloc byte[2048];
                    while (Environment.TickCount64 < deadline)
                    {
                        nint n = Libc.Recv(fd, scratch, 2048, 0);
                        if (n == 0 || (n < 0 && Libc.Errno != Libc.EINTR))
                        {
                            break;
                        }
                    }
                }
            }
            lock (_writeLock)
            {
                Volatile.Write(ref _finished, 1);
                _writeBroken = true;
                Monitor.PulseAll(_writeLock); // writers waiting for a fragmented message give up
                NativeMemory.Free(_writeBuffer);
                _writeBuffer = null;
                _compression?.Dispose();
                _tls?.Dispose(); // freed once a reader the handler left behind is out of it
            }
            Context.MarkSocketClosed();
            _fd.Dispose(); // closes once no other thread is inside a system call on it
            // The read buffer and message belong to the reader; no read can be running once the handler returned,
            // except on a thread the handler left behind, which the ErrBusy guard keeps out of the buffers.
            if (Interlocked.Exchange(ref _readerActive, 1) == 0)
            {
                _readError = ResultCode.ErrClosed;
                _readErrorText = "websocket: connection is finished";
                NativeMemory.Free(_readBuffer);
                _readBuffer = null;
                _reader.Dispose();
                _joined.Free();
            }
            Context.ReleaseAttachment();
            _app.Unregister(this);
        }
    }
}
