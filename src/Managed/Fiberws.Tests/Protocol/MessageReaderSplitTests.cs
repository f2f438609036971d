using System.Collections.Generic;
using System.Linq;
using Fiberws.Tests.Common;
using NUnit.Framework;
using static Fiberws.Tests.Common.ClientFrames;

namespace Fiberws.Tests.Protocol
{
    /// <summary>The decoder is sans-IO: however the byte stream is cut, it must report the same events.</summary>
    [TestFixture]
    public class MessageReaderSplitTests
    {
        private static readonly byte[] s_binary300 = Pattern(300, seed: 3);

        /// <summary>Text, binary (16-bit length), a fragmented text message with a ping between fragments and a
        /// code point split across fragments, an empty message, a pong, and a close.</summary>
        private static byte[] Stream() => Concat(
            TextFrame("Hello"),
            BinaryFrame(s_binary300),
            Frame(Text, Utf8("frag-one "), fin: false),
            PingFrame(Utf8("ping!")),
            Frame(Continuation, Hex("CE BA E1"), fin: false), // "κ" and the first byte of "ό"
            Frame(Continuation, new byte[0], fin: false),
            Frame(Continuation, Hex("BD B9 CF 83 CE BC CE B5"), fin: true), // rest of "κόσμε"
            TextFrame(""),
            PongFrame(new byte[] { 1, 2, 3 }),
            CloseWith(1000, "bye"));

        private static List<string> Expected() => ReaderDriver.Expect(
            ReaderEvent.Message(Text, Utf8("Hello")),
            ReaderEvent.Message(Binary, s_binary300),
            ReaderEvent.Control(Ping, Utf8("ping!")),
            ReaderEvent.Message(Text, Concat(Utf8("frag-one "), Hex("CE BA E1 BD B9 CF 83 CE BC CE B5"))),
            ReaderEvent.Message(Text, new byte[0]),
            ReaderEvent.Control(Pong, new byte[] { 1, 2, 3 }),
            ReaderEvent.Control(Close, ClosePayload(1000, "bye")));

        [Test]
        public void WholeStream_ReportsEveryEventInOrder()
        {
            Assert.That(ReaderDriver.RunWhole(Stream()), Is.EqualTo(Expected()));
        }

        [Test]
        public void SplitAtEveryOffset_ReportsTheSameEvents()
        {
            byte[] stream = Stream();
            List<string> expected = Expected();
            for (int at = 0; at <= stream.Length; at++)
            {
                Assert.That(ReaderDriver.RunSplit(stream, at), Is.EqualTo(expected), $"split at {at} of {stream.Length}");
            }
        }

        [Test]
        public void OneByteAtATime_ReportsTheSameEvents()
        {
            Assert.That(ReaderDriver.RunBytewise(Stream()), Is.EqualTo(Expected()));
        }

        [Test]
        public void ThreeWaySplits_ReportTheSameEvents()
        {
            byte[] stream = Stream();
            List<string> expected = Expected();
            for (int a = 0; a <= stream.Length; a += 7)
            {
                for (int b = a; b <= stream.Length; b += 5)
                {
                    var chunks = new[] { stream[..a], stream[a..b], stream[b..] };
                    Assert.That(ReaderDriver.Run(chunks), Is.EqualTo(expected), $"split at {a} and {b}");
                }
            }
        }

        [Test]
        public void LargeFrame_SplitAtEveryOffsetAroundHeaderAndEnd()
        {
            // 64-bit length: every cut inside and just after the 14-byte header, and near the end.
            byte[] payload = Pattern(70000, seed: 11);
            byte[] stream = Concat(BinaryFrame(payload), TextFrame("after"));
            List<string> expected = ReaderDriver.Expect(ReaderEvent.Message(Binary, payload), ReaderEvent.Message(Text, Utf8("after")));
            IEnumerable<int> cuts = Enumerable.Range(0, 40).Concat(Enumerable.Range(stream.Length - 40, 41));
            foreach (int at in cuts)
            {
                Assert.That(ReaderDriver.RunSplit(stream, at), Is.EqualTo(expected), $"split at {at}");
            }
        }
    }
}
