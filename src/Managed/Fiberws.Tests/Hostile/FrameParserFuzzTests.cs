using System;
using System.Collections.Generic;
using System.Linq;
using Fiberws.Protocol;
using Fiberws.Tests.Common;
using NUnit.Framework;

namespace Fiberws.Tests.Hostile
{
    /// <summary>
    /// Property tests of the client frame decoder (<see cref="MessageReader"/>) on generated, mutated and random
    /// input, each case from its own seed. For every input: no exception escapes, every call makes progress, and the
    /// events (messages, control frames, then at most one error with its close code) equal those of an independent
    /// reference decoder (<see cref="ReferenceDecoder"/>) for the unsplit input and for random cuts of it, fed through
    /// Feed or the way the connections feed it (in-place fast path, direct receive into large payloads). Valid
    /// sequences must also give back exactly the messages that were generated.
    /// </summary>
    [TestFixture]
    public class FrameParserFuzzTests
    {
        private static readonly long[] s_limits = { 0, 0, 0, 64, 200, 1000, 4096, 70000, 1 << 20, 64L << 20 };
        private static readonly int[] s_capacities = { 16, 64, 256, 1024, 4096 };

        private static ReaderSetup RandomSetup(Random r, Deflation deflation, bool anyLimit) => new(
            anyLimit ? s_limits[r.Next(s_limits.Length)] : 0,
            anyLimit && r.Next(5) == 0 ? r.Next(1, 6) : 0,
            r.Next(4) == 0,
            deflation);

        /// <summary>The unsplit feed must match expected; then several random cuts and paths must match it too.</summary>
        private static string? CheckAllSplits(Random r, byte[] stream, ReaderSetup setup, List<string> expected, string context, int variants = 5)
        {
            string describe = $"{context}\n  setup: {setup}\n  input: {FuzzSeeds.Hex(stream)}";
            List<string> whole = ReaderHarness.Run(new[] { stream }, setup, FeedPath.Feed, 4096, out string? violation);
            if (violation != null)
            {
                return $"unsplit feed broke the reader's contract: {violation}\n{describe}";
            }
            if (!whole.SequenceEqual(expected))
            {
                return $"unsplit feed differs from the reference\n{describe}\n  expected: {Show(expected)}\n  actual:   {Show(whole)}";
            }
            for (int v = 0; v < variants; v++)
            {
                List<int> cuts = ReaderHarness.RandomCuts(r, stream.Length);
                FeedPath path = v % 2 == 0 ? FeedPath.Pump : FeedPath.Feed;
                int capacity = s_capacities[r.Next(s_capacities.Length)];
                List<string> split = ReaderHarness.Run(ReaderHarness.Cut(stream, cuts), setup, path, capacity, out violation);
                string how = $"{path} path, read buffer {capacity}, cut at [{string.Join(",", cuts.Take(40))}{(cuts.Count > 40 ? ",..." : "")}]";
                if (violation != null)
                {
                    return $"split feed broke the reader's contract: {violation} ({how})\n{describe}";
                }
                if (!split.SequenceEqual(whole))
                {
                    return $"split feed differs from the unsplit one ({how})\n{describe}\n  unsplit: {Show(whole)}\n  split:   {Show(split)}";
                }
            }
            return null;
        }

        /// <summary>Tallies how the reference judged each case, so a test can check that it reached every verdict.</summary>
        private static List<string> Tally(Dictionary<string, int> outcomes, List<string> expected)
        {
            string key = expected.Count > 0 && expected[^1].StartsWith("Error", StringComparison.Ordinal) ? expected[^1] : expected.Count > 0 ? "no error" : "nothing yet";
            lock (outcomes)
            {
                outcomes[key] = outcomes.GetValueOrDefault(key) + 1;
            }
            return expected;
        }

        /// <summary>Asserts that the cases reached each of these verdicts at least once (else the generator is too tame).</summary>
        private static void AssertReached(Dictionary<string, int> outcomes, params string[] verdicts)
        {
            TestContext.Out.WriteLine("verdicts: " + string.Join(", ", outcomes.OrderBy(o => o.Key).Select(o => $"{o.Key} x{o.Value}")));
            if (Environment.GetEnvironmentVariable("FIBERWS_FUZZ_SEED") == null)
            {
                Assert.That(outcomes.Keys, Is.SupersetOf(verdicts), "the fuzz cases did not reach every verdict");
            }
        }

        private static string Show(List<string> events) => events.Count == 0 ? "(nothing)" : string.Join(" | ", events);

