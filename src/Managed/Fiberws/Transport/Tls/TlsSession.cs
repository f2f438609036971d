using System;
using System.Runtime.InteropServices;
using System.Threading;

namespace Fiberws.Transport.Tls
{
    /// <summary>
    /// TLS on one connection, sans-IO: OpenSSL encrypts into and decrypts from a BIO pair held in memory, and this
    /// class moves the ciphertext between the pair and the socket with our own recv/send (MSG_NOSIGNAL: a peer that
    /// vanished can never raise SIGPIPE in the host process). Recv and Send behave like the system calls they
    /// replace (a count, 0 at end of stream, or -1 with errno: EAGAIN when the socket would block or its timeout
    /// passed, EPROTO for a TLS failure whose text is in <see cref="LastError"/>), so both connection models use the
    /// same code with or without TLS. The socket's own mode (blocking with timeouts, or non-blocking) is kept.
    /// <para>
    /// Thread-safety: one receiving thread and one sending thread may work at once (the blocking API's reader and
    /// its serialised writers). Every OpenSSL call holds the session's lock; the system calls do not: a reader
    /// blocked in recv never holds up a writer. Only one thread at a time sends ciphertext (the flush lock).
    /// Dispose may race with both; the native state is freed once the last of them has left.
    /// </para>
    /// </summary>
    internal sealed unsafe class TlsSession : SafeHandle
    {
        /// <summary>Each direction of the BIO pair buffers this much ciphertext: one full record and its overhead.</summary>
        private const int PairBufferSize = 17 * 1024;

        private readonly object _flushLock = new();
        private nint _net; // our end of the BIO pair; OpenSSL owns the other end

        public TlsSession(TlsContext context) : base(0, true)
        {
            bool added = false;
            context.DangerousAddRef(ref added);
            try
            {
                nint ssl = OpenSsl.SSL_new(context.DangerousGetHandle());
                if (ssl == 0)
                {
                    throw new FwsException(ResultCode.ErrIo, "TLS: SSL_new failed: " + OpenSsl.TakeErrors("out of memory"));
                }
                nint inner, net;
                if (OpenSsl.BIO_new_bio_pair(&inner, PairBufferSize, &net, PairBufferSize) != 1)
                {
                    OpenSsl.SSL_free(ssl);
                    throw new FwsException(ResultCode.ErrIo, "TLS: BIO_new_bio_pair failed: " + OpenSsl.TakeErrors("out of memory"));
                }
                OpenSsl.SSL_set_bio(ssl, inner, inner);
                OpenSsl.SSL_set_accept_state(ssl);
                _net = net;
                SetHandle(ssl);
            }
            finally
            {
                if (added)
                {
                    context.DangerousRelease();
                }
            }
        }

        public override bool IsInvalid => handle == 0;

        /// <summary>Text of the last TLS failure (handshake or record error) on this connection.</summary>
        public string? LastError { get; private set; }

        /// <summary>Ciphertext is waiting to be sent (the socket would not take it all): call <see cref="Flush"/> when writable.</summary>
        public bool HasPendingOutput
        {
            get
            {
                bool added = false;
                try
                {
                    DangerousAddRef(ref added);
                    lock (this)
                    {
                        return OpenSsl.BIO_ctrl_pending(_net) > 0;
                    }
                }
                catch (ObjectDisposedException)
                {
                    return false;
                }
                finally
                {
                    if (added)
                    {
                        DangerousRelease();
                    }
                }
            }
        }

