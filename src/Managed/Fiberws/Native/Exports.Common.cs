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

        /// <summary>The library version, packed as (major &lt;&lt; 16) | (minor &lt;&lt; 8) | patch.</summary>
        /// <returns>
        /// The packed version; equals FWS_VERSION_HEX when the header and the library match. Cannot fail.
        /// </returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_version")]
        public static uint Version() => (uint)FwsConstants.VersionHex;

        /// <summary>The library version as text, e.g. "0.1.0".</summary>
        /// <returns>
        /// "major.minor.patch" (FWS_VERSION_MAJOR, FWS_VERSION_MINOR, FWS_VERSION_PATCH of the library). Static
        /// storage: never NULL, never freed, never changes.
        /// </returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_version_string")]
        [return: C("const char*")]
        public static byte* VersionString() => s_versionString;

        /// <summary>
        /// The message of the last failing call on this thread, as NUL-terminated UTF-8. Successful calls leave it as
        /// it is.
        /// </summary>
        /// <returns>
        /// The message, or "" while no call on this thread has returned an FWS_ERR_* code. Never NULL. Lent: valid
        /// until the next failing call on this thread; copy it to keep it.
        /// </returns>
        /// <remarks>
        /// Thread-safety: any thread; each thread has its own last error, so read it on the thread whose call failed.
        /// </remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_last_error")]
        [return: C("const char*")]
        public static byte* LastErrorMessage() => LastError.Message;
    

        /// <summary>The name of a result code, e.g. "FWS_ERR_CLOSED" for -2.</summary>
        /// <returns>
        /// The name, e.g. "FWS_OK"; "FWS_UNKNOWN_RESULT" for a value that is no result code. Static storage: never
        /// NULL, never freed.
        /// </returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_result_name")]
        [return: C("const char*")]
        public static byte* ResultName(int code) =>
            (byte*)(s_resultNames.TryGetValue(code, out nint p) ? p : s_resultNames[int.MinValue]);

        /// <summary>
        /// Formats a close frame payload (FormatCloseMessage): a 2-byte big-endian code followed by the UTF-8 text.
        /// Code 1005 (FWS_CLOSE_NO_STATUS_RECEIVED) gives an empty payload, as in gorilla.
        /// </summary>
        /// <param name="text">Reason text, or NULL for none; read during the call only.</param>
        /// <param name="buf">The caller's buffer of cap bytes; may be NULL when cap is 0 (to ask for the size).</param>
        /// <param name="len_out">
        /// Receives the payload length (also on FWS_ERR_BUFFER_TOO_SMALL). Must not be NULL.
        /// </param>
        /// <returns>
        /// FWS_OK; FWS_ERR_BUFFER_TOO_SMALL when cap is below the length (nothing written); FWS_ERR_INVALID_ARGUMENT
        /// for NULL len_out, a code that may not be sent, or a text that is over 123 bytes, not UTF-8, or given with
        /// code 1005.
        /// </returns>
        /// <remarks>Thread-safety: any thread.</remarks>
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

        /// <summary>The close code that went with this thread's last failure.</summary>
        /// <returns>
        /// After a read that returned FWS_ERR_CLOSED, the close code of the connection's end (the peer's, 1006 when TCP
        /// dropped, or the server's own after a local close); the code the server sent after FWS_ERR_PROTOCOL /
        /// FWS_ERR_READ_LIMIT; 0 when the last failure involved no close. Cannot fail.
        /// </returns>
        /// <remarks>Thread-safety: any thread; per thread, like fws_last_error.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_last_error_close_code")]
        public static int LastErrorCloseCode() => LastError.CloseCode;

        /// <summary>
        /// IsCloseError: whether rc is FWS_ERR_CLOSED and the close code of that failure (this thread's last error) is
        /// one of codes. Call it right after the failing call, on the same thread.
        /// </summary>
        /// <param name="codes">Close codes to test, read during the call only; may be NULL when ncodes is 0.</param>
        /// <returns>
        /// 1 or 0; 0 for any rc other than FWS_ERR_CLOSED and for NULL codes with ncodes above 0. Cannot fail.
        /// </returns>
        /// <remarks>Thread-safety: any thread; it reads this thread's last error.</remarks>
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
        /// IsUnexpectedCloseError: whether rc is FWS_ERR_CLOSED and the close code of that failure is NOT one of codes
        /// (e.g. pass FWS_CLOSE_NORMAL_CLOSURE and FWS_CLOSE_GOING_AWAY to catch abnormal ends). Call it right after
        /// the failing call, on the same thread.
        /// </summary>
        /// <param name="codes">
        /// Close codes that are expected, read during the call only; may be NULL when ncodes is 0.
        /// </param>
        /// <returns>
        /// 1 or 0; 0 for any rc other than FWS_ERR_CLOSED and for NULL codes with ncodes above 0. Cannot fail.
        /// </returns>
        /// <remarks>Thread-safety: any thread; it reads this thread's last error.</remarks>
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
