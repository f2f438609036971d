using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Fiberws.Native
{
    /// <summary>
    /// The thread-local "last error" behind fws_last_error(). The message lives in native memory owned by the
    /// thread, so the pointer handed to C never moves; it is overwritten by the next failing call on the thread and
    /// freed after the thread exits.
    /// Thread-safety: per thread by construction.
    /// </summary>
    internal static unsafe class LastError
    {
        private static readonly byte s_empty;

        [ThreadStatic] private static MessageBuffer? t_buffer;
        [ThreadStatic] private static int t_closeCode;

        /// <summary>
        /// The thread's message in native memory. When the thread exits, nothing references the holder any more and
        /// its finalizer frees the memory: threads that come and go (handler threads, the application's own) leak nothing.
        /// </summary>
        private sealed class MessageBuffer
        {
            public byte* Ptr;
            public int Capacity;

            ~MessageBuffer()
            {
                NativeMemory.Free(Ptr);
                Ptr = null;
            }
        }

        /// <summary>The message of the last failure on this thread, or "" (never NULL).</summary>
        public static byte* Message
        {
            get
            {
                MessageBuffer? buffer = t_buffer;
                if (buffer != null)
                {
                    return buffer.Ptr;
                }
                fixed (byte* empty = &s_empty)
                {
                    // s_empty is a static field of a class: statics live in a frozen/pinned region under NativeAOT
                    // and in the non-moving static area under CoreCLR; returning its address is safe.
                    return empty;
                }
            }
        }

        /// <summary>Frees this thread's message now (a library thread about to exit); the next failure allocates again.</summary>
        public static void ReleaseThread()
        {
            MessageBuffer? buffer = t_buffer;
            if (buffer != null)
            {
                t_buffer = null;
                NativeMemory.Free(buffer.Ptr);
                buffer.Ptr = null;
                GC.SuppressFinalize(buffer);
            }
        }

        /// <summary>The close code carried by the last failure on this thread (0 if it was not a close).</summary>
        public static int CloseCode => t_closeCode;

        public static int Set(ResultCode code, string message, int closeCode = 0)
        {
            t_closeCode = closeCode;
            int needed = Encoding.UTF8.GetMaxByteCount(message.Length) + 1;
            MessageBuffer buffer = t_buffer ??= new MessageBuffer();
            if (needed > buffer.Capacity)
            {
                int capacity = Math.Max(256, needed);
                buffer.Ptr = (byte*)NativeMemory.Realloc(buffer.Ptr, (nuint)capacity);
                buffer.Capacity = capacity;
            }
            int written = Encoding.UTF8.GetBytes(message, new Span<byte>(buffer.Ptr, buffer.Capacity - 1));
            buffer.Ptr[written] = 0;
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
