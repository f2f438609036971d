using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Text;

namespace Fiberws.Tests.Common
{
    /// <summary>How a frame's payload length is written on the wire.</summary>
    internal enum LengthForm
    {
        /// <summary>7-bit for 0..125, 16-bit for 126..65535, 64-bit above (RFC 6455 §5.2).</summary>
        Minimal,
        Force16,
        Force64,
    }

    /// <summary>Builds client-to-server frames byte by byte, independently of the library under test.</summary>
    internal static class ClientFrames
    {
        public const int Continuation = 0x0;
        public const int Text = 0x1;
        public const int Binary = 0x2;
        public const int Close = 0x8;
        public const int Ping = 0x9;
        public const int Pong = 0xA;

        public const byte Rsv1 = 0x40;
        public const byte Rsv2 = 0x20;
        public const byte Rsv3 = 0x10;

        private static int s_keySeed = 0x5EED;

        /// <summary>A fresh, deterministic, never-zero mask key (so masking really changes the bytes).</summary>
        public static byte[] NextKey()
        {
            var r = new Random(System.Threading.Interlocked.Increment(ref s_keySeed));
            var key = new byte[4];
            for (int i = 0; i < 4; i++)
            {
                key[i] = (byte)r.Next(1, 256);
            }
            return key;
        }

        /// <summary>The frame header: FIN/RSV/opcode, mask bit, 7/16/64-bit length and (when masked) the key.</summary>
        public static byte[] Header(int opcode, bool fin, ulong length, bool masked = true, byte[]? key = null, byte rsv = 0, LengthForm form = LengthForm.Minimal)
        {
            var h = new List<byte>(14);
            h.Add((byte)((fin ? 0x80 : 0) | rsv | (opcode & 0x0F)));
            byte maskBit = masked ? (byte)0x80 : (byte)0;
            if (form == LengthForm.Minimal && length <= 125)
            {
                h.Add((byte)(maskBit | (byte)length));
            }
            else if (form == LengthForm.Force16 || (form == LengthForm.Minimal && length <= 0xFFFF))
            {
                h.Add((byte)(maskBit | 126));
                h.Add((byte)(length >> 8));
                h.Add((byte)length);
            }
            else
            {
                h.Add((byte)(maskBit | 127));
                for (int shift = 56; shift >= 0; shift -= 8)
                {
                    h.Add((byte)(length >> shift));
                }
            }
            if (masked)
            {
                h.AddRange(key ?? throw new ArgumentNullException(nameof(key)));
            }
            return h.ToArray();
        }

        /// <summary>A whole frame; the payload is masked with key (a fresh one when null) unless masked is false.</summary>
        public static byte[] Frame(int opcode, ReadOnlySpan<byte> payload, bool fin = true, bool masked = true, byte[]? key = null, byte rsv = 0, LengthForm form = LengthForm.Minimal)
        {
            key ??= NextKey();
            byte[] header = Header(opcode, fin, (ulong)payload.Length, masked, key, rsv, form);
            var frame = new byte[header.Length + payload.Length];
            header.CopyTo(frame, 0);
            payload.CopyTo(frame.AsSpan(header.Length));
            if (masked)
            {
                Mask(frame.AsSpan(header.Length), key);
            }
            return frame;
        }

        public static byte[] TextFrame(string text, bool fin = true) => Frame(Text, Encoding.UTF8.GetBytes(text), fin);

        public static byte[] BinaryFrame(byte[] data, bool fin = true) => Frame(Binary, data, fin);

        public static byte[] ContinuationFrame(ReadOnlySpan<byte> data, bool fin) => Frame(Continuation, data, fin);

        public static byte[] ContinuationFrame(string text, bool fin) => Frame(Continuation, Encoding.UTF8.GetBytes(text), fin);

        public static byte[] PingFrame(ReadOnlySpan<byte> data) => Frame(Ping, data);

        public static byte[] PongFrame(ReadOnlySpan<byte> data) => Frame(Pong, data);

        /// <summary>A close frame with a status code and reason.</summary>
        public static byte[] CloseWith(int code, string reason = "") => Frame(Close, ClosePayload(code, reason));

        public static byte[] ClosePayload(int code, string reason = "")
        {
            byte[] r = Encoding.UTF8.GetBytes(reason);
            var p = new byte[2 + r.Length];
            BinaryPrimitives.WriteUInt16BigEndian(p, (ushort)code);
            r.CopyTo(p, 2);
            return p;
        }

        /// <summary>XORs data with the key, starting at payload byte offset (the naive definition of RFC 6455 §5.3).</summary>
        public static void Mask(Span<byte> data, byte[] key, int offset = 0)
        {
            for (int i = 0; i < data.Length; i++)
            {
                data[i] ^= key[(offset + i) & 3];
            }
        }

        public static byte[] Concat(params byte[][] parts)
        {
            int total = 0;
            foreach (byte[] p in parts)
            {
                total += p.Length;
            }
            var all = new byte[total];
            int at = 0;
            foreach (byte[] p in parts)
            {
                p.CopyTo(all, at);
                at += p.Length;
            }
            return all;
        }

        public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

        public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", string.Empty));

        /// <summary>A deterministic byte pattern of the given length.</summary>
        public static byte[] Pattern(int length, int seed = 7)
        {
            var data = new byte[length];
            new Random(seed).NextBytes(data);
            return data;
        }
    }
}
