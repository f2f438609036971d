using System;
using System.Collections.Generic;
using Fiberws.Tests.Common;
using NUnit.Framework;
using static Fiberws.Tests.Common.ClientFrames;

namespace Fiberws.Tests.Protocol
{
    /// <summary>Text messages through MessageReader: valid UTF-8 in any fragmentation passes, invalid fails with 1007, early.</summary>
    [TestFixture]
    public class TextMessageUtf8Tests
    {
        private static readonly byte[] s_kosme = Hex("CE BA E1 BD B9 CF 83 CE BC CE B5");

        [Test]
        public void ValidText_SplitIntoTwoFragmentsAtEveryByte_IsAccepted()
        {
            byte[] text = Concat(Utf8("a"), s_kosme, Hex("F0 9F 98 80 F4 8F BF BF"), Utf8("z"));
            List<string> expected = ReaderDriver.Expect(ReaderEvent.Message(Text, text));
            for (int at = 0; at <= text.Length; at++)
            {
                byte[] stream = Concat(Frame(Text, text[..at], fin: false), Frame(Continuation, text[at..], fin: true));
                Assert.That(ReaderDriver.RunWhole(stream), Is.EqualTo(expected), $"fragment split at {at}");
                Assert.That(ReaderDriver.RunBytewise(stream), Is.EqualTo(expected), $"fragment split at {at}, bytewise");
            }
        }

        [Test]
        public void ValidText_OneBytePerFragment_IsAccepted()
        {
            byte[] text = Concat(s_kosme, Hex("F0 9F 98 80"));
            var frames = new List<byte[]>();
            for (int i = 0; i < text.Length; i++)
            {
                frames.Add(Frame(i == 0 ? Text : Continuation, new[] { text[i] }, fin: i == text.Length - 1));
            }
            Assert.That(ReaderDriver.RunWhole(Concat(frames.ToArray())), Is.EqualTo(ReaderDriver.Expect(ReaderEvent.Message(Text, text))));
        }

        [TestCase("C0 80")]
        [TestCase("E0 80 80")]
        [TestCase("ED A0 80")]
        [TestCase("F4 90 80 80")]
        [TestCase("80")]
        [TestCase("F8 88 80 80 80")]
        [TestCase("CE BA E1 BD B9 CF 83 CE BC CE B5 ED A0 80 65 64 69 74 65 64")] // Autobahn 6.3.1
        public void InvalidText_InOneFrame_IsError1007(string hex)
        {
            Assert.That(ReaderDriver.RunWhole(Frame(Text, Hex(hex))), Is.EqualTo(ReaderDriver.Expect(ReaderEvent.Error(1007))));
        }

        [TestCase("CE")]
        [TestCase("CE BA E1")]
        [TestCase("CE BA E1 BD")]
        [TestCase("F0 9F 98")]
        public void TextTruncatedAtMessageEnd_IsError1007(string hex)
        {
            Assert.That(ReaderDriver.RunWhole(Frame(Text, Hex(hex))), Is.EqualTo(ReaderDriver.Expect(ReaderEvent.Error(1007))), "one frame");
            byte[] fragmented = Concat(Frame(Text, Utf8("ok "), fin: false), Frame(Continuation, Hex(hex), fin: true));
            Assert.That(ReaderDriver.RunWhole(fragmented), Is.EqualTo(ReaderDriver.Expect(ReaderEvent.Error(1007))), "last fragment");
        }

        [TestCase("C0 80")]
        [TestCase("ED A0 80")]
        [TestCase("F4 90 80 80")]
        public void InvalidText_SplitAcrossFragments_IsError1007(string hex)
        {
            byte[] bad = Hex(hex);
            for (int at = 0; at <= bad.Length; at++)
            {
                byte[] stream = Concat(Frame(Text, Concat(Utf8("x"), bad[..at]), fin: false), Frame(Continuation, Concat(bad[at..], Utf8("y")), fin: true));
                Assert.That(ReaderDriver.RunWhole(stream), Is.EqualTo(ReaderDriver.Expect(ReaderEvent.Error(1007))), $"split at {at}");
            }
        }

        [TestCase("F4 90")]      // > U+10FFFF is already certain after two bytes
        [TestCase("ED A0")]      // a surrogate is already certain after two bytes
        [TestCase("E0 80")]      // an overlong is already certain after two bytes
        [TestCase("C0")]         // C0 can never start a sequence
        [TestCase("80")]
        [TestCase("CE BA ED A0 80")]
        public void FailFast_FirstFragmentAlreadyInvalid_Is1007WithoutTheRest(string hex)
        {
            using var d = new ReaderDriver();
            d.Feed(Frame(Text, Concat(Utf8("hello "), Hex(hex)), fin: false));
            Assert.That(d.Events.ConvertAll(e => e.ToString()), Is.EqualTo(ReaderDriver.Expect(ReaderEvent.Error(1007))));
        }

        [Test]
        public void FailFast_InsideOneFrame_BeforeItsPayloadHasArrived()
        {
            // A 1000-byte text frame whose first bytes are already invalid: the error comes after those bytes.
            byte[] payload = Concat(Utf8("abc"), Hex("F4 90"), Utf8(new string('x', 995)));
            byte[] frame = Frame(Text, payload);
            using var d = new ReaderDriver();
            d.Feed(frame.AsSpan(0, 8 + 5)); // header (2 + 2 + 4) and the first five payload bytes
            Assert.That(d.Events.ConvertAll(e => e.ToString()), Is.EqualTo(ReaderDriver.Expect(ReaderEvent.Error(1007))));
        }

        [TestCase("E0 A0")]
        [TestCase("ED 9F")]
        [TestCase("F0 90")]
        [TestCase("F4 8F BF")]
        public void ValidPrefixAtFragmentEnd_IsNotAnError_UntilTheMessageEnds(string hex)
        {
            using var d = new ReaderDriver();
            d.Feed(Frame(Text, Hex(hex), fin: false));
            Assert.That(d.Events, Is.Empty, "a valid prefix must wait for the next fragment");
            byte[] rest = hex.Split(' ').Length == 2 ? Hex(hex.StartsWith("F") ? "80 80" : "80") : Hex("BF");
            d.Feed(Frame(Continuation, rest, fin: true));
            Assert.That(d.Events.ConvertAll(e => e.ToString()), Is.EqualTo(ReaderDriver.Expect(ReaderEvent.Message(Text, Concat(Hex(hex), rest)))));
        }

        [Test]
        public void InvalidUtf8_InBinaryMessage_IsAccepted()
        {
            byte[] bad = Hex("C0 80 ED A0 80 F4 90 80 80 FF");
            Assert.That(ReaderDriver.RunWhole(BinaryFrame(bad)), Is.EqualTo(ReaderDriver.Expect(ReaderEvent.Message(Binary, bad))));
        }

        [Test]
        public void PingBetweenFragments_DoesNotDisturbUtf8State()
        {
            // The ping payload is not UTF-8; it must not be validated as part of the text.
            byte[] stream = Concat(Frame(Text, Hex("CE BA E1"), fin: false), PingFrame(Hex("FF FE")), Frame(Continuation, Hex("BD B9"), fin: true));
            Assert.That(ReaderDriver.RunWhole(stream), Is.EqualTo(ReaderDriver.Expect(
                ReaderEvent.Control(Ping, Hex("FF FE")), ReaderEvent.Message(Text, Hex("CE BA E1 BD B9")))));
        }
    }
}
