using System;
using Fiberws.Protocol;
using NUnit.Framework;

namespace Fiberws.Tests.Protocol
{
    /// <summary>Masking.Apply (vectorised) against the naive byte loop of RFC 6455 §5.3.</summary>
    [TestFixture]
    public unsafe class MaskingTests
    {
        private static readonly byte[] s_key = { 0x37, 0xFA, 0x21, 0x3D };

        private static uint WireKey(byte[] key) => System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(key);

        private static byte[] Naive(byte[] src, byte[] key, int offset)
        {
            var dst = new byte[src.Length];
            for (int i = 0; i < src.Length; i++)
            {
                dst[i] = (byte)(src[i] ^ key[(offset + i) % 4]);
            }
            return dst;
        }

        [Test]
        public void OutOfPlace_MatchesNaiveLoop_ForAllLengthsAndOffsets()
        {
            for (int length = 0; length <= 300; length++)
            {
                byte[] src = Common.ClientFrames.Pattern(length, seed: length);
                for (int offset = 0; offset < 4; offset++)
                {
                    var dst = new byte[length + 1];
                    dst[length] = 0xAB; // guard byte
                    int next;
                    fixed (byte* s = src)
                    fixed (byte* d = dst)
                    {
                        next = Masking.Apply(s, d, length, WireKey(s_key), offset);
                    }
                    Assert.That(dst.AsSpan(0, length).ToArray(), Is.EqualTo(Naive(src, s_key, offset)), $"length {length}, offset {offset}");
                    Assert.That(dst[length], Is.EqualTo(0xAB), "wrote past the end");
                    Assert.That(next, Is.EqualTo((offset + length) & 3));
                }
            }
        }

        [Test]
        public void InPlace_MatchesNaiveLoop_ForAllLengthsAndOffsets()
        {
            for (int length = 0; length <= 300; length++)
            {
                byte[] src = Common.ClientFrames.Pattern(length, seed: 1000 + length);
                for (int offset = 0; offset < 4; offset++)
                {
                    byte[] data = (byte[])src.Clone();
                    fixed (byte* p = data)
                    {
                        Masking.Apply(p, p, length, WireKey(s_key), offset);
                    }
                    Assert.That(data, Is.EqualTo(Naive(src, s_key, offset)), $"length {length}, offset {offset}");
                }
            }
        }

        [Test]
        public void UnalignedBuffers_MatchNaiveLoop()
        {
            var rng = new Random(5);
            for (int trial = 0; trial < 500; trial++)
            {
                int length = rng.Next(0, 300);
                int srcSkew = rng.Next(0, 8);
                int dstSkew = rng.Next(0, 8);
                int offset = rng.Next(0, 4);
                var key = new byte[4];
                rng.NextBytes(key);
                byte[] src = new byte[length + srcSkew];
                rng.NextBytes(src);
                var dst = new byte[length + dstSkew];
                fixed (byte* s = src)
                fixed (byte* d = dst)
                {
                    Masking.Apply(s + srcSkew, d + dstSkew, length, WireKey(key), offset);
                }
                Assert.That(dst.AsSpan(dstSkew).ToArray(), Is.EqualTo(Naive(src.AsSpan(srcSkew).ToArray(), key, offset)), $"trial {trial}");
            }
        }

        [Test]
        public void ChunkedApplication_ContinuesTheMaskAcrossCalls()
        {
            byte[] src = Common.ClientFrames.Pattern(1000, seed: 9);
            byte[] expected = Naive(src, s_key, 0);
            var rng = new Random(3);
            for (int trial = 0; trial < 50; trial++)
            {
                byte[] data = (byte[])src.Clone();
                int pos = 0;
                int offset = 0;
                fixed (byte* p = data)
                {
                    while (pos < data.Length)
                    {
                        int n = Math.Min(rng.Next(0, 70), data.Length - pos);
                        offset = Masking.Apply(p + pos, p + pos, n, WireKey(s_key), offset);
                        pos += n;
                    }
                }
                Assert.That(data, Is.EqualTo(expected), $"trial {trial}");
            }
        }

        [Test]
        public void MaskingTwice_RestoresTheInput()
        {
            byte[] src = Common.ClientFrames.Pattern(4099, seed: 1);
            byte[] data = (byte[])src.Clone();
            fixed (byte* p = data)
            {
                Masking.Apply(p, p, data.Length, WireKey(s_key), 2);
                Masking.Apply(p, p, data.Length, WireKey(s_key), 2);
            }
            Assert.That(data, Is.EqualTo(src));
        }
    }
}