        /// <summary>
        /// Like recv(2) on the plaintext: drives the handshake as needed, returns decrypted bytes, 0 at the end of the
        /// stream (close_notify or TCP EOF), or -1 with errno. Returns what is already decrypted before touching the socket.
        /// </summary>
        public nint Recv(int fd, byte* buffer, nuint length, int flags)
        {
            bool added = false;
            try
            {
                DangerousAddRef(ref added);
                int want = (int)Math.Min(length, int.MaxValue);
                while (true)
                {
                    int r, error;
                    lock (this)
                    {
                        OpenSsl.ERR_clear_error();
                        r = OpenSsl.SSL_read(handle, buffer, want);
                        error = r > 0 ? OpenSsl.SSL_ERROR_NONE : OpenSsl.SSL_get_error(handle, r);
                        if (error == OpenSsl.SSL_ERROR_SSL || error == OpenSsl.SSL_ERROR_SYSCALL)
                        {
                            LastError = "TLS: " + OpenSsl.TakeErrors("protocol error");
                        }
                    }
                    switch (error)
                    {
                        case OpenSsl.SSL_ERROR_NONE:
                            return r;
                        case OpenSsl.SSL_ERROR_ZERO_RETURN:
                            return 0;
                        case OpenSsl.SSL_ERROR_WANT_READ:
                            // Our handshake flight (if any) should leave before we wait for the peer's. Never wait
                            // for the socket here: what it does not take stays pending (the owner flushes it when
                            // the socket is writable, or the next send does), and reading goes on regardless.
                            if (!FlushLocked(fd, flags | Libc.MSG_DONTWAIT, wait: false) && Libc.Errno != Libc.EAGAIN)
                            {
                                return -1;
                            }
                            nint n = ReceiveCiphertext(fd, flags);
                            if (n <= 0)
                            {
                                return n;
                            }
                            continue;
                        case OpenSsl.SSL_ERROR_WANT_WRITE:
                            // OpenSSL's outgoing buffer is full (rare while reading): it must drain before reading
                            // can go on. Non-blocking sockets report EAGAIN; the owner flushes on EPOLLOUT.
                            if (!FlushLocked(fd, flags, wait: (flags & Libc.MSG_DONTWAIT) == 0))
                            {
                                return -1;
                            }
                            continue;
                        default:
                            return Failed(Libc.EPROTO);
                    }
                }
            }
            catch (ObjectDisposedException)
            {
                return Failed(Libc.EBADF);
            }
            finally
            {
                if (added)
                {
                    DangerousRelease();
                }
            }
        }

        /// <summary>
        /// Like send(2) on the plaintext, for non-blocking sockets: first sends ciphertext still pending (if the socket
        /// will not take it, -1 with EAGAIN and nothing consumed), then encrypts as much as the pair holds and sends it.
        /// Returns the plaintext bytes consumed; their ciphertext may still be pending (see <see cref="HasPendingOutput"/>).
        /// </summary>
        public nint Send(int fd, byte* data, nuint length, int flags)
        {
            bool added = false;
            try
            {
                DangerousAddRef(ref added);
                if (!FlushLocked(fd, flags, wait: true))
                {
                    return -1;
                }
                nuint total = 0;
                while (total < length)
                {
                    int r = Encrypt(data + total, length - total, out int error);
                    if (r > 0)
                    {
                        total += (nuint)r;
                        continue;
                    }
                    if (error != OpenSsl.SSL_ERROR_WANT_WRITE)
                    {
                        return total > 0 ? (nint)total : Failed(Libc.EPROTO);
                    }
                    if (!FlushLocked(fd, flags, wait: true))
                    {
                        return total > 0 ? (nint)total : -1;
                    }
                }
                FlushLocked(fd, flags, wait: true); // what the socket does not take now stays pending
                return (nint)total;
            }
            catch (ObjectDisposedException)
            {
                return Failed(Libc.EBADF);
            }
            finally
            {
                if (added)
                {
                    DangerousRelease();
                }
            }
        }

        /// <summary>
        /// Sends all of data (and anything pending) on a blocking socket, honouring its send timeout. Returns 0, or the
        /// errno of the failure (EAGAIN: the timeout passed; EPROTO: TLS failure).
        /// </summary>
        public int SendAll(int fd, byte* data, long length)
        {
            while (length > 0)
            {
                nint n = Send(fd, data, (nuint)length, Libc.MSG_NOSIGNAL);
                if (n < 0)
                {
                    int errno = Libc.Errno;
                    if (errno == Libc.EINTR)
                    {
                        continue;
                    }
                    return errno;
                }
                data += n;
                length -= n;
            }
            return Flush(fd, Libc.MSG_NOSIGNAL) ? 0 : Libc.Errno;
        }