        [Test]
        public void ValidSequences_AreDecodedExactly_WhereverTheyAreCut()
        {
            FuzzSeeds.Run(nameof(ValidSequences_AreDecodedExactly_WhereverTheyAreCut), 100_000, 600, seed =>
            {
                var r = new Random(seed);
                GenSequence seq = FrameGenerator.Valid(r, Deflation.None);
                var setup = new ReaderSetup(r.Next(2) == 0 ? 0 : seq.LargestMessage + r.Next(0, 3), r.Next(3) == 0 ? seq.MostFrames : 0, r.Next(3) == 0, Deflation.None);
                byte[] stream = seq.ToBytes();
                List<string> reference = ReferenceDecoder.Decode(stream, setup);
                if (!reference.SequenceEqual(seq.Expected))
                {
                    return $"the reference decoder disagrees with the generator (a test bug)\n  expected: {Show(seq.Expected)}\n  reference: {Show(reference)}";
                }
                return CheckAllSplits(r, stream, setup, seq.Expected, "valid sequence");
            });
        }

        [TestCase(false)]
        [TestCase(true)]
        public void ValidCompressedSequences_AreDecodedExactly_WhereverTheyAreCut(bool noContextTakeover)
        {
            Deflation deflation = noContextTakeover ? Deflation.NoContextTakeover : Deflation.ContextTakeover;
            FuzzSeeds.Run(nameof(ValidCompressedSequences_AreDecodedExactly_WhereverTheyAreCut), 200_000 + (int)deflation * 10_000, 200, seed =>
            {
                var r = new Random(seed);
                GenSequence seq = FrameGenerator.Valid(r, deflation);
                var setup = new ReaderSetup(r.Next(2) == 0 ? 0 : seq.LargestMessage + r.Next(0, 3), 0, r.Next(3) == 0, deflation);
                byte[] stream = seq.ToBytes();
                List<string> reference = ReferenceDecoder.Decode(stream, setup);
                if (!reference.SequenceEqual(seq.Expected))
                {
                    return $"the reference decoder disagrees with the generator (a test bug)\n  expected: {Show(seq.Expected)}\n  reference: {Show(reference)}";
                }
                return CheckAllSplits(r, stream, setup, seq.Expected, "valid compressed sequence", variants: 3);
            });
        }

        [Test]
        public void MutatedSequences_GetTheReferenceVerdict_WhereverTheyAreCut()
        {
            var outcomes = new Dictionary<string, int>();
            FuzzSeeds.Run(nameof(MutatedSequences_GetTheReferenceVerdict_WhereverTheyAreCut), 300_000, 5000, seed =>
            {
                var r = new Random(seed);
                GenSequence seq = FrameGenerator.Valid(r, Deflation.None);
                ReaderSetup setup = RandomSetup(r, Deflation.None, anyLimit: true);
                byte[] stream = FrameGenerator.Mutate(r, seq, setup.ReadLimit, out string what);
                return CheckAllSplits(r, stream, setup, Tally(outcomes, ReferenceDecoder.Decode(stream, setup)), "mutation: " + what, variants: 3);
            });
            AssertReached(outcomes, "no error", "nothing yet", Ev.Error(1002), Ev.Error(1007), Ev.Error(1009));
        }

        [TestCase(false)]
        [TestCase(true)]
        public void MutatedCompressedSequences_GetTheReferenceVerdict_WhereverTheyAreCut(bool noContextTakeover)
        {
            Deflation deflation = noContextTakeover ? Deflation.NoContextTakeover : Deflation.ContextTakeover;
            var outcomes = new Dictionary<string, int>();
            FuzzSeeds.Run(nameof(MutatedCompressedSequences_GetTheReferenceVerdict_WhereverTheyAreCut), 400_000 + (int)deflation * 10_000, 1000, seed =>
            {
                var r = new Random(seed);
                GenSequence seq = FrameGenerator.Valid(r, deflation);
                ReaderSetup setup = RandomSetup(r, deflation, anyLimit: true);
                byte[] stream = FrameGenerator.Mutate(r, seq, setup.ReadLimit, out string what);
                return CheckAllSplits(r, stream, setup, Tally(outcomes, ReferenceDecoder.Decode(stream, setup)), "mutation: " + what, variants: 3);
            });
            AssertReached(outcomes, "no error", Ev.Error(1002), Ev.Error(1007), Ev.Error(1009));
        }

        [Test]
        public void RandomBytes_GetTheReferenceVerdict_WhereverTheyAreCut()
        {
            var outcomes = new Dictionary<string, int>();
            FuzzSeeds.Run(nameof(RandomBytes_GetTheReferenceVerdict_WhereverTheyAreCut), 500_000, 3000, seed =>
            {
                var r = new Random(seed);
                Deflation deflation = (Deflation)r.Next(3);
                ReaderSetup setup = RandomSetup(r, deflation, anyLimit: true);
                byte[] stream = FrameGenerator.RandomBytes(r, r.Next(0, 300));
                if (stream.Length > 1 && r.Next(2) == 0)
                {
                    // Random, but shaped like a frame start often enough to get past the first two bytes.
                    stream[0] = (byte)((stream[0] & 0x8F) | (r.Next(4) == 0 ? 0x40 : 0));
                    stream[1] |= 0x80;
                }
                return CheckAllSplits(r, stream, setup, Tally(outcomes, ReferenceDecoder.Decode(stream, setup)), "random bytes", variants: 3);
            });
            AssertReached(outcomes, "nothing yet", Ev.Error(1002), Ev.Error(1009));
        }

