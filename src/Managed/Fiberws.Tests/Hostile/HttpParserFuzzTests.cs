using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Fiberws.Http;
using NUnit.Framework;

namespace Fiberws.Tests.Hostile
{
    /// <summary>
    /// Property tests of the request-head parser (<see cref="HttpParser.TryParse"/>) on generated, mutated and random
    /// heads, each case from its own seed. For every input and limit: no exception; a consistent result (a rejection
    /// has a reason and an HTTP status, an acceptance a request whose every part is well-formed); nothing longer than
    /// the limit is accepted or waited for; and the verdict does not depend on how the bytes arrive: every prefix of
    /// the input is Incomplete or gets the same verdict as the whole. A generated valid head is parsed to exactly
    /// what was generated, and only once its last byte is in.
    /// </summary>
    [TestFixture]
    public class HttpParserFuzzTests
    {
        private static readonly string[] s_methods = { "GET", "GET", "GET", "POST", "PUT", "HEAD", "OPTIONS", "M-SEARCH", "get" };

        private static readonly string[] s_names =
        {
            "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions",
            "Origin", "Cookie", "User-Agent", "Accept", "X-Forwarded-For", "x-custom", "X_Under", "A", "!#$%&'*+-.^_`|~09az",
        };

        private static readonly byte[] s_tchars = Encoding.ASCII.GetBytes("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");

        /// <summary>A generated head: its bytes (with any leading empty lines) and what parsing must give.</summary>
        private sealed class GenHead
        {
            public byte[] Bytes = Array.Empty<byte>();
            public int Leading;          // ignorable empty lines before the request line (RFC 9112 §2.2)
            public int HeadLength;       // from the request line to the end of the empty line
            public string Method = "";
            public string Target = "";
            public int Version;
            public List<KeyValuePair<string, string>> Headers = new();
        }

        private static GenHead Generate(Random r)
        {
            var g = new GenHead();
            var b = new List<byte>();
            string Eol() => r.Next(4) == 0 ? "\n" : "\r\n";
            void Add(string s) => b.AddRange(Encoding.Latin1.GetBytes(s));

            int leading = r.Next(6) == 0 ? r.Next(1, 3) : 0;
            for (int i = 0; i < leading; i++)
            {
                Add(Eol());
            }
            g.Leading = b.Count;
            g.Method = r.Next(6) == 0 ? Token(r, r.Next(1, 12)) : s_methods[r.Next(s_methods.Length)];
            var target = new StringBuilder("/");
            int targetLength = r.Next(8) == 0 ? r.Next(100, 3000) : r.Next(0, 40);
            for (int i = 0; i < targetLength; i++)
            {
                target.Append((char)r.Next(0x21, 0x7F));
            }
            g.Target = target.ToString();
            g.Version = r.Next(5) == 0 ? 10 : 11;
            Add($"{g.Method} {g.Target} HTTP/1.{g.Version - 10}{Eol()}");
            var lines = new List<(string Name, string Value)>();
            if (g.Version == 11 || r.Next(2) == 0)
            {
                lines.Add((r.Next(4) == 0 ? "host" : "Host", r.Next(3) == 0 ? "[::1]:8080" : "127.0.0.1"));
            }
            int count = r.Next(8) == 0 ? r.Next(20, HttpParser.MaxHeaders) : r.Next(0, 12);
            count = Math.Min(count, HttpParser.MaxHeaders - lines.Count - 1); // room for a Content-Length
            for (int i = 0; i < count; i++)
            {
                string name = r.Next(3) == 0 ? Token(r, r.Next(1, 20)) : s_names[r.Next(s_names.Length)];
                if (name.Equals("Host", StringComparison.OrdinalIgnoreCase) || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) ||
                    name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
                {
                    name = "X-" + name;
                }
                lines.Add((name, Value(r)));
            }
            if (r.Next(6) == 0)
            {
                lines.Add(("Content-Length", r.Next(3) == 0 ? "0" : r.NextInt64(1, 999_999_999_999_999_999).ToString(System.Globalization.CultureInfo.InvariantCulture)));
            }
            Shuffle(r, lines);
            foreach ((string name, string value) in lines)
            {
                string before = r.Next(3) == 0 ? "" : r.Next(4) == 0 ? " \t " : " ";
                string after = r.Next(5) == 0 ? " \t" : "";
                Add($"{name}:{before}{value}{after}{Eol()}");
                g.Headers.Add(new KeyValuePair<string, string>(name, Encoding.UTF8.GetString(Encoding.Latin1.GetBytes(value))));
            }
            Add(Eol());
            g.HeadLength = b.Count - g.Leading;
            g.Bytes = b.ToArray();
            return g;
        }

