using System;
using Fiberws.Http;
using NUnit.Framework;
using static Fiberws.Tests.Http.HttpTestRequests;

namespace Fiberws.Tests.Http
{
    /// <summary>The parser is given everything received so far: every proper prefix is Incomplete, the whole head is Complete.</summary>
    [TestFixture]
    public class HttpParserSplitTests
    {
        [TestCase("GET /ws/1?v=2 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nCookie: s=1\r\n\r\n")]
        [TestCase("GET /ws HTTP/1.1\nHost: a\nX-A: b\n\n")]
        [TestCase("GET / HTTP/1.0\r\n\r\n")]
        public void EveryPrefix_IsIncomplete_ThenTheSameResult(string text)
        {
            byte[] input = Bytes(text);
            HttpRequest whole = ParseComplete(text);
            for (int n = 0; n < input.Length; n++)
            {
                ParseStatus status = HttpParser.TryParse(input.AsSpan(0, n), 8192, out HttpRequest? r, out int consumed, out RejectReason reason);
                Assert.That(status, Is.EqualTo(ParseStatus.Incomplete), $"prefix of {n} bytes ({reason})");
                Assert.That(r, Is.Null);
                Assert.That(consumed, Is.Zero);
            }
            Assert.That(HttpParser.TryParse(input, 8192, out HttpRequest? last, out int all, out _), Is.EqualTo(ParseStatus.Complete));
            Assert.That(all, Is.EqualTo(input.Length));
            Assert.That(last!.Target, Is.EqualTo(whole.Target));
            Assert.That(last.Headers, Is.EqualTo(whole.Headers));
        }

        [Test]
        public void PipelinedRequests_AreParsedOneAtATime()
        {
            string first = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
            string second = "GET /b HTTP/1.1\nHost: h\nX: y\n\n";
            string third = "GET /c HTTP/1.1\r\nHo";
            byte[] input = Bytes(first + second + third);

            Assert.That(HttpParser.TryParse(input, 8192, out HttpRequest? a, out int c1, out _), Is.EqualTo(ParseStatus.Complete));
            Assert.That(a!.Path, Is.EqualTo("/a"));
            Assert.That(c1, Is.EqualTo(first.Length));

            Assert.That(HttpParser.TryParse(input.AsSpan(c1), 8192, out HttpRequest? b, out int c2, out _), Is.EqualTo(ParseStatus.Complete));
            Assert.That(b!.Path, Is.EqualTo("/b"));
            Assert.That(b.Header("X"), Is.EqualTo("y"));
            Assert.That(c2, Is.EqualTo(second.Length));

            Assert.That(HttpParser.TryParse(input.AsSpan(c1 + c2), 8192, out _, out int c3, out _), Is.EqualTo(ParseStatus.Incomplete));
            Assert.That(c3, Is.Zero);
        }

        [TestCase("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505)]
        [TestCase("GET / HTTP/1.1 x\r\nHost: a\r\n\r\n", 400)]
        [TestCase("GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400)]
        public void BadRequestLine_GetsTheSameStatus_AtEverySplitPoint(string text, int status)
        {
            // Whether the head arrives whole or only up to its first line, the answer must be the same.
            byte[] input = Bytes(text);
            for (int n = 0; n <= input.Length; n++)
            {
                ParseStatus s = HttpParser.TryParse(input.AsSpan(0, n), 8192, out _, out _, out RejectReason reason);
                if (s == ParseStatus.Rejected)
                {
                    Assert.That(HttpParser.StatusFor(reason), Is.EqualTo(status), $"prefix of {n} bytes rejected as {reason}");
                    Assert.That(reason, Is.Not.EqualTo(RejectReason.None), $"prefix of {n} bytes rejected without a reason");
                }
                else
                {
                    Assert.That(s, Is.EqualTo(ParseStatus.Incomplete), $"prefix of {n} bytes");
                    Assert.That(n, Is.LessThan(input.Length), "the whole head must be rejected");
                }
            }
        }

        [Test]
        public void MalformedRequestLine_IsRejected_BeforeTheHeadEnds()
        {
            // Garbage is refused as soon as its first line is complete, without waiting for a whole head.
            Assert.That(HttpParser.TryParse(Bytes("GARBAGE\r\nHost: a\r\n"), 8192, out _, out _, out RejectReason reason), Is.EqualTo(ParseStatus.Rejected));
            Assert.That(reason, Is.EqualTo(RejectReason.MalformedRequestLine));
        }
    }
}
