using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Fiberws.Transport.Tls
{
    /// <summary>
    /// The few OpenSSL calls TLS needs, bound at first use to the system's libssl/libcrypto (3.x, or 1.1) with
    /// dlopen. Nothing links against OpenSSL: a process that never serves wss:// never loads it, and a machine
    /// without it gets a clear error from the TLS listen calls instead of a failure to load the library.
    /// </summary>
    internal static unsafe class OpenSsl
    {
        public const int SSL_ERROR_NONE = 0;
        public const int SSL_ERROR_SSL = 1;
        public const int SSL_ERROR_WANT_READ = 2;
        public const int SSL_ERROR_WANT_WRITE = 3;
        public const int SSL_ERROR_SYSCALL = 5;
        public const int SSL_ERROR_ZERO_RETURN = 6;
        public const int SSL_FILETYPE_PEM = 1;
        public const int SSL_CTRL_MODE = 33;
        public const int SSL_CTRL_SET_MIN_PROTO_VERSION = 123;
        public const long SSL_MODE_ENABLE_PARTIAL_WRITE = 0x1;
        public const long SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER = 0x2;
        public const long SSL_MODE_RELEASE_BUFFERS = 0x10;
        public const ulong SSL_OP_NO_COMPRESSION = 0x00020000;
        public const ulong SSL_OP_CIPHER_SERVER_PREFERENCE = 0x00400000;
        public const ulong SSL_OP_NO_RENEGOTIATION = 0x40000000;
        public const int TLS1_2_VERSION = 0x0303;
        public const int OPENSSL_NPN_NEGOTIATED = 1;
        public const int SSL_TLSEXT_ERR_OK = 0;
        public const int SSL_TLSEXT_ERR_NOACK = 3;

        private static readonly object s_loadLock = new();
        private static volatile bool s_loaded;
        private static string? s_loadError;

        public static delegate* unmanaged<nint> TLS_server_method;
        public static delegate* unmanaged<nint, nint> SSL_CTX_new;
        public static delegate* unmanaged<nint, void> SSL_CTX_free;
        public static delegate* unmanaged<nint, byte*, int> SSL_CTX_use_certificate_chain_file;
        public static delegate* unmanaged<nint, byte*, int, int> SSL_CTX_use_PrivateKey_file;
        public static delegate* unmanaged<nint, int> SSL_CTX_check_private_key;
        public static delegate* unmanaged<nint, int, long, nint, long> SSL_CTX_ctrl;
        public static delegate* unmanaged<nint, ulong, ulong> SSL_CTX_set_options;
        public static delegate* unmanaged<nint, delegate* unmanaged<nint, byte**, byte*, byte*, uint, nint, int>, nint, void> SSL_CTX_set_alpn_select_cb;
        public static delegate* unmanaged<byte**, byte*, byte*, uint, byte*, uint, int> SSL_select_next_proto;
        public static delegate* unmanaged<nint, nint> SSL_new;
        public static delegate* unmanaged<nint, void> SSL_free;
        public static delegate* unmanaged<nint, nint, nint, void> SSL_set_bio;
        public static delegate* unmanaged<nint, void> SSL_set_accept_state;
        public static delegate* unmanaged<nint, byte*, int, int> SSL_read;
        public static delegate* unmanaged<nint, byte*, int, int> SSL_write;
        public static delegate* unmanaged<nint, int, int> SSL_get_error;
        public static delegate* unmanaged<nint, int> SSL_shutdown;
        public static delegate* unmanaged<nint, int> SSL_is_init_finished;
        public static delegate* unmanaged<nint*, nuint, nint*, nuint, int> BIO_new_bio_pair;
        public static delegate* unmanaged<nint, int> BIO_free;
        public static delegate* unmanaged<nint, byte**, int> BIO_nread0;
        public static delegate* unmanaged<nint, byte**, int, int> BIO_nread;
        public static delegate* unmanaged<nint, byte**, int> BIO_nwrite0;
        public static delegate* unmanaged<nint, byte**, int, int> BIO_nwrite;
        public static delegate* unmanaged<nint, nuint> BIO_ctrl_pending;
        public static delegate* unmanaged<ulong> ERR_get_error;
        public static delegate* unmanaged<ulong, byte*, nuint, void> ERR_error_string_n;
        public static delegate* unmanaged<void> ERR_clear_error;

        /// <summary>Loads libssl and libcrypto once; throws FwsException(ErrIo) when they are missing or too old.</summary>
        public static void EnsureLoaded()
        {
            if (s_loaded)
            {
                return;
            }
            lock (s_loadLock)
            {
                if (s_loaded)
                {
                    return;
                }
                if (s_loadError == null)
                {
                    try
                    {
                        Load();
                        s_loaded = true;
                        return;
                    }
                    catch (Exception e)
                    {
                        s_loadError = e.Message;
                    }
                }
                throw new FwsException(ResultCode.ErrIo, "TLS is not available: " + s_loadError);
            }
        }

        private static void Load()
        {
            // The SONAMEs of OpenSSL 3 and 1.1, then the development symlinks.
            nint ssl = Open("libssl.so.3", "libssl.so.1.1", "libssl.so");
            nint crypto = Open("libcrypto.so.3", "libcrypto.so.1.1", "libcrypto.so");
            TLS_server_method = (delegate* unmanaged<nint>)Get(ssl, "TLS_server_method");
            SSL_CTX_new = (delegate* unmanaged<nint, nint>)Get(ssl, "SSL_CTX_new");
            SSL_CTX_free = (delegate* unmanaged<nint, void>)Get(ssl, "SSL_CTX_free");
            SSL_CTX_use_certificate_chain_file = (delegate* unmanaged<nint, byte*, int>)Get(ssl, "SSL_CTX_use_certificate_chain_file");
            SSL_CTX_use_PrivateKey_file = (delegate* unmanaged<nint, byte*, int, int>)Get(ssl, "SSL_CTX_use_PrivateKey_file");
            SSL_CTX_check_private_key = (delegate* unmanaged<nint, int>)Get(ssl, "SSL_CTX_check_private_key");
            SSL_CTX_ctrl = (delegate* unmanaged<nint, int, long, nint, long>)Get(ssl, "SSL_CTX_ctrl");
            SSL_CTX_set_options = (delegate* unmanaged<nint, ulong, ulong>)Get(ssl, "SSL_CTX_set_options");
            SSL_CTX_set_alpn_select_cb = (delegate* unmanaged<nint, delegate* unmanaged<nint, byte**, byte*, byte*, uint, nint, int>, nint, void>)
                Get(ssl, "SSL_CTX_set_alpn_select_cb");
            SSL_select_next_proto = (delegate* unmanaged<byte**, byte*, byte*, uint, byte*, uint, int>)Get(ssl, "SSL_select_next_proto");
            SSL_new = (delegate* unmanaged<nint, nint>)Get(ssl, "SSL_new");
            SSL_free = (delegate* unmanaged<nint, void>)Get(ssl, "SSL_free");
            SSL_set_bio = (delegate* unmanaged<nint, nint, nint, void>)Get(ssl, "SSL_set_bio");
            SSL_set_accept_state = (delegate* unmanaged<nint, void>)Get(ssl, "SSL_set_accept_state");
            SSL_read = (delegate* unmanaged<nint, byte*, int, int>)Get(ssl, "SSL_read");
            SSL_write = (delegate* unmanaged<nint, byte*, int, int>)Get(ssl, "SSL_write");
            SSL_get_error = (delegate* unmanaged<nint, int, int>)Get(ssl, "SSL_get_error");
            SSL_shutdown = (delegate* unmanaged<nint, int>)Get(ssl, "SSL_shutdown");
            SSL_is_init_finished = (delegate* unmanaged<nint, int>)Get(ssl, "SSL_is_init_finished");
            BIO_new_bio_pair = (delegate* unmanaged<nint*, nuint, nint*, nuint, int>)Get(crypto, "BIO_new_bio_pair");
            BIO_free = (delegate* unmanaged<nint, int>)Get(crypto, "BIO_free");
            BIO_nread0 = (delegate* unmanaged<nint, byte**, int>)Get(crypto, "BIO_nread0");
            BIO_nread = (delegate* unmanaged<nint, byte**, int, int>)Get(crypto, "BIO_nread");
            BIO_nwrite0 = (delegate* unmanaged<nint, byte**, int>)Get(crypto, "BIO_nwrite0");
            BIO_nwrite = (delegate* unmanaged<nint, byte**, int, int>)Get(crypto, "BIO_nwrite");
            BIO_ctrl_pending = (delegate* unmanaged<nint, nuint>)Get(crypto, "BIO_ctrl_pending");
            ERR_get_error = (delegate* unmanaged<ulong>)Get(crypto, "ERR_get_error");
            ERR_error_string_n = (delegate* unmanaged<ulong, byte*, nuint, void>)Get(crypto, "ERR_error_string_n");
            ERR_clear_error = (delegate* unmanaged<void>)Get(crypto, "ERR_clear_error");
        }

        private static nint Open(params string[] names)
        {
            foreach (string name in names)
            {
                if (NativeLibrary.TryLoad(name, out nint handle))
                {
                    return handle;
                }
            }
            throw new DllNotFoundException($"none of {string.Join(", ", names)} could be loaded (install OpenSSL 3, e.g. Debian's libssl3)");
        }

        private static nint Get(nint library, string name) =>
            NativeLibrary.TryGetExport(library, name, out nint address)
                ? address
                : throw new EntryPointNotFoundException($"OpenSSL has no {name} (OpenSSL 1.1 or newer is required)");

        /// <summary>Takes every error queued on this thread and returns them as one message (or fallback when none).</summary>
        public static string TakeErrors(string fallback)
        {
            var text = new StringBuilder();
            byte* buffer = stackalloc byte[256];
            for (int i = 0; i < 8; i++)
            {
                ulong code = ERR_get_error();
                if (code == 0)
                {
                    break;
                }
                ERR_error_string_n(code, buffer, 256);
                if (text.Length > 0)
                {
                    text.Append("; ");
                }
                text.Append(Marshal.PtrToStringUTF8((nint)buffer));
            }
            ERR_clear_error();
            return text.Length > 0 ? text.ToString() : fallback;
        }
    }
}