        private static string Token(Random r, int length)
        {
            var sb = new StringBuilder();
            for (int i = 0; i < length; i++)
            {
                sb.Append((char)s_tchars[r.Next(s_tchars.Length)]);
            }
            return sb.ToString();
        }

        /// <summary>A field value: visible ASCII, inner spaces and tabs, sometimes obs-text bytes (0x80-0xFF).</summary>
        private static string Value(Random r)
        {
            int length = r.Next(10) == 0 ? r.Next(100, 1000) : r.Next(0, 30);
            var sb = new StringBuilder();
            for (int i = 0; i < length; i++)
            {
                int k = r.Next(20);
                sb.Append(k == 0 ? ' ' : k == 1 ? '\t' : k == 2 ? (char)r.Next(0x80, 0x100) : (char)r.Next(0x21, 0x7F));
            }
            return sb.ToString().Trim(' ', '\t');
        }

        private static void Shuffle<T>(Random r, List<T> list)
        {
            for (int i = list.Count - 1; i > 0; i--)
            {
                int j = r.Next(i + 1);
                (list[i], list[j]) = (list[j], list[i]);
            }
        }

        /// <summary>The outcome of one parse, in a comparable text form.</summary>
        private static string Verdict(ReadOnlySpan<byte> input, int maxHead, out ParseStatus status, out HttpRequest? request, out int consumed, out RejectReason reason)
        {
            status = HttpParser.TryParse(input, maxHead, out request, out consumed, out reason);
            return status switch
            {
                ParseStatus.Complete => $"Complete consumed={consumed} {Describe(request!)}",
                ParseStatus.Rejected => $"Rejected {reason} ({HttpParser.StatusFor(reason)})",
                _ => "Incomplete",
            };
        }

        private static string Describe(HttpRequest q) =>
            $"{q.Method} {q.Target} v{q.Version} [{string.Join(" | ", q.Headers.Select(h => h.Key + ": " + h.Value))}]";

        /// <summary>The properties every input must have, whatever it is; null when they hold.</summary>
        private static string? CheckAnyInput(Random r, byte[] input, int maxHead)
        {
            string whole = Verdict(input, maxHead, out ParseStatus status, out HttpRequest? request, out int consumed, out RejectReason reason);
            int skipped = LeadingEmptyLines(input);
            switch (status)
            {
                case ParseStatus.Complete:
                    string? bad = CheckRequest(input, consumed, skipped, maxHead, request, reason);
                    if (bad != null)
                    {
                        return $"accepted a bad head: {bad}; {whole}";
                    }
                    break;
                case ParseStatus.Rejected:
                    if (request != null || consumed != 0 || reason == RejectReason.None || HttpParser.StatusFor(reason) is not (400 or 414 or 431 or 505))
                    {
                        return $"inconsistent rejection: request {(request == null ? "null" : "set")}, consumed {consumed}, reason {reason}";
                    }
                    break;
                case ParseStatus.Incomplete:
                    if (request != null || consumed != 0 || reason != RejectReason.None)
                    {
                        return $"inconsistent Incomplete: request {(request == null ? "null" : "set")}, consumed {consumed}, reason {reason}";
                    }
                    if (input.Length - skipped >= maxHead)
                    {
                        return $"waits for more although {input.Length - skipped} bytes without an end of head reach the limit of {maxHead}";
                    }
                    break;
                default:
                    return $"unknown status {status}";
            }
            // However the input is cut, the server acts on the first prefix that is not Incomplete: it must agree.
            foreach (int n in Prefixes(r, input.Length))
            {
                string part = Verdict(input.AsSpan(0, n), maxHead, out ParseStatus s, out _, out _, out _);
                if (s != ParseStatus.Incomplete && part != whole)
                {
                    return $"the first {n} of {input.Length} bytes get a different verdict\n  whole:  {whole}\n  prefix: {part}";
                }
            }
            return null;
        }

        /// <summary>Every prefix length of a short input; for a long one, a sample including the ends.</summary>
        private static IEnumerable<int> Prefixes(Random r, int length)
        {
            if (length <= 700)
            {
                return Enumerable.Range(0, length);
            }
            var some = new SortedSet<int> { 0, 1, 2, length - 3, length - 2, length - 1 };
            for (int i = 0; i < 150; i++)
            {
                some.Add(r.Next(length));
            }
            return some;
        }

