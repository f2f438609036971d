using System;
using System.Buffers.Binary;
using System.Numerics;

namespace Fiberws.Handshake
{
    /// <summary>
    /// SHA-1 (FIPS 180-4) for Sec-WebSocket-Accept only: keeps the handshake free of the OpenSSL shim that
    /// System.Security.Cryptography loads at run time, which matters for single static binaries. Not for security use.
    /// </summary>
    internal static class Sha1
    {
        public static void Hash(ReadOnlySpan<byte> data, Span<byte> digest)
        {
            uint h0 = 0x67452301, h1 = 0xEFCDAB89, h2 = 0x98BADCFE, h3 = 0x10325476, h4 = 0xC3D2E1F0;
            Span<uint> w = stackalloc uint[80];
            Span<byte> block = stackalloc byte[64];
            long bitLength = (long)data.Length * 8;
            int offset = 0;
            bool lengthWritten = false;
            bool padStarted = false;
            while (!lengthWritten)
            {
                int take = Math.Max(0, Math.Min(64, data.Length - offset));
                data.Slice(offset, take).CopyTo(block);
                offset += take;
                if (take < 64)
                {
                    block.Slice(take).Clear();
                    if (!padStarted)
                    {
                        block[take] = 0x80;
                        padStarted = true;
                        take++;
                    }
                    if (take <= 56)
                    {
                        BinaryPrimitives.WriteInt64BigEndian(block.Slice(56), bitLength);
                        lengthWritten = true;
                    }
                }
                for (int i = 0; i < 16; i++)
                {
                    w[i] = BinaryPrimitives.ReadUInt32BigEndian(block.Slice(i * 4));
                }
                for (int i = 16; i < 80; i++)
                {
                    w[i] = BitOperations.RotateLeft(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
                }
                uint a = h0, b = h1, c = h2, d = h3, e = h4;
                for (int i = 0; i < 80; i++)
                {
                    uint f, k;
                    if (i < 20)
                    {
                        f = (b & c) | (~b & d);
                        k = 0x5A827999;
                    }
                    else if (i < 40)
                    {
                        f = b ^ c ^ d;
                        k = 0x6ED9EBA1;
                    }
                    else if (i < 60)
                    {
                        f = (b & c) | (b & d) | (c & d);
                        k = 0x8F1BBCDC;
                    }
                    else
                    {
                        f = b ^ c ^ d;
                        k = 0xCA62C1D6;
                    }
                    uint temp = BitOperations.RotateLeft(a, 5) + f + e + k + w[i];
                    e = d;
                    d = c;
                    c = BitOperations.RotateLeft(b, 30);
                    b = a;
                    a = temp;
                }
                h0 += a;
                h1 += b;
                h2 += c;
                h3 += d;
                h4 += e;
            }
            BinaryPrimitives.WriteUInt32BigEndian(digest, h0);
            BinaryPrimitives.WriteUInt32BigEndian(digest.Slice(4), h1);
            BinaryPrimitives.WriteUInt32BigEndian(digest.Slice(8), h2);
            BinaryPrimitives.WriteUInt32BigEndian(digest.Slice(12), h3);
            BinaryPrimitives.WriteUInt32BigEndian(digest.Slice(16), h4);
        }
    }
}
