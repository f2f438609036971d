using System;
using Fiberws.Protocol;
using NUnit.Framework;
using static Fiberws.Tests.Common.ClientFrames;

namespace Fiberws.Tests.Protocol
{
    /// <summary>Close frame payloads (RFC 6455 §5.5.1, §7.4).</summary>
    [TestFixture]
    public class CloseFrameTests
    {
        [TestCase(1000)]
        [TestCase(1001)]
        [TestCase(1002)]
        [TestCase(1003)]
        [TestCase(1007)]
        [TestCase(1008)]
        [TestCase(1009)]
        [TestCase(1010)]
        [TestCase(1011)]
        [TestCase(1012)]
        [TestCase(1013)]
        [TestCase(1014)]
        [TestCase(3000)]
        [TestCase(3999)]
        [TestCase(4000)]
        [TestCase(4999)]
        public void ValidCode_IsAccepted(int code)
        {
            Assert.That(CloseFrame.IsValidWireCode(code), Is.True);
            Assert.That(CloseFrame.Parse(ClosePayload(code, "reason"), out int parsed, out string reason), Is.Null);
            Assert.That(parsed, Is.EqualTo(code));
            Assert.That(reason, Is.EqualTo("reason"));
        }

        [TestCase(0)]
        [TestCase(999)]
        [TestCase(1004)]
        [TestCase(1005)]
        [TestCase(1006)]
        [TestCase(1015)]
        [TestCase(1016)]
        [TestCase(1100)]
        [TestCase(2000)]
        [TestCase(2999)]
        [TestCase(5000)]
        [TestCase(65535)]
        public void InvalidCode_IsRejected(int code)
        {
            Assert.That(CloseFrame.IsValidWireCode(code), Is.False);
            Assert.That(CloseFrame.Parse(ClosePayload(code), out _, out _), Is.Not.Null);
        }

        [Test]
        public void EmptyPayload_MeansNoStatus()
        {
            Assert.That(CloseFrame.Parse(ReadOnlySpan<byte>.Empty, out int code, out string reason), Is.Null);
            Assert.That(code, Is.EqualTo(1005));
            Assert.That(reason, Is.Empty);
        }

        [Test]
        public void OneBytePayload_IsRejected()
        {
            Assert.That(CloseFrame.Parse(new byte[] { 0x03 }, out _, out _), Is.Not.Null);
        }

        [TestCase("C0 80")]
        [TestCase("ED A0 80")]
        [TestCase("CE BA E1")]
        [TestCase("FF")]
        public void InvalidUtf8Reason_IsRejected(string hex)
        {
            byte[] payload = Concat(new byte[] { 0x03, 0xE8 }, Hex(hex));
            Assert.That(CloseFrame.Parse(payload, out _, out _), Is.Not.Null);
        }

        [Test]
        public void Utf8Reason_IsDecoded()
        {
            Assert.That(CloseFrame.Parse(ClosePayload(1000, "κόσμε"), out _, out string reason), Is.Null);
            Assert.That(reason, Is.EqualTo("κόσμε"));
        }

        [Test]
        public void Format_NoStatus_IsEmptyEvenWithAReason()
        {
            var dst = new byte[125];
            Assert.That(CloseFrame.Format(1005, Utf8("ignored"), dst), Is.Zero);
        }

        [Test]
        public void Format_WritesCodeBigEndianThenReason()
        {
            var dst = new byte[125];
            int n = CloseFrame.Format(1001, Utf8("bye"), dst);
            Assert.That(dst[..n], Is.EqualTo(new byte[] { 0x03, 0xE9, (byte)'b', (byte)'y', (byte)'e' }));
        }

        [Test]
        public void Format_TooSmallDestination_ReturnsMinusOne()
        {
            Assert.That(CloseFrame.Format(1000, Utf8("abc"), new byte[4]), Is.EqualTo(-1));
        }

        [Test]
        public void CheckOutgoing_RejectsBadCodesLongReasonsAndReasonWithoutCode()
        {
            Assert.That(CloseFrame.CheckOutgoing(1000, Utf8(new string('a', 123))), Is.Null);
            Assert.That(CloseFrame.CheckOutgoing(1005, ReadOnlySpan<byte>.Empty), Is.Null);
            Assert.That(CloseFrame.CheckOutgoing(1000, Utf8(new string('a', 124))), Is.Not.Null);
            Assert.That(CloseFrame.CheckOutgoing(1005, Utf8("x")), Is.Not.Null);
            Assert.That(CloseFrame.CheckOutgoing(1006, ReadOnlySpan<byte>.Empty), Is.Not.Null);
            Assert.That(CloseFrame.CheckOutgoing(999, ReadOnlySpan<byte>.Empty), Is.Not.Null);
            Assert.That(CloseFrame.CheckOutgoing(1000, Hex("C0 80")), Is.Not.Null);
        }
    }
}
