using System.Buffers.Binary;

namespace Fiberws.Protocol
{
    /// <summary>Server-side frame headers (unmasked, RFC 6455 §5.2).</summary>
    internal static unsafe class FrameHeader
    {
        public const int MaxServerHeader = 10;
        public const int MaxClientHeader = 14;
        public const byte FinBit = 0x80;
        public const byte Rsv1Bit = 0x40;
        public const byte MaskBit = 0x80;

        /// <summary>Writes a server frame header (no mask) into dst; returns its length (2, 4 or 10).</summary>
        public static int Write(byte* dst, int opcode, bool fin, bool rsv1, long payloadLength)
        {
            dst[0] = (byte)((fin ? FinBit : 0) | (rsv1 ? Rsv1Bit : 0) | opcode);
            if (payloadLength < 126)
            {
                dst[1] = (byte)payloadLength;
                return 2;
            }
            if (payloadLength <= ushort.MaxValue)
            {
                dst[1] = 126;
                BinaryPrimitives.WriteUInt16BigEndian(new System.Span<byte>(dst + 2, 2), (ushort)payloadLength);
                return 4;
            }
            dst[1] = 127;
            BinaryPrimitives.WriteUInt64BigEndian(new System.Span<byte>(dst + 2, 8), (ulong)payloadLength);
            return 10;
        }
    }
}
