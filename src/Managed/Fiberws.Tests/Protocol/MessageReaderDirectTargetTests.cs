using System;
using System.Runtime.InteropServices;
using Fiberws.Protocol;
using Fiberws.Tests.Common;
using NUnit.Framework;
using static Fiberws.Tests.Common.ClientFrames;

namespace Fiberws.Tests.Protocol
{
    /// <summary>TryGetDirectTarget/CommitDirect (receiving a large payload straight into the message) gives what Feed gives.</summary>
    [TestFixture]
    public unsafe class MessageReaderDirectTargetTests
    {
        /// <summary>Feeds the first feedBytes of the frame with Feed, then the rest through the direct target in chunks.</summary>
        private static (ReadStatus Status, int Opcode, byte[] Message) FeedThenDirect(MessageReader r, byte[] frame, int feedBytes, int chunk)
        {
            ReadStatus status = r.Feed(frame.AsSpan(0, feedBytes), out int consumed);
            Assert.That(status, Is.EqualTo(ReadStatus.NeedMore));
            Assert.That(consumed, Is.EqualTo(feedBytes));
            int pos = feedBytes;
            while (pos < frame.Length)
            {
                Assert.That(r.TryGetDirectTarget(1, out byte* target, out int room), Is.True, $"direct target at {pos}");
                Assert.That(room, Is.GreaterThan(0));
                int n = Math.Min(Math.Min(room, chunk), frame.Length - pos);
                frame.AsSpan(pos, n).CopyTo(new Span<byte>(target, n));
                pos += n;
                status = r.CommitDirect(n);
                if (status != ReadStatus.NeedMore)
                {
                    break;
                }
            }
            return (status, r.MessageOpcode, status == ReadStatus.Message ? r.Message.ToArray() : Array.Empty<byte>());
        }

        [TestCase(100000, 14, 4096)]
        [TestCase(100000, 14 + 3, 4095)] // part of the payload through Feed, at an odd mask offset
        [TestCase(100000, 14 + 1001, 7)]
        [TestCase(70000, 14, 70000)]
        public void DirectPath_GivesTheSameMessageAsFeed(int length, int feedBytes, int chunk)
        {
            byte[] payload = Pattern(length, seed: length + feedBytes);
            byte[] frame = BinaryFrame(payload);
            using var r = new MessageReader();
            var (status, opcode, message) = FeedThenDirect(r, frame, feedBytes, chunk);
            Assert.That(status, Is.EqualTo(ReadStatus.Message));
            Assert.That(opcode, Is.EqualTo(Binary));
            Assert.That(message, Is.EqualTo(payload));
            Assert.That(ReaderDriver.RunWhole(frame), Is.EqualTo(ReaderDriver.Expect(ReaderEvent.Message(Binary, message))));
        }

        [Test]
        public void DirectPath_ContinuesAFragmentedMessage()
        {
            byte[] first = Pattern(1000, 1);
            byte[] second = Pattern(50000, 2);
            byte[] frame2 = Frame(Continuation, second, fin: true);
            using var r = new MessageReader();
            byte[] frame1 = Frame(Binary, first, fin: false);
            Assert.That(r.Feed(frame1, out int c1), Is.EqualTo(ReadStatus.NeedMore));
            Assert.That(c1, Is.EqualTo(frame1.Length));
            var (status, _, message) = FeedThenDirect(r, frame2, 14, 3333);
            Assert.That(status, Is.EqualTo(ReadStatus.Message));
            Assert.That(message, Is.EqualTo(Concat(first, second)));
        }

        [Test]
        public void DirectPath_ValidatesText()
        {
            byte[] payload = Utf8(new string('a', 5000) + "\u00e9" + new string('b', 5000));
            payload[5000] = 0xC0; // "é" = C3 A9 becomes the overlong lead C0 A9
            byte[] frame = Frame(Text, payload);
            using var r = new MessageReader();
            var (status, _, _) = FeedThenDirect(r, frame, 8, 4096);
            Assert.That(status, Is.EqualTo(ReadStatus.Error));
            Assert.That(r.ErrorCode, Is.EqualTo(1007));
        }

        [Test]
        public void NoDirectTarget_ForControlFramesOrBetweenFrames()
        {
            using var r = new MessageReader();
            Assert.That(r.TryGetDirectTarget(1, out _, out _), Is.False, "before any frame");
            byte[] ping = PingFrame(Pattern(100));
            r.Feed(ping.AsSpan(0, 6 + 10), out _);
            Assert.That(r.TryGetDirectTarget(1, out _, out _), Is.False, "inside a control frame");
        }

        [Test]
        public void NoDirectTarget_WhenLessThanMinimumLeft()
        {
            using var r = new MessageReader();
            byte[] frame = BinaryFrame(Pattern(1000));
            r.Feed(frame.AsSpan(0, frame.Length - 100), out _);
            Assert.That(r.TryGetDirectTarget(4096, out _, out _), Is.False);
            Assert.That(r.TryGetDirectTarget(100, out _, out int room), Is.True);
            Assert.That(room, Is.EqualTo(100));
        }
    }
}
