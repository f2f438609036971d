using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;
using Fiberws.Server;

namespace Fiberws.Native
{
    /// <summary>
    /// Native, NUL-terminated UTF-8 copies of the strings a request lends to C (params, query values, cookies,
    /// headers, ...). One copy per key, kept until the request ends (for a WebSocket: until the connection
    /// finishes), so repeated lookups neither allocate nor invalidate earlier pointers. Thread-safe.
    /// </summary>
    internal sealed unsafe class NativeStrings : IDisposable
    {
        private readonly Dictionary<string, (nint Ptr, int Length)> _copies = new(StringComparer.Ordinal);
        private bool _disposed;

        public static NativeStrings For(Ctx ctx)
        {
            lock (ctx)
            {
                if (ctx.Attachment is NativeStrings s)
                {
                    return s;
                }
                s = new NativeStrings();
                ctx.Attachment = s;
                return s;
            }
        }

        /// <summary>Lends value under key; writes pointer and byte length.</summary>
        public void Lend(string key, string value, byte** valueOut, nuint* lengthOut)
        {
            lock (_copies)
            {
                if (_disposed)
                {
                    throw new FwsException(ResultCode.ErrClosed, "the request or connection has ended");
                }
                if (!_copies.TryGetValue(key, out (nint Ptr, int Length) copy) || !Matches(copy, value))
                {
                    if (copy.Ptr != 0)
                    {
                        // The value changed under the same key: keep the old copy alive under a unique key so a
                        // pointer lent earlier stays valid until the end, as documented.
                        _copies["\0old" + _copies.Count + key] = copy;
                    }
                    copy = ((nint)Utf8Static.Make(value), Encoding.UTF8.GetByteCount(value));
                    _copies[key] = copy;
                }
                *valueOut = (byte*)copy.Ptr;
                if (lengthOut != null)
                {
                    *lengthOut = (nuint)copy.Length;
                }
            }
        }

        public void Dispose()
        {
            lock (_copies)
            {
                _disposed = true;
                foreach ((nint ptr, int _) in _copies.Values)
                {
                    NativeMemory.Free((void*)ptr);
                }
                _copies.Clear();
            }
        }

        private static bool Matches((nint Ptr, int Length) copy, string value)
        {
            var bytes = new ReadOnlySpan<byte>((byte*)copy.Ptr, copy.Length);
            return Encoding.UTF8.GetByteCount(value) == bytes.Length && Encoding.UTF8.GetString(bytes) == value;
        }
    }
}
