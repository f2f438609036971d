using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.IO.Compression;
using System.Reflection;
using Fiberws.Protocol;
using Fiberws.Protocol.Compression;
using Fiberws.Tests.Common;
using NUnit.Framework;
using static Fiberws.Tests.Common.ClientFrames;

namespace Fiberws.Tests.Compression
{
    /// <summary>
    /// Compressed messages through <see cref="MessageReader"/> with an inflater set: the RFC 7692 §7.2.3 byte
    /// sequences at every split point (general and in-place paths), RSV1 rules, invalid data and the zip-bomb limit.
    /// </summary>
    [TestFixture]
    public class CompressedReaderTests
    {
        private const string Hello = "f2 48 cd c9 c9 07 00";

        private static string HelloEvent => ReaderEvent.Message(Text, Utf8("Hello")).ToString();

        private static MessageReader NewReader(long readLimit = 0, bool clientNoContextTakeover = false) =>
            new() { ReadLimit = readLimit, Inflater = new MessageInflater(clientNoContextTakeover) };

        /// <summary>Feeds chunks to a reader (general path) and records the events.</summary>
        private static List<string> Run(MessageReader reader, IEnumerable<byte[]> chunks)
        {
            var events = new List<string>();
            foreach (byte[] chunk in chunks)
            {
                ReadOnlySpan<byte> rest = chunk;
                while (true)
                {
                    ReadStatus s = reader.Feed(rest, out int consumed);
                    rest = rest.Slice(consumed);
                    if (s == ReadStatus.NeedMore)
                    {
                        Assert.That(rest.Length, Is.Zero, "NeedMore with input left");
                        break;
                    }
                    events.Add(Describe(reader, s));
                    if (s == ReadStatus.Error)
                    {
                        return events;
                    }
                }
            }
            return events;
        }

        /// <summary>Feeds chunks through FeedInPlace (the fast path for whole frames) and records the events.</summary>
        private static List<string> RunInPlace(MessageReader reader, IEnumerable<byte[]> chunks)
        {
            var events = new List<string>();
            foreach (byte[] original in chunks)
            {
                byte[] chunk = (byte[])original.Clone();
                int at = 0;
                while (true)
                {
                    ReadStatus s = reader.FeedInPlace(chunk.AsSpan(at), out int consumed);
                    at += consumed;
                    if (s == ReadStatus.NeedMore)
                    {
                        Assert.That(at, Is.EqualTo(chunk.Length), "NeedMore with input left");
                        break;
                    }
                    events.Add(Describe(reader, s));
                    if (s == ReadStatus.Error)
                    {
                        return events;
                    }
                }
            }
            return events;
        }

        private static string Describe(MessageReader r, ReadStatus s) => s switch
        {
            ReadStatus.Message => ReaderEvent.Message(r.MessageOpcode, r.Message.ToArray()).ToString(),
            ReadStatus.Control => ReaderEvent.Control(r.ControlOpcode, r.Control.ToArray()).ToString(),
            ReadStatus.Error => ReaderEvent.Error(r.ErrorCode).ToString(),
            _ => s.ToString(),
        };

        /// <summary>Runs the stream whole, at every split point, bytewise, and in place; each must give the expected events.</summary>
        private static void AtEverySplit(byte[] stream, List<string> expected, long readLimit = 0, bool noContext = false)
        {
            using (MessageReader r = NewReader(readLimit, noContext))
            {
                Assert.That(Run(r, new[] { stream }), Is.EqualTo(expected), "whole");
            }
            using (MessageReader r = NewReader(readLimit, noContext))
            {
                Assert.That(RunInPlace(r, new[] { stream }), Is.EqualTo(expected), "whole, in place");
            }
            for (int at = 1; at < stream.Length; at++)
            {
                using (MessageReader r = NewReader(readLimit, noContext))
                {
                    Assert.That(Run(r, new[] { stream[..at], stream[at..] }), Is.EqualTo(expected), $"split at {at}");
                }
                using (MessageReader r = NewReader(readLimit, noContext))
                {
                    Assert.That(RunInPlace(r, new[] { stream[..at], stream[at..] }), Is.EqualTo(expected), $"split at {at}, in place");
                }
            }
            var bytes = new List<byte[]>();
            foreach (byte b in stream)
            {
                bytes.Add(new[] { b });
            }
            using (MessageReader r = NewReader(readLimit, noContext))
            {
                Assert.That(Run(r, bytes), Is.EqualTo(expected), "bytewise");
            }
        }