        private static int LeadingEmptyLines(ReadOnlySpan<byte> input)
        {
            int skip = 0;
            for (int lines = 0; lines < 2; lines++)
            {
                if (skip < input.Length && input[skip] == '\n')
                {
                    skip++;
                }
                else if (skip + 1 < input.Length && input[skip] == '\r' && input[skip + 1] == '\n')
                {
                    skip += 2;
                }
            }
            return skip;
        }

        /// <summary>An accepted head, checked byte by byte against RFC 9112 independently of the parser.</summary>
        private static string? CheckRequest(byte[] input, int consumed, int skipped, int maxHead, HttpRequest? q, RejectReason reason)
        {
            if (q == null || reason != RejectReason.None)
            {
                return $"request {(q == null ? "null" : "set")}, reason {reason}";
            }
            if (consumed <= skipped || consumed > input.Length)
            {
                return $"consumed {consumed} of {input.Length}";
            }
            if (consumed - skipped > maxHead)
            {
                return $"a head of {consumed - skipped} bytes passed the limit of {maxHead}";
            }
            // The head is everything up to the first empty line, which must end exactly at consumed.
            ReadOnlySpan<byte> head = input.AsSpan(skipped, consumed - skipped);
            int end = FirstEmptyLineEnd(head);
            if (end != head.Length)
            {
                return $"the head ends at {end}, not at the {head.Length} bytes consumed";
            }
            if (!IsToken(q.Method))
            {
                return $"method '{q.Method}' is not a token";
            }
            if (q.Target.Length == 0 || q.Target[0] != '/' || q.Target.Any(c => c <= 0x20 || c >= 0x7F))
            {
                return $"target '{q.Target}' is not an origin-form target";
            }
            if (q.Version is not (10 or 11))
            {
                return $"version {q.Version}";
            }
            int hosts = 0;
            bool contentLength = false, transferEncoding = false;
            foreach (KeyValuePair<string, string> h in q.Headers)
            {
                if (!IsToken(h.Key))
                {
                    return $"header name '{h.Key}' is not a token";
                }
                if (h.Value.Any(c => (c < 0x20 && c != '\t') || c == 0x7F) || (h.Value.Length > 0 && (IsOws(h.Value[0]) || IsOws(h.Value[^1]))))
                {
                    return $"header value of '{h.Key}' has control characters or untrimmed whitespace: {Escape(h.Value)}";
                }
                hosts += h.Key.Equals("Host", StringComparison.OrdinalIgnoreCase) ? 1 : 0;
                if (h.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                {
                    contentLength = true;
                    if (h.Value.Length == 0 || h.Value.Length > 18 || !h.Value.All(char.IsAsciiDigit))
                    {
                        return $"Content-Length '{h.Value}' accepted";
                    }
                }
                transferEncoding |= h.Key.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase);
            }
            if (hosts > 1 || (hosts == 0 && q.Version == 11))
            {
                return $"{hosts} Host headers in an HTTP/1.{q.Version - 10} request";
            }
            if (contentLength && transferEncoding)
            {
                return "Content-Length and Transfer-Encoding both accepted";
            }
            return null;
        }

        /// <summary>Where the first empty line ends ("\n\n" or "\n\r\n" after the request line), or -1.</summary>
        private static int FirstEmptyLineEnd(ReadOnlySpan<byte> head)
        {
            for (int i = 0; i < head.Length; i++)
            {
                if (head[i] != '\n')
                {
                    continue;
                }
                if (i + 1 < head.Length && head[i + 1] == '\n')
                {
                    return i + 2;
                }
                if (i + 2 < head.Length && head[i + 1] == '\r' && head[i + 2] == '\n')
                {
                    return i + 3;
                }
            }
            return -1;
        }

        private static bool IsOws(char c) => c is ' ' or '\t';

        private static bool IsToken(string s) => s.Length > 0 && s.All(c => c < 0x80 && Array.IndexOf(s_tchars, (byte)c) >= 0);

        private static string Escape(string s) => string.Concat(s.Select(c => c < 0x20 || c >= 0x7F ? $"\\x{(int)c:X2}" : c.ToString()));

