using System;
using System.Collections.Generic;
using Fiberws.Protocol;
using Fiberws.Protocol.Compression;
using NUnit.Framework;

namespace Fiberws.Tests.Compression
{
    /// <summary>MessageDeflater output decoded by MessageInflater and by System.IO.Compression (RFC 7692 §7.2.1, §7.2.2).</summary>
    [TestFixture]
    public unsafe class DeflaterRoundTripTests
    {
        private static readonly int[] Sizes = { 0, 1, 100, 64 * 1024, 1 << 20 };

        private static byte[] Data(int size, bool random)
        {
            if (!random)
            {
                return Deflate.Repetitive(size);
            }
            var data = new byte[size];
            new Random(size + 17).NextBytes(data);
            return data;
        }

        internal static byte[] Compress(MessageDeflater d, byte[] data)
        {
            NativeBuffer output = default;
            try
            {
                fixed (byte* p = data)
                {
                    d.Compress(p, data.Length, ref output);
                }
                return output.Length == 0 ? Array.Empty<byte>() : new ReadOnlySpan<byte>(output.Ptr, (int)output.Length).ToArray();
            }
            finally
            {
                output.Free();
            }
        }

        internal static (MessageInflater.Result Result, byte[] Data) Inflate(MessageInflater inflater, byte[] packed, long limit = 0)
        {
            NativeBuffer output = default;
            try
            {
                fixed (byte* p = packed)
                {
                    MessageInflater.Result r = inflater.Inflate(p, packed.Length, limit, ref output);
                    return (r, output.Length == 0 ? Array.Empty<byte>() : new ReadOnlySpan<byte>(output.Ptr, (int)output.Length).ToArray());
                }
            }
            finally
            {
                output.Free();
            }
        }

        private static IEnumerable<TestCaseData> Cases()
        {
            foreach (bool takeover in new[] { true, false })
            {
                foreach (bool random in new[] { true, false })
                {
                    yield return new TestCaseData(takeover, random).SetName($"RoundTrip(takeover={takeover}, random={random})");
                }
            }
        }

        [TestCaseSource(nameof(Cases))]
        public void RoundTrip_AllSizes_ThroughBothInflaters(bool takeover, bool random)
        {
            // One deflater for the whole sequence (as one connection); two inflaters keep up with it.
            using var deflater = new MessageDeflater(level: 1, windowBits: 15, noContextTakeover: !takeover);
            using var inflater = new MessageInflater(noContextTakeover: !takeover);
            var packedAll = new List<byte[]>();
            var originals = new List<byte[]>();
            foreach (int size in Sizes)
            {
                // Each size twice (the second copy refers back with context takeover); the empty message once, first:
                // an empty message after another one is covered by EmptyMessageAfterAnother_HasAPayload.
                for (int repeat = 0; repeat < (size == 0 ? 1 : 2); repeat++)
                {
                    byte[] data = Data(size, random);
                    byte[] packed = Compress(deflater, data);
                    Assert.That(packed.Length, Is.GreaterThan(0), "even an empty message has a block header");
                    Assert.That(packed.AsSpan().EndsWith(Deflate.Tail), Is.False, "the 00 00 FF FF tail is removed");
                    (MessageInflater.Result result, byte[] back) = Inflate(inflater, packed);
                    Assert.That(result, Is.EqualTo(MessageInflater.Result.Ok), $"size {size}");
                    Assert.That(back, Is.EqualTo(data), $"MessageInflater, size {size}");
                    if (!takeover)
                    {
                        Assert.That(Deflate.Inflate(packed, data.Length), Is.EqualTo(data), $"fresh DeflateStream, size {size}");
                    }
                    packedAll.Add(packed);
                    originals.Add(data);
                }
            }
            // The whole sequence through one DeflateStream, as a client with context takeover would read it.
            byte[][] outs = Deflate.InflateSequence(packedAll.ToArray(), originals.ConvertAll(o => o.Length).ToArray());
            for (int i = 0; i < outs.Length; i++)
            {
                Assert.That(outs[i], Is.EqualTo(originals[i]), $"DeflateStream sequence, message {i}");
            }
        }

        [TestCase(false)]
        [TestCase(true)]
        public void EmptyMessageAfterAnother_HasAPayload(bool noContextTakeover)
        {
            // RFC 7692 §7.2.1: the compressed form of any message ends with an empty stored block minus its last 4
            // octets, so it is at least the one octet 0x00 (the form §7.2.3.6 shows for an empty fragment). An empty
            // payload with RSV1 leaves the peer's inflater inside a stored block header (00 + 00 00 FF FF is LEN 0xFF00
            // and half an NLEN), and with context takeover the next message then fails to decode.
            using var deflater = new MessageDeflater(level: 1, windowBits: 15, noContextTakeover: noContextTakeover);
            byte[] hello = System.Text.Encoding.ASCII.GetBytes("Hello");
            Assert.That(Compress(deflater, Array.Empty<byte>()), Is.EqualTo(new byte[] { 0 }), "an empty first message");
            byte[] first = Compress(deflater, hello);
            byte[] empty = Compress(deflater, Array.Empty<byte>());
            byte[] again = Compress(deflater, hello);
            Assert.That(empty, Is.EqualTo(new byte[] { 0 }), "an empty message after another one");
            using var inflater = new MessageInflater(noContextTakeover);
            Assert.That(Inflate(inflater, first), Is.EqualTo((MessageInflater.Result.Ok, hello)));
            Assert.That(Inflate(inflater, empty), Is.EqualTo((MessageInflater.Result.Ok, Array.Empty<byte>())));
            Assert.That(Inflate(inflater, again), Is.EqualTo((MessageInflater.Result.Ok, hello)), "the message after the empty one");
        }

