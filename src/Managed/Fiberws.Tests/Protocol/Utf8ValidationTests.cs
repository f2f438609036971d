using System;
using System.Text;
using Fiberws.Protocol;
using NUnit.Framework;
using static Fiberws.Tests.Common.ClientFrames;

namespace Fiberws.Tests.Protocol
{
    /// <summary>Incremental UTF-8 validation (Utf8Validation.Validate), with Autobahn 6.x-style vectors.</summary>
    [TestFixture]
    public class Utf8ValidationTests
    {
        private const string Kosme = "CE BA E1 BD B9 CF 83 CE BC CE B5"; // "κόσμε" (Autobahn 6.2 / 6.3)

        public static readonly string[] ValidVectors =
        {
            "",
            "48 65 6C 6C 6F",                // Hello
            Kosme,
            "00",                            // U+0000
            "7F",                            // U+007F
            "C2 80",                         // U+0080, first 2-byte
            "DF BF",                         // U+07FF, last 2-byte
            "E0 A0 80",                      // U+0800, first 3-byte
            "ED 9F BF",                      // U+D7FF, just below the surrogates
            "EE 80 80",                      // U+E000, just above the surrogates
            "EF BF BD",                      // U+FFFD
            "EF BF BF",                      // U+FFFF (a noncharacter, still valid UTF-8)
            "F0 90 80 80",                   // U+10000, first 4-byte
            "F4 8F BF BF",                   // U+10FFFF, last code point
            "F0 9F 98 80 F0 9F 98 80",       // two emoji
        };

        public static readonly string[] InvalidVectors =
        {
            Kosme + " ED A0 80 65 64 69 74 65 64", // 6.3.1: "κόσμε" + surrogate + "edited"
            "C0 80",                         // overlong NUL
            "C0 AF",                         // 6.9.1: overlong '/'
            "C1 BF",                         // overlong
            "E0 80 80",                      // overlong 3-byte
            "E0 80 AF",                      // 6.9.2
            "E0 9F BF",                      // overlong U+07FF
            "F0 80 80 AF",                   // 6.9.3
            "F0 8F BF BF",                   // overlong U+FFFF
            "ED A0 80",                      // 6.11: U+D800, lead surrogate
            "ED BF BF",                      // U+DFFF, trail surrogate
            "ED A0 80 ED B0 80",             // surrogate pair encoded as two 3-byte sequences
            "F4 90 80 80",                   // 6.14: U+110000
            "F5 80 80 80",                   // lead byte never valid
            "F8 88 80 80 80",                // 6.8.1: 5-byte sequence
            "FC 84 80 80 80 80",             // 6.8.2: 6-byte sequence
            "FE", "FF",                      // never valid
            "80",                            // 6.12: stray continuation
            "BF",
            "80 BF 80 BF",
            "CE BA 80",                      // continuation after a complete code point
            "C2 41",                         // lead followed by ASCII
            "E1 BD 41",                      // 6.6: truncated 3-byte followed by ASCII
            "F0 9F 98 41",
        };

        public static readonly string[] TruncatedVectors =
        {
            "CE",                            // 6.6.x style: κόσμε cut inside a code point
            "CE BA E1",
            "CE BA E1 BD",
            "F0 9F 98",
            "F4 8F BF",
            "E0 A0",
            "ED 9F",
        };

        private static byte[] B(string hex) => Hex(hex);

        [TestCaseSource(nameof(ValidVectors))]
        public void ValidText_IsAccepted_WithNothingPending(string hex)
        {
            Assert.That(Utf8Validation.Validate(B(hex), out int pending), Is.True);
            Assert.That(pending, Is.Zero);
        }

        [TestCaseSource(nameof(ValidVectors))]
        public void EveryPrefixOfValidText_IsAccepted_PendingTheIncompleteCodePoint(string hex)
        {
            byte[] bytes = B(hex);
            for (int n = 0; n <= bytes.Length; n++)
            {
                Assert.That(Utf8Validation.Validate(bytes.AsSpan(0, n), out int pending), Is.True, $"prefix of {n}");
                Assert.That(pending, Is.EqualTo(n - LastBoundary(bytes, n)), $"pending for prefix of {n}");
            }
        }

        [TestCaseSource(nameof(InvalidVectors))]
        public void InvalidText_IsRejected(string hex)
        {
            Assert.That(Utf8Validation.Validate(B(hex), out _), Is.False);
        }

