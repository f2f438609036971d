using System;
using System.Collections.Generic;
using System.Globalization;
using System.Threading;
using NUnit.Framework;

namespace Fiberws.Tests.Hostile
{
    /// <summary>
    /// Deterministic seeds for the fuzz tests: case i of a test uses seed base + i, so a failure names the one seed that
    /// reproduces it. FIBERWS_FUZZ_SEED=n runs only that seed (in every fuzz test); FIBERWS_FUZZ_CASES=n changes how
    /// many cases each test runs (more for a long local run; the defaults keep the suite within its time budget).
    /// </summary>
    internal static class FuzzSeeds
    {
        public static IEnumerable<int> For(int baseSeed, int defaultCases)
        {
            string? only = Environment.GetEnvironmentVariable("FIBERWS_FUZZ_SEED");
            if (!string.IsNullOrEmpty(only))
            {
                yield return int.Parse(only, CultureInfo.InvariantCulture);
                yield break;
            }
            string? cases = Environment.GetEnvironmentVariable("FIBERWS_FUZZ_CASES");
            int count = string.IsNullOrEmpty(cases) ? defaultCases : int.Parse(cases, CultureInfo.InvariantCulture);
            for (int i = 0; i < count; i++)
            {
                yield return baseSeed + i;
            }
        }

        /// <summary>
        /// Runs one case per seed; a case returns null when its properties hold, else a description. Unexpected
        /// exceptions are failures too. All failing seeds are listed (the first few in full) and printed.
        /// </summary>
        public static void Run(string test, int baseSeed, int defaultCases, Func<int, string?> runCase)
        {
            var failures = new List<string>();
            int ran = 0;
            int current = baseSeed;
            // A watchdog: a case that never returns (a decoder stuck in a loop) fails the test with its seed
            // instead of hanging the run. The stuck thread is a background thread and dies with the test host.
            var cases = new Thread(() =>
            {
                foreach (int seed in For(baseSeed, defaultCases))
                {
                    Volatile.Write(ref current, seed);
                    ran++;
                    string? failure;
                    try
                    {
                        failure = runCase(seed);
                    }
                    catch (Exception e)
                    {
                        failure = "unexpected exception: " + e;
                    }
                    if (failure != null)
                    {
                        failures.Add($"seed {seed}: {failure}");
                    }
                }
            }, 16 << 20) { IsBackground = true, Name = "fuzz " + test };
            cases.Start();
            if (!cases.Join(TimeSpan.FromSeconds(120)))
            {
                Assert.Fail($"{test}: seed {Volatile.Read(ref current)} did not finish; {ran - 1} cases before it ran (reproduce with FIBERWS_FUZZ_SEED={Volatile.Read(ref current)})");
            }
            if (failures.Count > 0)
            {
                string report = $"{test}: {failures.Count} of {ran} cases failed (reproduce one with FIBERWS_FUZZ_SEED=<seed>):\n" +
                    string.Join("\n\n", failures.GetRange(0, Math.Min(5, failures.Count)));
                if (failures.Count > 5)
                {
                    report += "\n\nother failing seeds: " + string.Join(", ", failures.GetRange(5, failures.Count - 5).ConvertAll(f => f.Substring(0, f.IndexOf(':'))));
                }
                TestContext.Out.WriteLine(report);
                Assert.Fail(report);
            }
            Assert.That(ran, Is.GreaterThan(0), "no cases ran");
        }

        /// <summary>The first bytes of data in hex, for failure reports.</summary>
        public static string Hex(ReadOnlySpan<byte> data, int max = 200) =>
            Convert.ToHexString(data.Slice(0, Math.Min(data.Length, max))) + (data.Length > max ? $"... ({data.Length} bytes)" : $" ({data.Length} bytes)");
    }
}