        [Test]
        public void ValidHeads_AreParsedExactly_OnlyOnceComplete_AndNeverPastTheLimit()
        {
            FuzzSeeds.Run(nameof(ValidHeads_AreParsedExactly_OnlyOnceComplete_AndNeverPastTheLimit), 700_000, 800, seed =>
            {
                var r = new Random(seed);
                GenHead g = Generate(r);
                byte[] trailing = FrameGenerator.RandomBytes(r, r.Next(3) == 0 ? r.Next(1, 40) : 0); // a body or the next request
                byte[] input = Common.ClientFrames.Concat(g.Bytes, trailing);
                int fits = Math.Max(256, g.HeadLength + r.Next(0, 64));
                string context = $"generated head ({g.Leading} leading bytes, head {g.HeadLength} bytes): {Escape(Encoding.Latin1.GetString(g.Bytes))}";

                string whole = Verdict(input, fits, out ParseStatus status, out HttpRequest? q, out int consumed, out RejectReason reason);
                if (status != ParseStatus.Complete)
                {
                    return $"not accepted with limit {fits}: {whole}\n  {context}";
                }
                string expected = $"Complete consumed={g.Bytes.Length} {g.Method} {g.Target} v{g.Version} [{string.Join(" | ", g.Headers.Select(h => h.Key + ": " + h.Value))}]";
                string actual = $"Complete consumed={consumed} {q!.Method} {q.Target} v{q.Version} [{string.Join(" | ", q.Headers.Select(h => h.Key + ": " + h.Value))}]";
                // Well-known header names come back in their usual spelling; names are compared ignoring case.
                bool same = consumed == g.Bytes.Length && q.Method == g.Method && q.Target == g.Target && q.Version == g.Version &&
                    q.Headers.Select(h => h.Key.ToLowerInvariant()).SequenceEqual(g.Headers.Select(h => h.Key.ToLowerInvariant())) &&
                    q.Headers.Select(h => h.Value).SequenceEqual(g.Headers.Select(h => h.Value));
                if (!same)
                {
                    return $"parsed differently\n  expected: {Escape(expected)}\n  actual:   {Escape(actual)}\n  {context}";
                }
                for (int n = 0; n < g.Bytes.Length; n++)
                {
                    string part = Verdict(input.AsSpan(0, n), fits, out ParseStatus s, out _, out _, out _);
                    if (s != ParseStatus.Incomplete)
                    {
                        return $"the first {n} bytes already give {part}\n  {context}";
                    }
                }
                string? any = CheckAnyInput(r, input, fits);
                if (any != null)
                {
                    return any + "\n  " + context;
                }
                // One byte over the limit: rejected as too large (431, or 414 for a request line alone), never accepted.
                int tight = g.HeadLength - 1 - r.Next(0, Math.Min(64, g.HeadLength - 1));
                if (tight >= 1)
                {
                    string over = Verdict(input, tight, out ParseStatus so, out _, out _, out RejectReason ro);
                    if (so != ParseStatus.Rejected || ro is not (RejectReason.HeadTooLarge or RejectReason.RequestLineTooLong))
                    {
                        return $"a {g.HeadLength}-byte head with limit {tight}: {over}\n  {context}";
                    }
                    any = CheckAnyInput(r, input, tight);
                    if (any != null)
                    {
                        return $"with limit {tight}: {any}\n  {context}";
                    }
                }
                return null;
            });
        }

        private static readonly string[] s_insertions =
        {
            "\r", "\n", "\r\n", "\n\n", "\r\n\r\n", "\0", " ", "\t", ":", "\x7F", "\xFF", "/", "?", " HTTP/1.1", "HTTP/2.0", "\r\n ",
            "\r\nHost: b", "\r\nContent-Length: 5", "\r\nContent-Length: -1", "\r\nContent-Length: 99999999999999999999",
            "\r\nTransfer-Encoding: chunked", "\r\nX: a\rb", "\r\n\tfolded", "\r\n: empty-name", "\r\nName : v",
        };

        private static byte[] Mutate(Random r, byte[] input, out string what)
        {
            var log = new List<string>();
            var b = new List<byte>(input);
            int count = r.Next(1, 4);
            for (int i = 0; i < count && b.Count > 0; i++)
            {
                int x = r.Next(b.Count);
                switch (r.Next(7))
                {
                    case 0:
                        int bit = r.Next(8);
                        b[x] ^= (byte)(1 << bit);
                        log.Add($"byte {x}: bit {bit} flipped");
                        break;
                    case 1:
                        byte v = (byte)r.Next(256);
                        b[x] = v;
                        log.Add($"byte {x} set to {v:X2}");
                        break;
                    case 2:
                    case 3:
                        string ins = s_insertions[r.Next(s_insertions.Length)];
                        b.InsertRange(x, Encoding.Latin1.GetBytes(ins));
                        log.Add($"inserted {Escape(ins)} at {x}");
                        break;
                    case 4:
                        int n = Math.Min(r.Next(1, 12), b.Count - x);
                        b.RemoveRange(x, n);
                        log.Add($"deleted {n} bytes at {x}");
                        break;
                    case 5:
                        int d = Math.Min(r.Next(1, 60), b.Count - x);
                        b.InsertRange(x, b.GetRange(x, d));
                        log.Add($"repeated {d} bytes at {x}");
                        break;
                    default:
                        b.RemoveRange(x, b.Count - x);
                        log.Add($"truncated to {x} bytes");
                        break;
                }
            }
            what = string.Join("; ", log);
            return b.ToArray();
        }