        [TestCase(9)]
        [TestCase(10)]
        [TestCase(12)]
        [TestCase(15)]
        public void EveryWindowSize_DecodesWithA15BitInflater(int bits)
        {
            using var deflater = new MessageDeflater(level: 6, windowBits: bits, noContextTakeover: false);
            using var inflater = new MessageInflater(noContextTakeover: false);
            for (int i = 0; i < 3; i++)
            {
                byte[] data = Data(100_000 + i, random: i == 1);
                (MessageInflater.Result r, byte[] back) = Inflate(inflater, Compress(deflater, data));
                Assert.That(r, Is.EqualTo(MessageInflater.Result.Ok));
                Assert.That(back, Is.EqualTo(data));
            }
        }

        [Test]
        public void ContextTakeover_SecondIdenticalMessageIsMuchSmaller()
        {
            byte[] data = Data(8 * 1024, random: true);
            using var with = new MessageDeflater(level: 1, windowBits: 15, noContextTakeover: false);
            byte[] first = Compress(with, data);
            byte[] second = Compress(with, data);
            Assert.That(first.Length, Is.GreaterThan(8000), "random data does not compress");
            Assert.That(second.Length, Is.LessThan(first.Length / 20), "the second copy refers back to the first");

            using var without = new MessageDeflater(level: 1, windowBits: 15, noContextTakeover: true);
            byte[] a = Compress(without, data);
            byte[] b = Compress(without, data);
            Assert.That(b.Length, Is.GreaterThan(8000), "without context takeover nothing refers back");
            Assert.That(b, Is.EqualTo(a), "without context takeover each message compresses the same");
        }

        [Test]
        public void SharedDeflater_ServesInterleavedConnections()
        {
            // Server no-context-takeover messages from one shared deflater, each decodable by a fresh inflater.
            MessageDeflater shared = MessageDeflater.Shared(1, 15);
            Assert.That(MessageDeflater.Shared(1, 15), Is.SameAs(shared));
            Assert.That(MessageDeflater.Shared(1, 10), Is.Not.SameAs(shared));
            for (int i = 0; i < 6; i++)
            {
                byte[] data = Data(5000 + i, random: i % 2 == 0);
                byte[] packed = Compress(MessageDeflater.Shared(1, i % 2 == 0 ? 15 : 10), data);
                Assert.That(Deflate.Inflate(packed, data.Length), Is.EqualTo(data), $"message {i}");
            }
        }

        [Test]
        public void InflaterWithoutContextTakeover_ResetsBetweenMessages()
        {
            // Two messages compressed independently (client_no_context_takeover) decode with a resetting inflater.
            using var inflater = new MessageInflater(noContextTakeover: true);
            for (int i = 0; i < 3; i++)
            {
                byte[] data = Data(3000, random: false);
                (MessageInflater.Result r, byte[] back) = Inflate(inflater, Deflate.Compress(data));
                Assert.That(r, Is.EqualTo(MessageInflater.Result.Ok));
                Assert.That(back, Is.EqualTo(data));
            }
        }

        [Test]
        public void InflaterLimit_IsExact()
        {
            byte[] data = Data(10_000, random: false);
            byte[] packed = Deflate.Compress(data);
            using (var ok = new MessageInflater(false))
            {
                Assert.That(Inflate(ok, packed, limit: 10_000).Result, Is.EqualTo(MessageInflater.Result.Ok));
            }
            using (var tooBig = new MessageInflater(false))
            {
                Assert.That(Inflate(tooBig, packed, limit: 9_999).Result, Is.EqualTo(MessageInflater.Result.TooBig));
                // after an error the inflater is reset and usable for a fresh stream
                Assert.That(Inflate(tooBig, Deflate.Compress(data), limit: 10_000), Is.EqualTo((MessageInflater.Result.Ok, data)));
            }
        }

        [Test]
        public void DeflaterOutput_ForSystemDeflateStreamInput_IsTheSameText()
        {
            // And the other direction: DeflateStream (client) with context takeover into MessageInflater.
            using var client = new Deflate.Stream();
            using var inflater = new MessageInflater(false);
            for (int i = 0; i < 4; i++)
            {
                byte[] data = Data(i == 3 ? 1 << 20 : 1000 * (i + 1), random: i == 1);
                (MessageInflater.Result r, byte[] back) = Inflate(inflater, client.Compress(data));
                Assert.That(r, Is.EqualTo(MessageInflater.Result.Ok), $"message {i}");
                Assert.That(back, Is.EqualTo(data), $"message {i}");
            }
        }
    }
}
