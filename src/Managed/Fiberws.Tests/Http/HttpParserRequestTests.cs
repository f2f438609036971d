using Fiberws.Http;
using NUnit.Framework;
using static Fiberws.Tests.Http.HttpTestRequests;

namespace Fiberws.Tests.Http
{
    /// <summary>Well-formed request heads (RFC 9112 §2-5).</summary>
    [TestFixture]
    public class HttpParserRequestTests
    {
        private const string Get =
            "GET /chat/room?x=1 HTTP/1.1\r\n" +
            "Host: example.com:8080\r\n" +
            "Upgrade: websocket\r\n" +
            "Connection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
            "X-Custom:   padded value \t\r\n" +
            "X-Empty:\r\n" +
            "Sec-WebSocket-Version: 13\r\n" +
            "\r\n";

        [Test]
        public void Get_WithHeaders_IsParsed()
        {
            HttpRequest r = ParseComplete(Get);
            Assert.That(r.Method, Is.EqualTo("GET"));
            Assert.That(r.Target, Is.EqualTo("/chat/room?x=1"));
            Assert.That(r.Path, Is.EqualTo("/chat/room"));
            Assert.That(r.RawQuery, Is.EqualTo("x=1"));
            Assert.That(r.Version, Is.EqualTo(11));
            Assert.That(r.Headers, Has.Count.EqualTo(7));
            Assert.That(r.Header("Host"), Is.EqualTo("example.com:8080"));
            Assert.That(r.Header("Sec-WebSocket-Key"), Is.EqualTo("dGhlIHNhbXBsZSBub25jZQ=="));
            Assert.That(r.Header("X-Custom"), Is.EqualTo("padded value"), "optional whitespace around the value is trimmed");
            Assert.That(r.Header("X-Empty"), Is.EqualTo(string.Empty));
            Assert.That(r.Header("X-Missing"), Is.Null);
            Assert.That(r.KeepAlive, Is.True);
        }

        [Test]
        public void HeaderLookup_IgnoresCase()
        {
            HttpRequest r = ParseComplete(Get);
            Assert.That(r.Header("host"), Is.EqualTo("example.com:8080"));
            Assert.That(r.Header("HOST"), Is.EqualTo("example.com:8080"));
            Assert.That(r.Header("sec-websocket-version"), Is.EqualTo("13"));
            Assert.That(r.HeaderCount("UPGRADE"), Is.EqualTo(1));
            Assert.That(r.HasToken("connection", "UPGRADE"), Is.True);
        }

        [Test]
        public void HeaderNames_KeepTheirSpelling()
        {
            HttpRequest r = ParseComplete("GET / HTTP/1.1\r\nhost: a\r\nx-lower: 1\r\n\r\n");
            Assert.That(r.Headers[1].Key, Is.EqualTo("x-lower"));
            Assert.That(r.Header("Host"), Is.EqualTo("a"));
        }

        [Test]
        public void DuplicateHeaders_AreJoinedWithCommaSpace()
        {
            HttpRequest r = ParseComplete("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a: 2\r\nX-A: 3\r\n\r\n");
            Assert.That(r.Header("X-A"), Is.EqualTo("1, 2, 3"));
            Assert.That(r.HeaderCount("x-A"), Is.EqualTo(3));
        }

        [Test]
        public void BareLineFeeds_AreAccepted()
        {
            HttpRequest r = ParseComplete("GET /a HTTP/1.1\nHost: h\nX-A: 1\n\n");
            Assert.That(r.Path, Is.EqualTo("/a"));
            Assert.That(r.Header("Host"), Is.EqualTo("h"));
            Assert.That(r.Header("X-A"), Is.EqualTo("1"));
        }

        [Test]
        public void MixedLineEnds_AreAccepted()
        {
            HttpRequest r = ParseComplete("GET /a HTTP/1.1\r\nHost: h\nX-A: 1\r\n\n");
            Assert.That(r.Header("X-A"), Is.EqualTo("1"));
        }

        [Test]
        public void Http10_WithoutHost_IsAccepted_AndNotKeepAlive()
        {
            HttpRequest r = ParseComplete("GET / HTTP/1.0\r\n\r\n");
            Assert.That(r.Version, Is.EqualTo(10));
            Assert.That(r.KeepAlive, Is.False);
            Assert.That(ParseComplete("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").KeepAlive, Is.True);
        }

        [Test]
        public void ConnectionClose_IsNotKeepAlive()
        {
            Assert.That(ParseComplete("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").KeepAlive, Is.False);
        }

        [Test]
        public void ContentLength_IsRead_AndIdenticalDuplicatesAreAccepted()
        {
            HttpRequest r = ParseComplete("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n");
            Assert.That(r.ContentLength, Is.EqualTo(5));
        }

        [Test]
        public void TrailingBytes_AreNotConsumed()
        {
            byte[] input = Bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n\u0081\u0085abcd");
            Assert.That(HttpParser.TryParse(input, 8192, out _, out int consumed, out _), Is.EqualTo(ParseStatus.Complete));
            Assert.That(consumed, Is.EqualTo(input.Length - 6));
        }
    }
}