        [Test]
        public void MutatedHeads_GetOneVerdict_WhereverTheyAreCut()
        {
            var verdicts = new Dictionary<string, int>();
            FuzzSeeds.Run(nameof(MutatedHeads_GetOneVerdict_WhereverTheyAreCut), 800_000, 3000, seed =>
            {
                var r = new Random(seed);
                GenHead g = Generate(r);
                byte[] input = Mutate(r, g.Bytes, out string what);
                int maxHead = r.Next(3) == 0 ? Math.Max(256, g.HeadLength + r.Next(-40, 40)) : r.Next(2) == 0 ? 8192 : 256 + r.Next(0, 4000);
                HttpParser.TryParse(input, maxHead, out _, out _, out RejectReason reason);
                lock (verdicts)
                {
                    verdicts[reason.ToString()] = verdicts.GetValueOrDefault(reason.ToString()) + 1;
                }
                string? failure = CheckAnyInput(r, input, maxHead);
                return failure == null ? null : $"{failure}\n  mutation: {what}, limit {maxHead}\n  input: {Escape(Encoding.Latin1.GetString(input.AsSpan(0, Math.Min(600, input.Length))))}";
            });
            TestContext.Out.WriteLine("verdicts: " + string.Join(", ", verdicts.OrderBy(v => v.Key).Select(v => $"{v.Key} x{v.Value}")));
            if (Environment.GetEnvironmentVariable("FIBERWS_FUZZ_SEED") == null)
            {
                Assert.That(verdicts.Keys, Is.SupersetOf(new[] { "None", "MalformedRequestLine", "MalformedHeader", "InvalidHeaderValue", "BareCarriageReturn", "ObsoleteLineFolding", "HeadTooLarge", "DuplicateHost" }),
                    "the mutations did not reach every kind of verdict");
            }
        }

        /// <summary>
        /// The smallest case of what the mutation and random-byte fuzz finds: a bad request line followed by more than
        /// the limit. Received whole (one read of at least the limit) it gets 431; received in two pieces, the first
        /// line alone already gets 400. The answer must not depend on how the bytes were cut.
        /// </summary>
        [TestCase("GARBAGE\r\n")]
        [TestCase("GET * HTTP/1.1\r\n")]
        [TestCase("GET / HTTP/2.0\r\n")]
        public void OversizedHead_WithABadRequestLine_GetsOneVerdict_WhereverItIsCut(string requestLine)
        {
            var text = new StringBuilder(requestLine);
            while (text.Length <= 8192)
            {
                text.Append("X-Filler: 0123456789abcdef0123456789abcdef\r\n");
            }
            text.Append("\r\n");
            byte[] input = Encoding.ASCII.GetBytes(text.ToString());
            string whole = Verdict(input, 8192, out _, out _, out _, out _);
            string firstLine = Verdict(input.AsSpan(0, requestLine.Length), 8192, out _, out _, out _, out _);
            Assert.That(firstLine, Is.EqualTo(whole), $"the request line alone vs the whole {input.Length}-byte head (limit 8192)");
        }

        [Test]
        public void RandomBytes_GetOneVerdict_WhereverTheyAreCut()
        {
            byte[] alphabet = Encoding.Latin1.GetBytes("GET / HTTP/1.1\r\n\r\nHost: a\r\n:\t \0\x7F\xFF");
            FuzzSeeds.Run(nameof(RandomBytes_GetOneVerdict_WhereverTheyAreCut), 900_000, 2000, seed =>
            {
                var r = new Random(seed);
                var input = new byte[r.Next(0, 400)];
                bool http = r.Next(2) == 0;
                for (int i = 0; i < input.Length; i++)
                {
                    input[i] = http ? alphabet[r.Next(alphabet.Length)] : (byte)r.Next(256);
                }
                if (r.Next(3) == 0)
                {
                    byte[] start = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\n");
                    if (input.Length < start.Length)
                    {
                        input = start;
                    }
                    start.CopyTo(input, 0);
                }
                int maxHead = r.Next(2) == 0 ? 256 : r.Next(1, 600);
                string? failure = CheckAnyInput(r, input, maxHead);
                return failure == null ? null : $"{failure}\n  limit {maxHead}, input: {Escape(Encoding.Latin1.GetString(input))}";
            });
        }
    }
}
