using System;
using System.Threading;
using Fiberws.Protocol;
using Fiberws.Transport;

namespace Fiberws.WebSockets
{
    /// <summary>
    /// Keepalive for blocking connections (WebSocketConfig.PingInterval): the app's keepalive thread pings each
    /// connection every interval, and a connection from which not a single byte arrives within the pong timeout after
    /// a ping is taken for dead: its socket is shut down, so the handler's blocked read returns close code 1006.
    /// </summary>
    public sealed unsafe partial class Conn
    {
        private const int KeepAlivePingWriteTimeoutMs = 1000;

        private long _bytesReceived;        // written by the reader, read by the keepalive thread
        private long _keepAliveNextPing;    // keepalive thread only (as are the two below)
        private long _keepAliveDeadline;    // 0 = no ping outstanding
        private long _keepAliveBytesAtPing;
        private volatile bool _keepAliveExpired;

        internal bool HasKeepAlive => _config.PingIntervalMs > 0;

        internal long KeepAliveInterval => _config.PingIntervalMs;

        /// <summary>One step of the keepalive clock. Keepalive thread only.</summary>
        internal void KeepAliveTick(long now)
        {
            if (_keepAliveNextPing == 0)
            {
                _keepAliveNextPing = now + _config.PingIntervalMs;
                return;
            }
            if (_keepAliveDeadline != 0 && now >= _keepAliveDeadline)
            {
                // Dead only when nothing came in at all: not read by the handler, and nothing waiting in the socket
                // either (a handler busy elsewhere may simply not be reading right now).
                if (Volatile.Read(ref _bytesReceived) == _keepAliveBytesAtPing && !BytesWaiting())
                {
                    _keepAliveExpired = true;
                    _app.Log(LogLevel.Debug, $"fiberws: {Route}: keepalive timeout, closing a dead connection");
                    Abort();
                    return;
                }
                _keepAliveDeadline = 0;
            }
            if (now >= _keepAliveNextPing)
            {
                _keepAliveNextPing = now + _config.PingIntervalMs;
                long before = Volatile.Read(ref _bytesReceived);
                if (_keepAliveDeadline == 0 && TrySendKeepAlivePing() != PingOutcome.Busy)
                {
                    // Also when the socket was full: a peer that neither reads our ping nor sends anything until the
                    // deadline is as dead as one that does not answer.
                    _keepAliveBytesAtPing = before;
                    _keepAliveDeadline = now + _config.EffectivePongTimeoutMs;
                }
            }
        }

        private enum PingOutcome
        {
            Sent,
            NotWritable,
            Busy,
        }

        /// <summary>
        /// Sends a ping when nothing else is being written and the socket has room for it, so the keepalive never
        /// blocks and never leaves a frame half-sent; otherwise this round is skipped.
        /// </summary>
        private PingOutcome TrySendKeepAlivePing()
        {
            if (!Monitor.TryEnter(_writeLock))
            {
                return PingOutcome.Busy;
            }
            try
            {
                if (_closeSent != 0 || _writeBroken || Volatile.Read(ref _finished) != 0)
                {
                    return PingOutcome.Busy;
                }
                if (!SocketWritable())
                {
                    return PingOutcome.NotWritable;
                }
                // The lock is ours (and re-entrant): this is the bounded control write the automatic pong uses.
                ResultCode rc = WriteControlFrame(Opcode.Ping, null, 0, suppressAfterClose: true, boundMs: KeepAlivePingWriteTimeoutMs);
                return rc == ResultCode.Ok ? PingOutcome.Sent : PingOutcome.Busy;
            }
            finally
            {
                Monitor.Exit(_writeLock);
            }
        }

        private bool SocketWritable()
        {
            if (_tls != null && _tls.HasPendingOutput)
            {
                return false;
            }
            bool added = false;
            try
            {
                _fd.DangerousAddRef(ref added);
                Libc.PollFd p = default;
                p.Fd = _fd.Fd;
                p.Events = Libc.POLLOUT;
                return Libc.Poll(&p, 1, 0) == 1 && (p.Revents & Libc.POLLOUT) != 0;
            }
            catch (ObjectDisposedException)
            {
                return false;
            }
            finally
            {
                if (added)
                {
                    _fd.DangerousRelease();
                }
            }
        }

        /// <summary>Bytes received by the kernel and not read yet (a plain socket; TLS records count as well).</summary>
        private bool BytesWaiting()
        {
            bool added = false;
            try
            {
                _fd.DangerousAddRef(ref added);
                int waiting = 0;
                return Libc.Ioctl(_fd.Fd, Libc.FIONREAD, &waiting) == 0 && waiting > 0;
            }
            catch (ObjectDisposedException)
            {
                return false;
            }
            finally
            {
                if (added)
                {
                    _fd.DangerousRelease();
                }
            }
        }
    }
}
