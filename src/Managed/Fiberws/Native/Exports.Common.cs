using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Fiberws.Native
{
    /// <summary>Version, errors and helpers that need no handle.</summary>
    [CGroup("Version and errors", Order = -1)]
    internal static unsafe class ExportsCommon
    {
        private static readonly byte* s_versionString = Utf8Static.Make(
            $"{FwsConstants.VersionMajor}.{FwsConstants.VersionMinor}.{FwsConstants.VersionPatch}");

        private static readonly System.Collections.Generic.Dictionary<int, nint> s_resultNames = MakeResultNames();

        private static System.Collections.Generic.Dictionary<int, nint> MakeResultNames()
        {
            var names = new System.Collections.Generic.Dictionary<int, nint>();
            foreach (ResultCode code in Enum.GetValues<ResultCode>())
            {
                names[(int)code] = (nint)Utf8Static.Make(CName(code.ToString()));
            }
            names[int.MinValue] = (nint)Utf8Static.Make("FWS_UNKNOWN_RESULT");
            return names;
        }

        private static string CName(string member)
        {
            var sb = new System.Text.StringBuilder("FWS_");
            for (int i = 0; i < member.Length; i++)
            {
                if (i > 0 && char.IsUpper(member[i]))
                {
                    sb.Append('_');
                }
                sb.Append(char.ToUpperInvariant(member[i]));
            }
            return sb.ToString();
        }

        /// <summary>The library version, packed as (major &lt;&lt; 16) | (minor &lt;&lt; 8) | patch; compare with FWS_VERSION_HEX.</summary>
        /// <remarks>Thread-safe.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_version")]
        public static uint Version() => (uint)FwsConstants.VersionHex;

        /// <summary>The library version as text, e.g. "0.1.0". Static storage: never freed, never changes.</summary>
        /// <remarks>Thread-safe.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_version_string")]
        [return: C("const char*")]
        public static byte* VersionString() => s_versionString;

        /// <summary>
        /// The message of the last failing call on this thread, as NUL-terminated UTF-8; "" when none failed yet.
        /// Never NULL. Lent: valid until the next failing call on the same thread. Successful calls leave it as it is.
        /// </summary>
        /// <remarks>Thread-local: read it on the thread whose call failed.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_last_error")]
        [return: C("const char*")]
        public static byte* LastErrorMessage() => LastError.Message;
    

        /// <summary>The name of a result code, e.g. "FWS_ERR_CLOSED"; "FWS_UNKNOWN_RESULT" for other values. Static storage.</summary>
        /// <remarks>Thread-safe.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_result_name")]
        [return: C("const char*")]
        public static byte* ResultName(int code) =>
            (byte*)(s_resultNames.TryGetValue(code, out nint p) ? p : s_resultNames[int.MinValue]);

        /// <summary>
        /// Formats a close frame payload (FormatCloseMessage): a 2-byte big-endian code followed by the UTF-8 text.
        /// Code 1005 (FWS_CLOSE_NO_STATUS_RECEIVED) gives an empty payload, as in gorilla.
        /// </summary>
        /// <param name="text">Reason text, or NULL for none.</param>
        /// <param name="buf">Where to write; may be NULL when cap is 0 (to ask for the size).</param>
        /// <param name="len_out">Receives the payload length (also on FWS_ERR_BUFFER_TOO_SMALL).</param>
        /// <returns>FWS_OK; FWS_ERR_BUFFER_TOO_SMALL; FWS_ERR_INVALID_ARGUMENT for a code that may not be sent, or a text over 123 bytes.</returns>
        [UnmanagedCallersOnly(EntryPoint = "fws_format_close_message")]
        public static int FormatCloseMessage(int code, [C("const char*")] byte* text, byte* buf, nuint cap, nuint* len_out)
        {
            try
            {
                Abi.NotNull(len_out, "len_out");
                byte[] reason = System.Text.Encoding.UTF8.GetBytes(text == null ? string.Empty : Abi.Str(text, "text"));
                string? invalid = Protocol.CloseFrame.CheckOutgoing(code, reason);
                if (invalid != null)
                {
                    return LastError.Set(ResultCode.ErrInvalidArgument, invalid);
                }
                int needed = code == Protocol.CloseFrame.NoStatusReceived ? 0 : 2 + reason.Length;
                *len_out = (nuint)needed;
                if (cap < (nuint)needed || (buf == null && needed > 0))
                {
                    return LastError.Set(ResultCode.ErrBufferTooSmall, $"the close message needs {needed} bytes; cap is {cap}");
                }
                Protocol.CloseFrame.Format(code, reason, new Span<byte>(buf, needed));
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// The close code that went with this thread's last failure: the peer's code (1006 when TCP dropped) after a
        /// read that returned FWS_ERR_CLOSED, the code the server sent after FWS_ERR_PROTOCOL / FWS_ERR_READ_LIMIT, 0
        /// when the last failure involved no close.
        /// </summary>
        /// <remarks>Thread-local, like fws_last_error.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_last_error_close_code")]
        public static int LastErrorCloseCode() => LastError.CloseCode;

        /// <summary>
        /// IsCloseError: 1 when rc is FWS_ERR_CLOSED and the close code of that failure (this thread's last error) is
        /// one of codes; else 0. Call it right after the failing call, on the same thread.
        /// </summary>
        /// <param name="codes">Close codes to test; may be NULL when ncodes is 0.</param>
        [UnmanagedCallersOnly(EntryPoint = "fws_is_close_error")]
        public static int IsCloseError(int rc, [C("const int32_t*")] int* codes, nuint ncodes)
        {
            if (rc != (int)ResultCode.ErrClosed || (codes == null && ncodes > 0))
            {
                return 0;
            }
            int code = LastError.CloseCode;
            for (nuint i = 0; i < ncodes; i++)
            {
                if (codes[i] == code)
                {
                    return 1;
                }
            }
            return 0;
        }

        /// <summary>
        /// IsUnexpectedCloseError: 1 when rc is FWS_ERR_CLOSED and the close code of that failure is NOT one of codes
        /// (e.g. pass FWS_CLOSE_NORMAL_CLOSURE and FWS_CLOSE_GOING_AWAY to catch abnormal ends); else 0.
        /// Call it right after the failing call, on the same thread.
        /// </summary>
        [UnmanagedCallersOnly(EntryPoint = "fws_is_unexpected_close_error")]
        public static int IsUnexpectedCloseError(int rc, [C("const int32_t*")] int* codes, nuint ncodes)
        {
            if (rc != (int)ResultCode.ErrClosed || (codes == null && ncodes > 0))
            {
                return 0;
            }
            int code = LastError.CloseCode;
            for (nuint i = 0; i < ncodes; i++)
            {
                if (codes[i] == code)
                {
                    return 0;
                }
            }
            return 1;
        }
    }
}
