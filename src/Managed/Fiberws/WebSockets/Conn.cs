using System;
using System.Net;
using System.Runtime.InteropServices;
using System.Threading;
using Fiberws.Protocol;
using Fiberws.Server;
using Fiberws.Transport;
using Fiberws.Transport.Tls;

namespace Fiberws.WebSockets
{
    /// <summary>
    /// A WebSocket connection served by a blocking handler on its own thread (Fiber's *websocket.Conn).
    /// <para>
    /// Thread-safety: one reader at a time (a second concurrent read gets <see cref="ResultCode.ErrBusy"/>);
    /// writes from any number of threads are serialised (gorilla panics on concurrent writes; here they queue).
    /// Close and WriteControl may be called from any thread, alongside a reader and writers. Once the handler has
    /// returned and the connection is finished, every call fails with <see cref="ResultCode.ErrClosed"/>.
    /// </para>
    /// The try-pattern methods return a <see cref="ResultCode"/> and leave the failure's text in
    /// <see cref="WebSocketConnection.ThreadError"/> (thread-local); the exception-throwing methods wrap them.
    /// </summary>
    public sealed unsafe partial class Conn : WebSocketConnection
    {
        private readonly App _app;
        private readonly SocketFd _fd;
        private readonly TlsSession? _tls;
        private readonly WebSocketConfig _config;
        private readonly byte[] _handshakeResponse;
        private readonly Action<Conn> _handler;
        private readonly long _acceptedAt;

        internal Conn(App app, Ctx ctx, SocketFd fd, TlsSession? tls, WebSocketConfig config, Handshake.HandshakeResult handshake, byte[] handshakeResponse,
                      ReadOnlySpan<byte> pending, Action<Conn> handler, string route, long acceptedAt)
            : base(ctx, handshake.Subprotocol, route)
        {
            _acceptedAt = acceptedAt;
            _app = app;
            _fd = fd;
            _tls = tls;
            _config = config;
            _handshakeResponse = handshakeResponse;
            _handler = handler;
            _reader = new MessageReader { ReadLimit = config.ReadLimit, MaxFrames = config.MaxFramesPerMessage };
            InitCompression(handshake.Deflate, config, _reader);
            _readCapacity = config.EffectiveReadBufferSize;
            _writeCapacity = config.EffectiveWriteBufferSize;
            if (!pending.IsEmpty)
            {
                // Bytes the client sent right behind its handshake: they are the start of the frame stream.
                EnsureReadBuffer(pending.Length);
                pending.CopyTo(new Span<byte>(_readBuffer, pending.Length));
                _readEnd = pending.Length;
            }
        }

        /// <summary>Sets the largest message the connection accepts (0 = no limit); applies from the next message.</summary>
        public override void SetReadLimit(long limit)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(limit);
            _reader.ReadLimit = limit;
        }

        /// <summary>Runs the connection on the calling thread: finishes the upgrade, runs the handler, closes.</summary>
        internal void Run()
        {
            Exception? failure = null;
            bool upgraded = false;
            _app.MarkServingThread();
            try
            {
                Libc.SetNonBlocking(_fd.Fd, false);
                long handshakeMs = (long)_config.HandshakeTimeout.TotalMilliseconds;
                if (handshakeMs > 0)
                {
                    // HandshakeTimeout covers the whole upgrade, the 101 response included.
                    SetWriteDeadline(TimeSpan.FromMilliseconds(Math.Max(0, _acceptedAt + handshakeMs - Environment.TickCount64)));
                }
                fixed (byte* p = _handshakeResponse)
                {
                    upgraded = (handshakeMs <= 0 || _acceptedAt + handshakeMs > Environment.TickCount64) &&
                               SendAll(p, _handshakeResponse.Length) == ResultCode.Ok;
                }
                SetWriteDeadline(TimeSpan.Zero);
                if (upgraded)
                {
                    _handler(this);
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
            try
            {
                if (failure != null)
                {
                    Recover(failure);
                }
                else if (upgraded)
                {
                    Close((int)CloseCode.CloseNormalClosure, string.Empty);
                }
            }
            catch (Exception e)
            {
                _app.ReportError($"fiberws: closing connection on {Route} failed: {e.Message}");
            }
            Finish();
        }

        private void Recover(Exception failure) => RunRecoverHandler(failure, _app, _config);
    }
}
