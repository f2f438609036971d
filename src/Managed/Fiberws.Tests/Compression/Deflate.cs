using System;
using System.Buffers.Binary;
using System.IO;
using System.IO.Compression;
using Fiberws.Tests.Common;
using NUnit.Framework;

namespace Fiberws.Tests.Compression
{
    /// <summary>
    /// Client-side permessage-deflate for the tests, built on System.IO.Compression.DeflateStream (raw deflate) so it
    /// is independent of the library's own zlib calls.
    /// </summary>
    internal static class Deflate
    {
        public static readonly byte[] Tail = { 0x00, 0x00, 0xFF, 0xFF };

        /// <summary>One message compressed on its own (no context): sync flush, tail removed (RFC 7692 §7.2.1).</summary>
        public static byte[] Compress(ReadOnlySpan<byte> data, CompressionLevel level = CompressionLevel.Optimal)
        {
            var ms = new MemoryStream();
            var z = new DeflateStream(ms, level, leaveOpen: true);
            z.Write(data);
            z.Flush(); // Z_SYNC_FLUSH: ends with 00 00 FF FF
            byte[] all = ms.ToArray();
            z.Dispose();
            return all.Length == 0 ? EmptyMessage() : StripTail(all);
        }

        /// <summary>
        /// An empty message as zlib compresses it: an empty stored block (00 00 00 FF FF) minus the tail. DeflateStream
        /// writes nothing at all when nothing was written, so the tests add it themselves.
        /// </summary>
        public static byte[] EmptyMessage() => new byte[] { 0x00 };

        public static byte[] StripTail(byte[] all)
        {
            Assert.That(all.Length, Is.GreaterThanOrEqualTo(4));
            Assert.That(all.AsSpan(all.Length - 4).SequenceEqual(Tail), Is.True, "a sync flush ends with 00 00 FF FF");
            return all[..^4];
        }

        /// <summary>A compressor keeping its window across messages (context takeover).</summary>
        public sealed class Stream : IDisposable
        {
            private readonly MemoryStream _ms = new();
            private readonly DeflateStream _z;

            public Stream(CompressionLevel level = CompressionLevel.Optimal)
            {
                _z = new DeflateStream(_ms, level, leaveOpen: true);
            }

            public byte[] Compress(ReadOnlySpan<byte> data)
            {
                _ms.SetLength(0);
                _z.Write(data);
                _z.Flush();
                byte[] all = _ms.ToArray();
                return all.Length == 0 ? EmptyMessage() : StripTail(all);
            }

            public void Dispose() => _z.Dispose();
        }

        /// <summary>Inflates one message (tail appended) with a fresh DeflateStream.</summary>
        public static byte[] Inflate(byte[] compressed, int expectedLength)
        {
            byte[][] outs = InflateSequence(new[] { compressed }, new[] { expectedLength });
            return outs[0];
        }

        /// <summary>Inflates several messages compressed with context takeover through one DeflateStream.</summary>
        public static byte[][] InflateSequence(byte[][] messages, int[] expectedLengths)
        {
            var input = new MemoryStream();
            foreach (byte[] m in messages)
            {
                input.Write(m);
                input.Write(Tail);
            }
            input.Position = 0;
            using var z = new DeflateStream(input, CompressionMode.Decompress);
            var outs = new byte[messages.Length][];
            for (int i = 0; i < messages.Length; i++)
            {
                outs[i] = new byte[expectedLengths[i]];
                int got = 0;
                while (got < expectedLengths[i])
                {
                    int n = z.Read(outs[i], got, expectedLengths[i] - got);
                    Assert.That(n, Is.GreaterThan(0), $"message {i}: stream ended after {got} of {expectedLengths[i]} bytes");
                    got += n;
                }
            }
            return outs;
        }

        /// <summary>A compressible pattern: a short phrase repeated.</summary>
        public static byte[] Repetitive(int length)
        {
            byte[] phrase = ClientFrames.Utf8("the quick brown fox jumps over the lazy dog; ");
            var data = new byte[length];
            for (int i = 0; i < length; i++)
            {
                data[i] = phrase[i % phrase.Length];
            }
            return data;
        }
    }

    /// <summary>A server frame with its RSV bits (the shared client rejects reserved bits; here RSV1 is expected).</summary>
    internal sealed record RsvFrame(bool Fin, int Rsv, int Opcode, byte[] Payload)
    {
        public bool Rsv1 => (Rsv & 4) != 0;

        public int CloseCode => Payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(Payload) : 1005;
    }

    internal static class RsvFrames
    {
        public static RsvFrame ReadRsvFrame(this RawWebSocketClient c)
        {
            byte[] h = c.ReadExact(2);
            Assert.That(h[1] & 0x80, Is.Zero, "server frame is masked");
            long length = h[1] & 0x7F;
            if (length == 126)
            {
                length = BinaryPrimitives.ReadUInt16BigEndian(c.ReadExact(2));
            }
            else if (length == 127)
            {
                length = (long)BinaryPrimitives.ReadUInt64BigEndian(c.ReadExact(8));
            }
            return new RsvFrame((h[0] & 0x80) != 0, (h[0] >> 4) & 7, h[0] & 0x0F, c.ReadExact(checked((int)length)));
        }

        /// <summary>Reads one data message: its frames, whether the first had RSV1, and the payload joined.</summary>
        public static (int Opcode, bool Compressed, byte[] Payload) ReadRsvMessage(this RawWebSocketClient c)
        {
            RsvFrame first = c.ReadRsvFrame();
            Assert.That(first.Opcode, Is.AnyOf(1, 2), $"expected a data frame, got opcode {first.Opcode} (close code {first.CloseCode})");
            Assert.That(first.Rsv & 3, Is.Zero, "RSV2/RSV3 set");
            var data = new MemoryStream();
            data.Write(first.Payload);
            RsvFrame f = first;
            while (!f.Fin)
            {
                f = c.ReadRsvFrame();
                Assert.That(f.Opcode, Is.Zero, "continuation");
                Assert.That(f.Rsv, Is.Zero, "RSV bits on a continuation frame");
                data.Write(f.Payload);
            }
            return (first.Opcode, first.Rsv1, data.ToArray());
        }
    }
}
