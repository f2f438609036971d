using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

namespace Fiberws.Transport.Tls
{
    /// <summary>
    /// A server's TLS settings: its certificate chain and private key (PEM files), TLS 1.2 or newer, no
    /// renegotiation, no TLS compression, and ALPN answering "http/1.1" (the only protocol a WebSocket
    /// upgrade can use). Immutable once built; shared by every connection of a listener.
    /// </summary>
    internal sealed unsafe class TlsContext : SafeHandle
    {
        /// <summary>The ALPN protocol list we accept, in wire format (length-prefixed), in native memory for OpenSSL.</summary>
        private static readonly byte* s_alpn = CreateAlpnList();

        private TlsContext() : base(0, true)
        {
        }

        public override bool IsInvalid => handle == 0;

        /// <summary>Loads certFile (the server certificate, then any intermediates) and keyFile (unencrypted PEM).</summary>
        public static TlsContext Create(string certFile, string keyFile)
        {
            OpenSsl.EnsureLoaded();
            CheckReadable(certFile, "certificate");
            CheckReadable(keyFile, "private key");
            OpenSsl.ERR_clear_error();
            var context = new TlsContext();
            nint ctx = OpenSsl.SSL_CTX_new(OpenSsl.TLS_server_method());
            if (ctx == 0)
            {
                throw Error("SSL_CTX_new failed");
            }
            context.SetHandle(ctx);
            OpenSsl.SSL_CTX_ctrl(ctx, OpenSsl.SSL_CTRL_SET_MIN_PROTO_VERSION, OpenSsl.TLS1_2_VERSION, 0);
            OpenSsl.SSL_CTX_set_options(ctx, OpenSsl.SSL_OP_NO_COMPRESSION | OpenSsl.SSL_OP_NO_RENEGOTIATION |
                                             OpenSsl.SSL_OP_CIPHER_SERVER_PREFERENCE);
            // Partial writes and moving buffers suit non-blocking sends; idle connections give their record buffers back.
            OpenSsl.SSL_CTX_ctrl(ctx, OpenSsl.SSL_CTRL_MODE, OpenSsl.SSL_MODE_ENABLE_PARTIAL_WRITE |
                                 OpenSsl.SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | OpenSsl.SSL_MODE_RELEASE_BUFFERS, 0);
            byte[] cert = Encoding.UTF8.GetBytes(certFile + "\0");
            byte[] key = Encoding.UTF8.GetBytes(keyFile + "\0");
            fixed (byte* c = cert, k = key)
            {
                if (OpenSsl.SSL_CTX_use_certificate_chain_file(ctx, c) != 1)
                {
                    context.Dispose();
                    throw Error($"cannot use certificate {certFile}");
                }
                if (OpenSsl.SSL_CTX_use_PrivateKey_file(ctx, k, OpenSsl.SSL_FILETYPE_PEM) != 1)
                {
                    context.Dispose();
                    throw Error($"cannot use private key {keyFile}");
                }
            }
            if (OpenSsl.SSL_CTX_check_private_key(ctx) != 1)
            {
                context.Dispose();
                throw Error($"private key {keyFile} does not match certificate {certFile}");
            }
            OpenSsl.SSL_CTX_set_alpn_select_cb(ctx, &SelectAlpn, 0);
            return context;
        }

        protected override bool ReleaseHandle()
        {
            OpenSsl.SSL_CTX_free(handle);
            return true;
        }

        private static void CheckReadable(string path, string what)
        {
            if (!File.Exists(path))
            {
                throw new FwsException(ResultCode.ErrInvalidArgument, $"TLS {what} file not found: {path}");
            }
        }

        private static FwsException Error(string what) =>
            new(ResultCode.ErrInvalidArgument, "TLS: " + what + ": " + OpenSsl.TakeErrors("no detail from OpenSSL"));

        /// <summary>ALPN: choose http/1.1 when the client offers it; otherwise carry on without ALPN.</summary>
        [UnmanagedCallersOnly]
        private static int SelectAlpn(nint ssl, byte** selected, byte* selectedLength, byte* offered, uint offeredLength, nint arg)
        {
            byte* chosen;
            byte chosenLength;
            int r = OpenSsl.SSL_select_next_proto(&chosen, &chosenLength, s_alpn, 9, offered, offeredLength);
            if (r != OpenSsl.OPENSSL_NPN_NEGOTIATED)
            {
                return OpenSsl.SSL_TLSEXT_ERR_NOACK;
            }
            *selected = chosen;
            *selectedLength = chosenLength;
            return OpenSsl.SSL_TLSEXT_ERR_OK;
        }

        private static byte* CreateAlpnList()
        {
            byte* list = (byte*)NativeMemory.Alloc(9);
            list[0] = 8;
            "http/1.1"u8.CopyTo(new Span<byte>(list + 1, 8));
            return list;
        }
    }
}