        private static List<string> Expect(params string[] events) => new(events);

        // ---- RFC 7692 §7.2.3 ------------------------------------------------------------------------------

        [Test]
        public void Rfc7_2_3_1_HelloInOneFrame()
        {
            AtEverySplit(Frame(Text, Hex(Hello), rsv: Rsv1), Expect(HelloEvent));
        }

        [Test]
        public void Rfc7_2_3_1_HelloInTwoFragments_Rsv1OnlyOnTheFirst()
        {
            byte[] stream = Concat(Frame(Text, Hex("f2 48 cd"), fin: false, rsv: Rsv1), Frame(Continuation, Hex("c9 c9 07 00")));
            AtEverySplit(stream, Expect(HelloEvent));
        }

        [Test]
        public void Rfc7_2_3_2_TwoMessagesSharingTheWindow()
        {
            byte[] stream = Concat(Frame(Text, Hex(Hello), rsv: Rsv1), Frame(Text, Hex("f2 00 11 00 00"), rsv: Rsv1));
            AtEverySplit(stream, Expect(HelloEvent, HelloEvent));
        }

        [Test]
        public void Rfc7_2_3_2_SecondMessageWithoutContextTakeover_IsInvalid()
        {
            // With client_no_context_takeover the inflater starts afresh: the back reference points before the start.
            byte[] stream = Concat(Frame(Text, Hex(Hello), rsv: Rsv1), Frame(Text, Hex("f2 00 11 00 00"), rsv: Rsv1));
            using MessageReader r = NewReader(clientNoContextTakeover: true);
            Assert.That(Run(r, new[] { stream }), Is.EqualTo(Expect(HelloEvent, "Error 1007")));
        }

        [Test]
        public void Rfc7_2_3_3_StoredBlock()
        {
            AtEverySplit(Frame(Text, Hex("00 05 00 fa ff 48 65 6c 6c 6f 00"), rsv: Rsv1), Expect(HelloEvent));
        }

        [Test]
        public void Rfc7_2_3_4_BlockWithBfinalSet()
        {
            AtEverySplit(Frame(Text, Hex("f3 48 cd c9 c9 07 00 00"), rsv: Rsv1), Expect(HelloEvent));
        }

        [Test]
        public void Rfc7_2_3_4_BlockWithBfinalSet_ThenAnotherMessage()
        {
            // After a final block the next message must still decode (it starts a new deflate stream).
            byte[] stream = Concat(Frame(Text, Hex("f3 48 cd c9 c9 07 00 00"), rsv: Rsv1), Frame(Text, Hex(Hello), rsv: Rsv1));
            using MessageReader r = NewReader();
            Assert.That(Run(r, new[] { stream }), Is.EqualTo(Expect(HelloEvent, HelloEvent)));
        }

