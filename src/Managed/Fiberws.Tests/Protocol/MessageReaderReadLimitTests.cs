using Fiberws.Tests.Common;
using NUnit.Framework;
using static Fiberws.Tests.Common.ClientFrames;

namespace Fiberws.Tests.Protocol
{
    /// <summary>The read limit is checked against each frame header, before its payload is buffered (1009).</summary>
    [TestFixture]
    public class MessageReaderReadLimitTests
    {
        [Test]
        public void FrameOverLimit_FailsOnTheHeaderAlone()
        {
            using var d = new ReaderDriver(readLimit: 1000);
            d.Feed(Header(Binary, fin: true, length: 1001, key: NextKey()));
            Assert.That(d.Events.ConvertAll(e => e.ToString()), Is.EqualTo(ReaderDriver.Expect(ReaderEvent.Error(1009))));
        }

        [Test]
        public void HugeDeclaredLength_FailsOnTheHeaderAlone()
        {
            using var d = new ReaderDriver(readLimit: 64 << 20);
            d.Feed(Header(Binary, fin: true, length: 1UL << 40, key: NextKey()));
            Assert.That(d.Events.ConvertAll(e => e.ToString()), Is.EqualTo(ReaderDriver.Expect(ReaderEvent.Error(1009))));
            Assert.That(d.Reader.BufferCapacity, Is.LessThan(1 << 20), "nothing was reserved for the refused payload");
        }

        [Test]
        public void FragmentsOverLimit_FailOnTheHeaderThatCrossesIt()
        {
            using var d = new ReaderDriver(readLimit: 1000);
            d.Feed(Frame(Binary, Pattern(600), fin: false));
            Assert.That(d.Events, Is.Empty);
            d.Feed(Header(Continuation, fin: true, length: 401, key: NextKey()));
            Assert.That(d.Events.ConvertAll(e => e.ToString()), Is.EqualTo(ReaderDriver.Expect(ReaderEvent.Error(1009))));
        }

        [Test]
        public void MessageThatExactlyFits_IsAccepted()
        {
            byte[] payload = Pattern(1000);
            Assert.That(ReaderDriver.RunWhole(BinaryFrame(payload), readLimit: 1000),
                Is.EqualTo(ReaderDriver.Expect(ReaderEvent.Message(Binary, payload))));
        }

        [Test]
        public void FragmentedMessageThatExactlyFits_IsAccepted()
        {
            byte[] payload = Pattern(1000);
            byte[] stream = Concat(Frame(Binary, payload[..600], fin: false), PingFrame(Pattern(100)), Frame(Continuation, payload[600..], fin: true));
            Assert.That(ReaderDriver.RunWhole(stream, readLimit: 1000),
                Is.EqualTo(ReaderDriver.Expect(ReaderEvent.Control(Ping, Pattern(100)), ReaderEvent.Message(Binary, payload))));
        }

        [Test]
        public void LimitAppliesPerMessage_NotAcrossMessages()
        {
            byte[] a = Pattern(800, 1);
            byte[] b = Pattern(800, 2);
            Assert.That(ReaderDriver.RunWhole(Concat(BinaryFrame(a), BinaryFrame(b)), readLimit: 1000),
                Is.EqualTo(ReaderDriver.Expect(ReaderEvent.Message(Binary, a), ReaderEvent.Message(Binary, b))));
        }

        [Test]
        public void ControlFrames_DoNotCountTowardsTheLimit()
        {
            byte[] payload = Pattern(10);
            Assert.That(ReaderDriver.RunWhole(Concat(PingFrame(Pattern(125)), BinaryFrame(payload)), readLimit: 10),
                Is.EqualTo(ReaderDriver.Expect(ReaderEvent.Control(Ping, Pattern(125)), ReaderEvent.Message(Binary, payload))));
        }
    }
}
