using System.Collections.Generic;
using System.IO;
using System.Text;
using Fiberws.Tests.Common;
using NUnit.Framework;
using static Fiberws.Tests.Common.ClientFrames;

namespace Fiberws.Tests.Protocol
{
    /// <summary>Messages spread over many frames (RFC 6455 §5.4).</summary>
    [TestFixture]
    public class MessageReaderFragmentationTests
    {
        [TestCase(2)]
        [TestCase(1000)]
        [TestCase(5000)]
        public void ThousandsOfFragments_AreOneMessage(int fragments)
        {
            var stream = new MemoryStream();
            var text = new StringBuilder();
            for (int i = 0; i < fragments; i++)
            {
                string part = $"<{i}>";
                text.Append(part);
                stream.Write(Frame(i == 0 ? Text : Continuation, Utf8(part), fin: i == fragments - 1));
            }
            stream.Write(TextFrame("next"));
            List<string> expected = ReaderDriver.Expect(ReaderEvent.Message(Text, Utf8(text.ToString())), ReaderEvent.Message(Text, Utf8("next")));
            Assert.That(ReaderDriver.RunWhole(stream.ToArray()), Is.EqualTo(expected));
        }

        [Test]
        public void ThousandsOfFragments_WithPingsBetween_AreOneMessage()
        {
            var stream = new MemoryStream();
            var expected = new List<ReaderEvent>();
            var all = new MemoryStream();
            for (int i = 0; i < 3000; i++)
            {
                byte[] part = Pattern(i % 17, seed: i);
                all.Write(part);
                stream.Write(Frame(i == 0 ? Binary : Continuation, part, fin: i == 2999));
                if (i % 500 == 250)
                {
                    byte[] ping = Utf8("ping " + i);
                    stream.Write(PingFrame(ping));
                    expected.Add(ReaderEvent.Control(Ping, ping));
                }
            }
            expected.Add(ReaderEvent.Message(Binary, all.ToArray()));
            Assert.That(ReaderDriver.RunWhole(stream.ToArray()), Is.EqualTo(expected.ConvertAll(e => e.ToString())));
        }

        [Test]
        public void MaxFrames_LimitsFragmentsPerMessage()
        {
            var stream = new MemoryStream();
            for (int i = 0; i < 11; i++)
            {
                stream.Write(Frame(i == 0 ? Binary : Continuation, new byte[] { (byte)i }, fin: i == 10));
            }
            using var d = new ReaderDriver();
            d.Reader.MaxFrames = 10;
            d.Feed(stream.ToArray());
            Assert.That(d.Events.ConvertAll(e => e.ToString()), Is.EqualTo(ReaderDriver.Expect(ReaderEvent.Error(1009))));

            using var ok = new ReaderDriver();
            ok.Reader.MaxFrames = 11;
            ok.Feed(stream.ToArray());
            Assert.That(ok.Events, Has.Count.EqualTo(1));
            Assert.That(ok.Events[0].Kind, Is.EqualTo(Fiberws.Protocol.ReadStatus.Message));
        }

        [Test]
        public void MessageBuffer_IsReusedForTheNextMessage()
        {
            using var d = new ReaderDriver();
            d.Feed(BinaryFrame(Pattern(5000, 1)));
            d.Feed(BinaryFrame(Pattern(10, 2)));
            Assert.That(d.Events.ConvertAll(e => e.ToString()), Is.EqualTo(ReaderDriver.Expect(
                ReaderEvent.Message(Binary, Pattern(5000, 1)), ReaderEvent.Message(Binary, Pattern(10, 2)))));
            Assert.That(d.Reader.InMessage, Is.False);
        }
    }
}