        [Test]
        public void Rfc7_2_3_5_TwoDeflateBlocksInOneMessage()
        {
            AtEverySplit(Frame(Text, Hex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00"), rsv: Rsv1), Expect(HelloEvent));
        }

        [Test]
        public void CompressedAndPlainMessages_Interleave()
        {
            byte[] stream = Concat(
                Frame(Text, Hex(Hello), rsv: Rsv1),
                TextFrame("plain"),
                PingFrame(Utf8("p")),
                Frame(Text, Hex("f2 00 11 00 00"), rsv: Rsv1),
                Frame(Binary, Hex(Hello), fin: false, rsv: Rsv1),
                PingFrame(Utf8("q")),
                Frame(Continuation, Array.Empty<byte>()));
            AtEverySplit(stream, Expect(
                HelloEvent,
                ReaderEvent.Message(Text, Utf8("plain")).ToString(),
                ReaderEvent.Control(Ping, Utf8("p")).ToString(),
                HelloEvent,
                ReaderEvent.Control(Ping, Utf8("q")).ToString(),
                // the third compressed message refers back to the first two (context takeover): "Hello" again
                ReaderEvent.Message(Binary, Utf8("Hello")).ToString()));
        }

        [Test]
        public void LargeCompressedMessage_InManyFragments_AtRandomSplits()
        {
            byte[] original = Deflate.Repetitive(300_000);
            new Random(3).NextBytes(original.AsSpan(100_000, 50_000));
            byte[] packed = Deflate.Compress(original);
            var frames = new List<byte[]>();
            int pos = 0, i = 0;
            while (pos < packed.Length)
            {
                int n = Math.Min(packed.Length - pos, 1 + (i * 7919) % 20000);
                bool last = pos + n == packed.Length;
                frames.Add(Frame(i == 0 ? Binary : Continuation, packed.AsSpan(pos, n), fin: last, rsv: i == 0 ? Rsv1 : (byte)0));
                pos += n;
                i++;
            }
            byte[] stream = Concat(frames.ToArray());
            var rnd = new Random(11);
            var chunks = new List<byte[]>();
            for (int at = 0; at < stream.Length;)
            {
                int n = Math.Min(stream.Length - at, rnd.Next(1, 9000));
                chunks.Add(stream[at..(at + n)]);
                at += n;
            }
            using MessageReader r = NewReader(readLimit: 1 << 20);
            List<string> events = Run(r, chunks);
            Assert.That(events, Has.Count.EqualTo(1));
            Assert.That(events[0], Is.EqualTo(ReaderEvent.Message(Binary, original).ToString()));
        }

        // ---- RSV1 rules and invalid data --------------------------------------------------------------------

        [Test]
        public void Rsv1OnAContinuationFrame_Is1002()
        {
            byte[] stream = Concat(Frame(Text, Hex("f2 48 cd"), fin: false, rsv: Rsv1), Frame(Continuation, Hex("c9 c9 07 00"), rsv: Rsv1));
            AtEverySplit(stream, Expect("Error 1002"));
        }

        [Test]
        public void Rsv1OnAContinuationOfAnUncompressedMessage_Is1002()
        {
            byte[] stream = Concat(Frame(Text, Utf8("Hel"), fin: false), Frame(Continuation, Hex(Hello), rsv: Rsv1));
            AtEverySplit(stream, Expect("Error 1002"));
        }

        [TestCase(Ping)]
        [TestCase(Pong)]
        [TestCase(Close)]
        public void Rsv1OnAControlFrame_Is1002(int opcode)
        {
            AtEverySplit(Frame(opcode, Hex(Hello), rsv: Rsv1), Expect("Error 1002"));
        }

        [Test]
        public void Rsv1OnAPingInsideACompressedMessage_Is1002()
        {
            byte[] stream = Concat(Frame(Text, Hex("f2 48 cd"), fin: false, rsv: Rsv1), Frame(Ping, Array.Empty<byte>(), rsv: Rsv1));
            AtEverySplit(stream, Expect("Error 1002"));
        }

        [Test]
        public void Rsv1WithoutAnInflater_Is1002()
        {
            byte[] frame = Frame(Text, Hex(Hello), rsv: Rsv1);
            Assert.That(ReaderDriver.RunWhole(frame), Is.EqualTo(Expect("Error 1002")));
            Assert.That(ReaderDriver.RunBytewise(frame), Is.EqualTo(Expect("Error 1002")));
            using var r = new MessageReader();
            Assert.That(RunInPlace(r, new[] { frame }), Is.EqualTo(Expect("Error 1002")), "in place");
        }

        [TestCase(Rsv2)]
        [TestCase(Rsv3)]
        public void Rsv2AndRsv3_StayErrorsWithAnInflater(byte rsv)
        {
            AtEverySplit(Frame(Text, Hex(Hello), rsv: (byte)(rsv | Rsv1)), Expect("Error 1002"));
            AtEverySplit(Frame(Text, Utf8("Hello"), rsv: rsv), Expect("Error 1002"));
        }

        [TestCase("ff ff ff ff")]              // BTYPE 11: reserved block type
        [TestCase("00 05 00 00 00 48 65 6c 6c 6f")] // stored block: NLEN is not the complement of LEN
        [TestCase("f2 48 cd c9 c9 07 00 00 00 ff ff ff")] // a good message, an empty stored block, then BTYPE 11
        [TestCase("f2 00 11 00 00")]           // a back reference with no history at all
        public void GarbageDeflateData_Is1007(string hex)
        {
            AtEverySplit(Frame(Binary, Hex(hex), rsv: Rsv1), Expect("Error 1007"));
        }

        [Test]
        public void CompressedInvalidUtf8Text_Is1007()
        {
            byte[] packed = Deflate.Compress(new byte[] { 0x41, 0xC3, 0x28, 0x42 });
            AtEverySplit(Frame(Text, packed, rsv: Rsv1), Expect("Error 1007"));
            // the same bytes as binary are fine
            AtEverySplit(Frame(Binary, packed, rsv: Rsv1), Expect(ReaderEvent.Message(Binary, new byte[] { 0x41, 0xC3, 0x28, 0x42 }).ToString()));
        }

        [Test]
        public void CompressedTextEndingInsideAUtf8Sequence_Is1007()
        {
            byte[] packed = Deflate.Compress(new byte[] { 0x41, 0xE2, 0x82 });
            AtEverySplit(Frame(Text, packed, rsv: Rsv1), Expect("Error 1007"));
        }

        [Test]
        public void CompressedTextWithAUtf8SequenceAcrossFragments_IsFine()
        {
            byte[] text = Utf8("€uro €");
            byte[] packed = Deflate.Compress(text);
            byte[] stream = Concat(Frame(Text, packed.AsSpan(0, 2), fin: false, rsv: Rsv1), Frame(Continuation, packed.AsSpan(2)));
            AtEverySplit(stream, Expect(ReaderEvent.Message(Text, text).ToString()));
        }

        [Test]
        public void EmptyCompressedMessage_IsEmpty()
        {
            // An empty message compressed by zlib: the empty stored block 00 00 00 FF FF minus its tail.
            byte[] stream = Concat(Frame(Text, Hex("00"), rsv: Rsv1), Frame(Text, Hex(Hello), rsv: Rsv1));
            AtEverySplit(stream, Expect(ReaderEvent.Message(Text, Array.Empty<byte>()).ToString(), HelloEvent));
        }

        // ---- zip bomb ----------------------------------------------------------------------------------------

        private static byte[]? s_bomb;

        /// <summary>200 MB of zeros, raw deflate with a sync flush, tail removed (about 200 KB).</summary>
        private static byte[] Bomb()
        {
            if (s_bomb == null)
            {
                var ms = new MemoryStream();
                using (var z = new DeflateStream(ms, CompressionLevel.SmallestSize, leaveOpen: true))
                {
                    var zeros = new byte[1 << 20];
                    for (int i = 0; i < 200; i++)
                    {
                        z.Write(zeros);
                    }
                    z.Flush();
                    s_bomb = Deflate.StripTail(ms.ToArray());
                }
            }
            return s_bomb;
        }

        private static long InflateBufferCapacity(MessageReader r)
        {
            FieldInfo? f = typeof(MessageReader).GetField("_inflated", BindingFlags.NonPublic | BindingFlags.Instance);
            Assert.That(f, Is.Not.Null, "MessageReader._inflated (the inflate buffer) not found; update the test");
            return ((NativeBuffer)f!.GetValue(r)!).Capacity;
        }

        [Test]
        public void ZipBomb_Is1009_QuicklyAndWithoutExpanding()
        {
            byte[] bomb = Bomb();
            Assert.That(bomb.Length, Is.LessThan(1 << 20), "the bomb itself fits the read limit");
            byte[] frame = Frame(Binary, bomb, rsv: Rsv1);
            using MessageReader r = NewReader(readLimit: 1 << 20);
            var sw = Stopwatch.StartNew();
            List<string> events = Run(r, new[] { frame });
            sw.Stop();
            Assert.That(events, Is.EqualTo(Expect("Error 1009")));
            Assert.That(sw.Elapsed, Is.LessThan(TimeSpan.FromSeconds(2)));
            Assert.That(InflateBufferCapacity(r), Is.LessThanOrEqualTo(2L * ((1 << 20) + 65536)), "inflate buffer stayed near the read limit");
        }

        [Test]
        public void ZipBomb_InPlace_And_Fragmented_And_Streaming_Are1009()
        {
            byte[] bomb = Bomb();
            using (MessageReader r = NewReader(readLimit: 1 << 20))
            {
                Assert.That(RunInPlace(r, new[] { Frame(Binary, bomb, rsv: Rsv1) }), Is.EqualTo(Expect("Error 1009")), "in place");
                Assert.That(InflateBufferCapacity(r), Is.LessThanOrEqualTo(2L * ((1 << 20) + 65536)));
            }
            int half = bomb.Length / 2;
            byte[] fragmented = Concat(Frame(Binary, bomb.AsSpan(0, half), fin: false, rsv: Rsv1), Frame(Continuation, bomb.AsSpan(half)));
            using (MessageReader r = NewReader(readLimit: 1 << 20))
            {
                Assert.That(Run(r, new[] { fragmented }), Is.EqualTo(Expect("Error 1009")), "fragmented");
            }
            using (MessageReader r = NewReader(readLimit: 1 << 20))
            {
                r.Streaming = true;
                Assert.That(Run(r, new[] { Frame(Text, bomb, rsv: Rsv1) }), Is.EqualTo(Expect("Error 1009")), "streaming");
                Assert.That(InflateBufferCapacity(r), Is.LessThanOrEqualTo(2L * ((1 << 20) + 65536)));
            }
        }

        [Test]
        public void MessageInflatingToExactlyTheLimit_IsAccepted_OneMore_Is1009()
        {
            byte[] exact = Deflate.Repetitive(100_000);
            using (MessageReader r = NewReader(readLimit: 100_000))
            {
                Assert.That(Run(r, new[] { Frame(Binary, Deflate.Compress(exact), rsv: Rsv1) }),
                    Is.EqualTo(Expect(ReaderEvent.Message(Binary, exact).ToString())));
            }
            using (MessageReader r = NewReader(readLimit: 99_999))
            {
                Assert.That(Run(r, new[] { Frame(Binary, Deflate.Compress(exact), rsv: Rsv1) }), Is.EqualTo(Expect("Error 1009")));
            }
        }

        [Test]
        public void AfterAnInflateError_TheReaderReportsNothingElse()
        {
            // The connection is failed after 1009; the reader must not crash when disposed with the inflater mid-stream.
            MessageReader r = NewReader(readLimit: 1000);
            Assert.That(Run(r, new[] { Frame(Binary, Deflate.Compress(new byte[5000]), rsv: Rsv1) }), Is.EqualTo(Expect("Error 1009")));
            Assert.DoesNotThrow(r.Dispose);
        }
    }
}