        [TestCaseSource(nameof(InvalidVectors))]
        public void InvalidText_IsRejected_ByTheFirstPrefixThatCannotBeCompleted(string hex)
        {
            // Fail fast: a prefix is rejected as soon as no continuation could make it valid.
            byte[] bytes = B(hex);
            int firstBad = FirstHopelessPrefix(bytes);
            for (int n = 0; n <= bytes.Length; n++)
            {
                bool ok = Utf8Validation.Validate(bytes.AsSpan(0, n), out _);
                Assert.That(ok, Is.EqualTo(n < firstBad), $"prefix of {n} (first hopeless prefix is {firstBad})");
            }
        }

        [TestCaseSource(nameof(TruncatedVectors))]
        public void TruncatedText_IsAcceptedAsPending_NotComplete(string hex)
        {
            byte[] bytes = B(hex);
            Assert.That(Utf8Validation.Validate(bytes, out int pending), Is.True);
            Assert.That(pending, Is.GreaterThan(0), "an incomplete code point is left pending");
        }

        [Test]
        public void RandomText_AgreesWithTheFramework()
        {
            var rng = new Random(42);
            for (int i = 0; i < 20000; i++)
            {
                var data = new byte[rng.Next(0, 12)];
                for (int j = 0; j < data.Length; j++)
                {
                    // Bias towards bytes that make interesting sequences.
                    data[j] = rng.Next(3) switch { 0 => (byte)rng.Next(0x80, 0xC0), 1 => (byte)rng.Next(0xC0, 0x100), _ => (byte)rng.Next(0, 0x80) };
                }
                bool ours = Utf8Validation.Validate(data, out int pending);
                bool wouldComplete = ours && pending == 0;
                Assert.That(wouldComplete, Is.EqualTo(System.Text.Unicode.Utf8.IsValid(data)), Convert.ToHexString(data));
                if (ours && pending > 0)
                {
                    Assert.That(FirstHopelessPrefix(data), Is.GreaterThan(data.Length), "accepted as pending, so some continuation must complete it: " + Convert.ToHexString(data));
                }
                if (!ours)
                {
                    Assert.That(FirstHopelessPrefix(data), Is.LessThanOrEqualTo(data.Length), "rejected, so no continuation can complete it: " + Convert.ToHexString(data));
                }
            }
        }

        /// <summary>Length of the longest prefix of bytes[0..n] that ends on a code point boundary.</summary>
        private static int LastBoundary(byte[] bytes, int n)
        {
            int i = n;
            while (i > 0 && (bytes[i - 1] & 0xC0) == 0x80)
            {
                i--;
            }
            if (i == 0)
            {
                return 0;
            }
            byte lead = bytes[i - 1];
            int len = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
            return (i - 1) + len <= n ? n : i - 1;
        }

        /// <summary>The shortest prefix length that no suffix can turn into valid UTF-8 (bytes.Length+1 if none), by brute force.</summary>
        private static int FirstHopelessPrefix(byte[] bytes)
        {
            for (int n = 1; n <= bytes.Length; n++)
            {
                if (!CanComplete(bytes.AsSpan(0, n)))
                {
                    return n;
                }
            }
            return bytes.Length + 1;
        }

        private static bool CanComplete(ReadOnlySpan<byte> prefix)
        {
            if (System.Text.Unicode.Utf8.IsValid(prefix))
            {
                return true;
            }
            // Try completions of up to 3 continuation bytes; valid completions never need more.
            Span<byte> buf = stackalloc byte[prefix.Length + 3];
            prefix.CopyTo(buf);
            for (int extra = 1; extra <= 3; extra++)
            {
                if (TryFill(buf, prefix.Length, prefix.Length + extra))
                {
                    return true;
                }
            }
            return false;
        }

        private static readonly byte[] s_continuationRepresentatives = { 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF };

        private static bool TryFill(Span<byte> buf, int at, int end)
        {
            if (at == end)
            {
                return System.Text.Unicode.Utf8.IsValid(buf.Slice(0, end));
            }
            // Continuation bytes only matter by which of the ranges 80-8F, 90-9F, A0-BF they fall in (RFC 3629 table).
            foreach (byte b in s_continuationRepresentatives)
            {
                buf[at] = b;
                if (TryFill(buf, at + 1, end))
                {
                    return true;
                }
            }
            return false;
        }
    }
}
