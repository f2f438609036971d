using System.Collections.Generic;
using Fiberws.Tests.Common;
using NUnit.Framework;
using static Fiberws.Tests.Common.ClientFrames;

namespace Fiberws.Tests.Protocol
{
    /// <summary>7-, 16- and 64-bit payload lengths (RFC 6455 §5.2), and empty messages.</summary>
    [TestFixture]
    public class MessageReaderLengthTests
    {
        [TestCase(0, 2 + 4)]
        [TestCase(125, 2 + 4)]
        [TestCase(126, 4 + 4)]
        [TestCase(65535, 4 + 4)]
        [TestCase(65536, 10 + 4)]
        [TestCase(200000, 10 + 4)]
        public void BinaryMessage_OfLength_IsReassembledExactly(int length, int headerLength)
        {
            byte[] payload = Pattern(length, seed: length);
            byte[] frame = BinaryFrame(payload);
            Assert.That(frame.Length - payload.Length, Is.EqualTo(headerLength), "test frame uses the minimal length form");
            List<string> expected = ReaderDriver.Expect(ReaderEvent.Message(Binary, payload));

            Assert.That(ReaderDriver.RunWhole(frame), Is.EqualTo(expected), "whole");
            var chunks = new List<byte[]>();
            for (int i = 0; i < frame.Length; i += 4093)
            {
                chunks.Add(frame[i..System.Math.Min(frame.Length, i + 4093)]);
            }
            Assert.That(ReaderDriver.Run(chunks), Is.EqualTo(expected), "4093-byte chunks");
        }

        [TestCase(0)]
        [TestCase(3)]
        [TestCase(126)]
        public void NonMinimal64BitLength_IsDecodedByValue(int length)
        {
            // The length field is read by value; the form used does not change the payload.
            byte[] payload = Pattern(length);
            byte[] frame = Frame(Binary, payload, form: LengthForm.Force64);
            Assert.That(ReaderDriver.RunWhole(frame), Is.EqualTo(ReaderDriver.Expect(ReaderEvent.Message(Binary, payload))));
        }

        [Test]
        public void EmptyTextAndBinaryMessages()
        {
            byte[] stream = Concat(TextFrame(""), BinaryFrame(new byte[0]), PingFrame(new byte[0]), Frame(Close, new byte[0]));
            Assert.That(ReaderDriver.RunWhole(stream), Is.EqualTo(ReaderDriver.Expect(
                ReaderEvent.Message(Text, new byte[0]),
                ReaderEvent.Message(Binary, new byte[0]),
                ReaderEvent.Control(Ping, new byte[0]),
                ReaderEvent.Control(Close, new byte[0]))));
        }

        [Test]
        public void EmptyFragmentedMessage_IsOneEmptyMessage()
        {
            byte[] stream = Concat(Frame(Binary, new byte[0], fin: false), Frame(Continuation, new byte[0], fin: false), Frame(Continuation, new byte[0], fin: true));
            Assert.That(ReaderDriver.RunWhole(stream), Is.EqualTo(ReaderDriver.Expect(ReaderEvent.Message(Binary, new byte[0]))));
            Assert.That(ReaderDriver.RunBytewise(stream), Is.EqualTo(ReaderDriver.Expect(ReaderEvent.Message(Binary, new byte[0]))));
        }

        [Test]
        public void ControlFrame_With125BytePayload_IsAccepted()
        {
            byte[] payload = Pattern(125);
            Assert.That(ReaderDriver.RunWhole(PingFrame(payload)), Is.EqualTo(ReaderDriver.Expect(ReaderEvent.Control(Ping, payload))));
        }
    }
}
