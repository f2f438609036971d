using Fiberws.Http;
using NUnit.Framework;
using static Fiberws.Tests.Http.HttpTestRequests;

namespace Fiberws.Tests.Http
{
    /// <summary>Request heads that must be refused, and the status each maps to.</summary>
    [TestFixture]
    public class HttpParserRejectionTests
    {
        private static void AssertRejected(string text, RejectReason reason, int status, int maxHead = 8192)
        {
            var (r, s) = ParseRejected(text, maxHead);
            Assert.That(r, Is.EqualTo(reason));
            Assert.That(s, Is.EqualTo(status));
        }

        [Test]
        public void ObsoleteLineFolding_IsRejected()
        {
            AssertRejected("GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n", RejectReason.ObsoleteLineFolding, 400);
            AssertRejected("GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n\ttwo\r\n\r\n", RejectReason.ObsoleteLineFolding, 400);
        }

        [TestCase("Host : a")]
        [TestCase("Host\t: a")]
        [TestCase(" Host: a")]
        public void WhitespaceAroundHeaderName_IsRejected(string line)
        {
            var (_, status) = ParseRejected("GET / HTTP/1.1\r\n" + line + "\r\n\r\n");
            Assert.That(status, Is.EqualTo(400));
        }

        [TestCase("NoColon")]
        [TestCase(": empty-name")]
        [TestCase("Bad(Name): x")]
        public void MalformedHeaderLine_IsRejected(string line)
        {
            AssertRejected("GET / HTTP/1.1\r\nHost: a\r\n" + line + "\r\n\r\n", RejectReason.MalformedHeader, 400);
        }

        [TestCase("a\u0001b")]
        [TestCase("a\u0000b")]
        [TestCase("a\u007Fb")]
        [TestCase("a\u001Bb")]
        public void ControlCharacterInValue_IsRejected(string value)
        {
            AssertRejected("GET / HTTP/1.1\r\nHost: a\r\nX-A: " + value + "\r\n\r\n", RejectReason.InvalidHeaderValue, 400);
        }

        [Test]
        public void BareCarriageReturnInValue_IsRejected()
        {
            var (_, status) = ParseRejected("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n");
            Assert.That(status, Is.EqualTo(400));
        }

        [Test]
        public void HeadLargerThanLimit_Is431()
        {
            string head = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + new string('b', 400) + "\r\n\r\n";
            AssertRejected(head, RejectReason.HeadTooLarge, 431, maxHead: 256);
        }

        [Test]
        public void IncompleteHeadAtTheLimit_Is431()
        {
            string head = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + new string('b', 400);
            AssertRejected(head, RejectReason.HeadTooLarge, 431, maxHead: 256);
        }

        [Test]
        public void HeadExactlyAtTheLimit_IsAccepted()
        {
            string prefix = "GET / HTTP/1.1\r\nHost: a\r\nX-Fill: ";
            string head = prefix + new string('f', 256 - prefix.Length - 4) + "\r\n\r\n";
            Assert.That(head.Length, Is.EqualTo(256));
            Assert.That(ParseComplete(head, maxHead: 256).Header("X-Fill"), Has.Length.EqualTo(256 - prefix.Length - 4));
        }

        [Test]
        public void TooManyHeaders_Is431()
        {
            var sb = new System.Text.StringBuilder("GET / HTTP/1.1\r\nHost: a\r\n");
            for (int i = 0; i < HttpParser.MaxHeaders; i++)
            {
                sb.Append("X-").Append(i).Append(": v\r\n");
            }
            sb.Append("\r\n");
            AssertRejected(sb.ToString(), RejectReason.TooManyHeaders, 431);
        }

        [Test]
        public void RequestLineAloneTooLong_Is414()
        {
            // What the server's head buffer holds when the request line does not fit: no line end yet.
            string partial = "GET /" + new string('a', 400);
            AssertRejected(partial, RejectReason.RequestLineTooLong, 414, maxHead: 256);
        }

        [Test]
        public void RequestLineTooLong_Is414_EvenWhenTheWholeHeadIsGiven()
        {
            // The same request in one piece must get the same answer as when it arrives piecemeal.
            string whole = "GET /" + new string('a', 400) + " HTTP/1.1\r\nHost: a\r\n\r\n";
            AssertRejected(whole, RejectReason.RequestLineTooLong, 414, maxHead: 256);
        }

        [TestCase("HTTP/2.0")]
        [TestCase("HTTP/1.2")]
        [TestCase("HTTP/0.9")]
        [TestCase("HTTP/3.0")]
        public void UnsupportedVersion_Is505(string version)
        {
            AssertRejected("GET / " + version + "\r\nHost: a\r\n\r\n", RejectReason.UnsupportedVersion, 505);
        }

        [TestCase("GET /")]
        [TestCase("GET / ")]
        [TestCase("GET  / HTTP/1.1")]
        [TestCase(" GET / HTTP/1.1")]
        [TestCase("GET / HTTP/1.1 extra")]
        [TestCase("GET / http/1.1")]
        [TestCase("GET / HTTP/1.10")]
        [TestCase("GET / HTTP/1")]
        [TestCase("G(T / HTTP/1.1")]
        [TestCase("")]
        public void MalformedRequestLine_Is400(string line)
        {
            var (_, status) = ParseRejected(line + "\r\nHost: a\r\n\r\n");
            Assert.That(status, Is.EqualTo(400));
        }

        [TestCase("GET * HTTP/1.1")]
        [TestCase("GET /a\u0001b HTTP/1.1")]
        [TestCase("GET /caf\u00e9 HTTP/1.1")]
        public void InvalidTarget_Is400(string line)
        {
            AssertRejected(line + "\r\nHost: a\r\n\r\n", RejectReason.InvalidTarget, 400);
        }

        [Test]
        public void MissingHost_InHttp11_Is400()
        {
            AssertRejected("GET / HTTP/1.1\r\nX-A: b\r\n\r\n", RejectReason.MissingHost, 400);
        }

        [Test]
        public void TwoHostHeaders_Is400()
        {
            AssertRejected("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", RejectReason.DuplicateHost, 400);
            AssertRejected("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", RejectReason.DuplicateHost, 400);
        }

        [Test]
        public void ContentLengthAndTransferEncoding_Is400()
        {
            AssertRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                RejectReason.ContentLengthAndTransferEncoding, 400);
            AssertRejected("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                RejectReason.ContentLengthAndTransferEncoding, 400);
        }

        [Test]
        public void ConflictingContentLengths_Is400()
        {
            AssertRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", RejectReason.InvalidContentLength, 400);
        }

        [TestCase("abc")]
        [TestCase("-1")]
        [TestCase("+5")]
        [TestCase("")]
        [TestCase("5, 6")]
        [TestCase("9999999999999999999")]
        public void InvalidContentLength_Is400(string value)
        {
            AssertRejected("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + value + "\r\n\r\n", RejectReason.InvalidContentLength, 400);
        }
    }
}
