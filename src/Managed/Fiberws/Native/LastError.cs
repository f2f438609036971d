using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Fiberws.Native
{
    /// <summary>
    /// The thread-local "last error" behind fws_last_error(). The message lives in native memory owned by the
    /// thread, so the pointer handed to C never moves; it is overwritten by the next failing call on the thread.
    /// Thread-safety: per thread by construction.
    /// </summary>
    internal static unsafe class LastError
    {
        private static readonly byte s_empty;

        [ThreadStatic] private static byte* t_message;
        [ThreadStatic] private static int t_capacity;
        [ThreadStatic] private static int t_closeCode;

        /// <summary>The message of the last failure on this thread, or "" (never NULL).</summary>
        public static byte* Message
        {
            get
            {
                if (t_message != null)
                {
                    return t_message;
                }
                fixed (byte* empty = &s_empty)
                {
                    // s_empty is a static field of a class: statics live in a frozen/pinned region under NativeAOT
                    // and in the non-moving static area under CoreCLR; returning its address is safe.
                    return empty;
                }
            }
        }

        /// <summary>The close code carried by the last failure on this thread (0 if it was not a close).</summary>
        public static int CloseCode => t_closeCode;

        public static int Set(ResultCode code, string message, int closeCode = 0)
        {
            t_closeCode = closeCode;
            int needed = Encoding.UTF8.GetMaxByteCount(message.Length) + 1;
            if (needed > t_capacity)
            {
                int capacity = Math.Max(256, needed);
                t_message = (byte*)NativeMemory.Realloc(t_message, (nuint)capacity);
                t_capacity = capacity;
            }
            int written = Encoding.UTF8.GetBytes(message, new Span<byte>(t_message, t_capacity - 1));
            t_message[written] = 0;
            return (int)code;
        }

        /// <summary>The code of a connection call: 0, or the failure with the text and close code the connection left on this thread.</summary>
        public static int FromConn(ResultCode rc) =>
            rc == ResultCode.Ok ? 0 : Set(rc, WebSockets.WebSocketConnection.ThreadError, WebSockets.WebSocketConnection.ThreadErrorCloseCode);

        /// <summary>Maps an exception that reached the ABI boundary to a code and records its message.</summary>
        public static int From(Exception e) => e switch
        {
            FwsException fe => Set(fe.Code, fe.Message, fe.CloseCode),
            ArgumentException => Set(ResultCode.ErrInvalidArgument, e.Message),
            ObjectDisposedException => Set(ResultCode.ErrInvalidArgument, e.Message),
            InvalidOperationException => Set(ResultCode.ErrInvalidState, e.Message),
            OutOfMemoryException => Set(ResultCode.ErrInternal, "out of memory"),
            _ => Set(ResultCode.ErrInternal, "internal error: " + e.GetType().Name + ": " + e.Message),
        };

    }
}