        /// <summary>Sends pending ciphertext. False with errno set when the socket did not take all of it.</summary>
        public bool Flush(int fd, int flags)
        {
            bool added = false;
            try
            {
                DangerousAddRef(ref added);
                return FlushLocked(fd, flags, wait: true);
            }
            catch (ObjectDisposedException)
            {
                Failed(Libc.EBADF);
                return false;
            }
            finally
            {
                if (added)
                {
                    DangerousRelease();
                }
            }
        }

        /// <summary>
        /// Queues TLS close_notify and sends what the socket takes without waiting (best effort: the WebSocket close
        /// handshake has already told the peer the connection ends).
        /// </summary>
        public void SendCloseNotify(int fd)
        {
            bool added = false;
            try
            {
                DangerousAddRef(ref added);
                lock (this)
                {
                    OpenSsl.ERR_clear_error();
                    if (OpenSsl.SSL_is_init_finished(handle) != 0)
                    {
                        OpenSsl.SSL_shutdown(handle);
                    }
                    OpenSsl.ERR_clear_error();
                }
                FlushLocked(fd, Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT, wait: false);
            }
            catch (ObjectDisposedException)
            {
                // already gone
            }
            finally
            {
                if (added)
                {
                    DangerousRelease();
                }
            }
        }

        protected override bool ReleaseHandle()
        {
            OpenSsl.SSL_free(handle); // frees OpenSSL's end of the pair
            OpenSsl.BIO_free(_net);
            _net = 0;
            return true;
        }

        private int Encrypt(byte* data, nuint length, out int error)
        {
            lock (this)
            {
                OpenSsl.ERR_clear_error();
                int r = OpenSsl.SSL_write(handle, data, (int)Math.Min(length, int.MaxValue));
                error = r > 0 ? OpenSsl.SSL_ERROR_NONE : OpenSsl.SSL_get_error(handle, r);
                if (error == OpenSsl.SSL_ERROR_SSL || error == OpenSsl.SSL_ERROR_SYSCALL)
                {
                    LastError = "TLS: " + OpenSsl.TakeErrors("protocol error");
                }
                return r;
            }
        }

        /// <summary>Receives ciphertext from the socket straight into the pair (recv's result and errno).</summary>
        private nint ReceiveCiphertext(int fd, int flags)
        {
            byte* space;
            int room;
            lock (this)
            {
                room = OpenSsl.BIO_nwrite0(_net, &space);
            }
            if (room <= 0)
            {
                LastError = "TLS: receive buffer full while the handshake waits for input";
                return Failed(Libc.EPROTO);
            }
            // Only this (receiving) thread writes into this region of the pair, so the system call needs no lock.
            nint n = Libc.Recv(fd, space, (nuint)room, flags);
            if (n > 0)
            {
                lock (this)
                {
                    OpenSsl.BIO_nwrite(_net, &space, (int)n);
                }
            }
            else if (n < 0)
            {
                Marshal.SetLastPInvokeError(Libc.Errno);
            }
            return n;
        }

        /// <summary>Sends the pair's ciphertext. With wait false, gives up at once if another thread is flushing.</summary>
        private bool FlushLocked(int fd, int flags, bool wait)
        {
            if (wait)
            {
                Monitor.Enter(_flushLock);
            }
            else if (!Monitor.TryEnter(_flushLock))
            {
                return true;
            }
            try
            {
                while (true)
                {
                    byte* data;
                    int available;
                    lock (this)
                    {
                        available = OpenSsl.BIO_nread0(_net, &data);
                    }
                    if (available <= 0)
                    {
                        return true;
                    }
                    // The bytes at data are only consumed below, by the one thread holding the flush lock.
                    nint n = Libc.Send(fd, data, (nuint)available, flags | Libc.MSG_NOSIGNAL);
                    if (n < 0)
                    {
                        int errno = Libc.Errno;
                        if (errno == Libc.EINTR)
                        {
                            continue;
                        }
                        Marshal.SetLastPInvokeError(errno);
                        return false;
                    }
                    lock (this)
                    {
                        OpenSsl.BIO_nread(_net, &data, (int)n);
                    }
                }
            }
            finally
            {
                Monitor.Exit(_flushLock);
            }
        }

        private static nint Failed(int errno)
        {
            Marshal.SetLastPInvokeError(errno);
            return -1;
        }
    }
}
