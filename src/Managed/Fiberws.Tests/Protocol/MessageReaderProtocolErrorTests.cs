using System.Collections.Generic;
using Fiberws.Tests.Common;
using NUnit.Framework;
using static Fiberws.Tests.Common.ClientFrames;

namespace Fiberws.Tests.Protocol
{
    /// <summary>Frames that break RFC 6455 §5 end the stream with Error 1002 (protocol error).</summary>
    [TestFixture]
    public class MessageReaderProtocolErrorTests
    {
        private static readonly List<string> ProtocolError = ReaderDriver.Expect(ReaderEvent.Error(1002));

        private static void AssertEndsWithProtocolError(byte[] stream, params ReaderEvent[] before)
        {
            var expected = new List<ReaderEvent>(before) { ReaderEvent.Error(1002) };
            List<string> want = expected.ConvertAll(e => e.ToString());
            Assert.That(ReaderDriver.RunWhole(stream), Is.EqualTo(want), "whole");
            Assert.That(ReaderDriver.RunBytewise(stream), Is.EqualTo(want), "byte by byte");
        }

        [Test]
        public void UnmaskedFrame_IsProtocolError()
        {
            AssertEndsWithProtocolError(Frame(Text, Utf8("hi"), masked: false));
        }

        [Test]
        public void UnmaskedFrame_AfterAValidOne_IsProtocolError()
        {
            AssertEndsWithProtocolError(Concat(TextFrame("ok"), Frame(Binary, new byte[] { 1 }, masked: false)), ReaderEvent.Message(Text, Utf8("ok")));
        }

        [TestCase(Rsv1)]
        [TestCase(Rsv2)]
        [TestCase(Rsv3)]
        [TestCase((byte)(Rsv1 | Rsv2 | Rsv3))]
        public void ReservedBits_WithoutExtension_AreProtocolError(byte rsv)
        {
            AssertEndsWithProtocolError(Frame(Text, Utf8("hi"), rsv: rsv));
        }

        [TestCase(Rsv1)]
        [TestCase(Rsv2)]
        public void ReservedBits_OnControlFrame_AreProtocolError(byte rsv)
        {
            AssertEndsWithProtocolError(Frame(Ping, Utf8("p"), rsv: rsv));
        }

        [TestCase(3)]
        [TestCase(4)]
        [TestCase(5)]
        [TestCase(6)]
        [TestCase(7)]
        [TestCase(11)]
        [TestCase(12)]
        [TestCase(13)]
        [TestCase(14)]
        [TestCase(15)]
        public void UnknownOpcode_IsProtocolError(int opcode)
        {
            AssertEndsWithProtocolError(Frame(opcode, Utf8("x")));
        }

        [TestCase(Ping)]
        [TestCase(Pong)]
        [TestCase(Close)]
        public void FragmentedControlFrame_IsProtocolError(int opcode)
        {
            AssertEndsWithProtocolError(Frame(opcode, new byte[0], fin: false));
        }

        [TestCase(Ping)]
        [TestCase(Pong)]
        [TestCase(Close)]
        public void ControlFrame_With126BytePayload_IsProtocolError(int opcode)
        {
            AssertEndsWithProtocolError(Frame(opcode, Pattern(126)));
        }

        [Test]
        public void ControlFrame_With126BytePayload_FailsOnItsHeader()
        {
            // The length byte alone is enough to reject it: no payload needs to arrive.
            using var d = new ReaderDriver();
            d.Feed(new byte[] { 0x89, 0x80 | 126 });
            Assert.That(d.Events.ConvertAll(e => e.ToString()), Is.EqualTo(ProtocolError));
        }

        [TestCase(true)]
        [TestCase(false)]
        public void ContinuationWithoutStart_IsProtocolError(bool fin)
        {
            AssertEndsWithProtocolError(ContinuationFrame("x", fin));
        }

        [Test]
        public void ContinuationAfterCompletedMessage_IsProtocolError()
        {
            AssertEndsWithProtocolError(Concat(TextFrame("done"), ContinuationFrame("x", true)), ReaderEvent.Message(Text, Utf8("done")));
        }

        [TestCase(Text)]
        [TestCase(Binary)]
        public void NewDataFrame_DuringFragmentedMessage_IsProtocolError(int second)
        {
            byte[] stream = Concat(Frame(Text, Utf8("part"), fin: false), Frame(second, Utf8("new")));
            AssertEndsWithProtocolError(stream);
        }

        [Test]
        public void NewDataFrame_AfterInterleavedPing_IsStillProtocolError()
        {
            byte[] stream = Concat(Frame(Binary, new byte[] { 1 }, fin: false), PingFrame(new byte[0]), Frame(Binary, new byte[] { 2 }));
            AssertEndsWithProtocolError(stream, ReaderEvent.Control(Ping, new byte[0]));
        }

        [Test]
        public void SixtyFourBitLength_WithMostSignificantBitSet_IsProtocolError()
        {
            byte[] header = Header(Binary, fin: true, length: 0x8000_0000_0000_0001UL, key: NextKey());
            AssertEndsWithProtocolError(header);
        }
    }
}
