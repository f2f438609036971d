using System.Numerics;
using System.Runtime.Intrinsics;

namespace Fiberws.Protocol
{
    /// <summary>Applies the client-to-server XOR mask (RFC 6455 §5.3), vectorised, from any offset in the frame.</summary>
    internal static unsafe class Masking
    {
        /// <summary>
        /// XORs <paramref name="length"/> bytes from src into dst (they may be the same) with the 4-byte key
        /// as read from the wire, starting at byte <paramref name="offset"/> of the payload. Returns the new offset (mod 4).
        /// </summary>
        public static int Apply(byte* src, byte* dst, long length, uint key, int offset)
        {
            // Rotate the key so that its first byte lines up with payload byte 'offset'.
            uint k = BitOperations.RotateRight(key, 8 * (offset & 3));
            long i = 0;
            if (Vector256.IsHardwareAccelerated && length >= 32)
            {
                Vector256<byte> vk = Vector256.Create(k).AsByte();
                for (; i + 32 <= length; i += 32)
                {
                    Vector256.Store(Vector256.Load(src + i) ^ vk, dst + i);
                }
            }
            else if (Vector128.IsHardwareAccelerated && length >= 16)
            {
                Vector128<byte> vk = Vector128.Create(k).AsByte();
                for (; i + 16 <= length; i += 16)
                {
                    Vector128.Store(Vector128.Load(src + i) ^ vk, dst + i);
                }
            }
            ulong k8 = k | ((ulong)k << 32);
            for (; i + 8 <= length; i += 8)
            {
                *(ulong*)(dst + i) = *(ulong*)(src + i) ^ k8;
            }
            for (; i < length; i++)
            {
                dst[i] = (byte)(src[i] ^ (byte)(k >> (int)(8 * (i & 3))));
            }
            return (int)((offset + length) & 3);
        }
    }
}