        /// <summary>
        /// Every special declared length (the 7/16/64-bit form edges, the read limit's edges, the 2 GiB cap, 2^63 and
        /// beyond) on data and control frames, with the close code each must get named here, not taken from the
        /// reference: the reference must agree too, and the result must not depend on cuts.
        /// </summary>
        [Test]
        public void DeclaredLengthEdits_GetTheRightCloseCode()
        {
            var r = new Random(600_000);
            var failures = new List<string>();
            byte[] body = FrameGenerator.RandomBytes(r, 40);
            foreach (long readLimit in new long[] { 0, 100, 65536 })
            {
                foreach (bool streaming in new[] { false, true })
                {
                    var setup = new ReaderSetup(readLimit, 0, streaming, Deflation.None);
                    foreach (int opcode in new[] { ClientFrames.Binary, ClientFrames.Text, ClientFrames.Continuation, ClientFrames.Ping })
                    {
                        foreach (ulong declared in FrameGenerator.SpecialLengths(readLimit, body.Length).Distinct())
                        {
                            foreach (LengthForm form in new[] { LengthForm.Minimal, LengthForm.Force16, LengthForm.Force64 })
                            {
                                if (form == LengthForm.Force16 && declared > 0xFFFF)
                                {
                                    continue;
                                }
                                var frames = new List<GenFrame>();
                                if (opcode == ClientFrames.Continuation)
                                {
                                    frames.Add(FrameGenerator.NewFrame(r, ClientFrames.Binary, fin: false, rsv: 0, Array.Empty<byte>()));
                                }
                                // The payload is the declared length when there are that many bytes, else all 40: the
                                // frame is then complete, or the reader must wait for the rest (nothing left over).
                                byte[] all = opcode == ClientFrames.Text ? "plain ascii text, forty bytes long......"u8.ToArray() : body;
                                GenFrame f = FrameGenerator.NewFrame(r, opcode, fin: true, rsv: 0, all[..(int)Math.Min(declared, (ulong)all.Length)]);
                                f.DeclaredLength = declared;
                                f.Form = form;
                                frames.Add(f);
                                byte[] stream = GenSequence.ToBytes(frames);
                                int? code = ExpectedCode(opcode, declared, form, readLimit, streaming);
                                List<string> reference = ReferenceDecoder.Decode(stream, setup);
                                List<string> actual = ReaderHarness.Run(new[] { stream }, setup, FeedPath.Pump, 4096, out string? violation);
                                string what = $"opcode {opcode}, declared {declared} ({form}), payload {f.Payload.Length}, read limit {readLimit}, streaming {streaming}";
                                string? last = actual.Count > 0 ? actual[^1] : null;
                                bool codeOk = code == null ? last == null || !last.StartsWith("Error", StringComparison.Ordinal) : last == Ev.Error(code.Value);
                                if (violation != null || !codeOk || !actual.SequenceEqual(reference))
                                {
                                    failures.Add($"{what}: expected {(code == null ? "no error" : Ev.Error(code.Value))}, reference {Show(reference)}, actual {Show(actual)} {violation}");
                                    continue;
                                }
                                string? split = CheckAllSplits(r, stream, setup, reference, what, variants: 2);
                                if (split != null)
                                {
                                    failures.Add(split);
                                }
                            }
                        }
                    }
                }
            }
            Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(10)));
        }

        /// <summary>The close code a frame with this declared length must get, or null when it is acceptable.</summary>
        private static int? ExpectedCode(int opcode, ulong declared, LengthForm form, long readLimit, bool streaming)
        {
            bool control = opcode >= 8;
            bool longForm = form != LengthForm.Minimal || declared > 125;
            if (control && longForm)
            {
                return 1002; // control frames carry at most 125 bytes, so only the 7-bit form
            }
            if (declared > long.MaxValue)
            {
                return 1002; // RFC 6455 §5.2: the most significant bit of a 64-bit length must be 0
            }
            if (!control && readLimit > 0 && declared > (ulong)readLimit)
            {
                return 1009;
            }
            if (!control && !streaming && declared > (ulong)MessageReader.MaxMessageBytes)
            {
                return 1009; // more than one buffered message can hold
            }
            return null;
        }
    }
}
