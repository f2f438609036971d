using System;
using System.Threading;
using Fiberws.Protocol;

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
                if (Volatile.Read(ref _bytesReceived) == _keepAliveBytesAtPing)
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
                if (_keepAliveDeadline == 0 && TrySendKeepAlivePing())
                {
                    _keepAliveBytesAtPing = before;
                    _keepAliveDeadline = now + _config.EffectivePongTimeoutMs;
                }
            }
        }

        /// <summary>Sends a ping unless a write is in progress (then this round is skipped); never blocks for long.</summary>
        private bool TrySendKeepAlivePing()
        {
            if (!Monitor.TryEnter(_writeLock))
            {
                return false;
            }
            try
            {
                if (_closeSent != 0 || _writeBroken || Volatile.Read(ref _finished) != 0)
                {
                    return false;
                }
                long saved = _writeDeadline;
                long bound = Environment.TickCount64 + KeepAlivePingWriteTimeoutMs;
                _writeDeadline = saved != 0 ? Math.Min(saved, bound) : bound;
                ResultCode rc = WriteFrameLocked(Opcode.Ping, null, 0);
                _writeDeadline = saved;
                return rc == ResultCode.Ok;
            }
            finally
            {
                Monitor.Exit(_writeLock);
            }
        }
    }
}
