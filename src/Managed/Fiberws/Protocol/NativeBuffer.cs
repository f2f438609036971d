using System;
using System.Runtime.InteropServices;

namespace Fiberws.Protocol
{
    /// <summary>
    /// A growable block of native memory. Its address only changes when it grows, so a pointer to its bytes can
    /// be lent to C until the owner grows, resets or frees it. Not thread-safe; owned by one reader or writer.
    /// </summary>
    internal unsafe struct NativeBuffer
    {
        public byte* Ptr;
        public long Length;
        public long Capacity;

        public readonly Span<byte> Written => new(Ptr, checked((int)Length));

        /// <summary>Makes room for <paramref name="extra"/> more bytes past Length, growing geometrically.</summary>
        public void Reserve(long extra)
        {
            long needed = Length + extra;
            if (needed <= Capacity)
            {
                return;
            }
            long capacity = Math.Max(Math.Max(needed, Capacity * 2), 256);
            if (capacity > int.MaxValue)
            {
                capacity = Math.Max(needed, int.MaxValue);
                if (capacity > int.MaxValue)
                {
                    throw new OutOfMemoryException("message larger than 2 GiB");
                }
            }
            Ptr = (byte*)NativeMemory.Realloc(Ptr, (nuint)capacity);
            Capacity = capacity;
        }

        /// <summary>
        /// Gives the memory back when it grew for one big message and the last use needed under a quarter of it
        /// (called before the buffer is reused, while its contents are no longer lent).
        /// </summary>
        public void ShrinkIfOversized()
        {
            if (Capacity > 1 << 20 && Length < Capacity / 4)
            {
                Free();
            }
        }

        public void Free()
        {
            NativeMemory.Free(Ptr);
            Ptr = null;
            Length = 0;
            Capacity = 0;
        }
    }
}
