using Fiberws.Http;
using NUnit.Framework;
using static Fiberws.Tests.Http.HttpTestRequests;

namespace Fiberws.Tests.Http
{
    /// <summary>Query strings (percent-encoding, '+') and the Cookie header.</summary>
    [TestFixture]
    public class QueryAndCookieTests
    {
        private static HttpRequest Request(string target, string extraHeaders = "") =>
            ParseComplete("GET " + target + " HTTP/1.1\r\nHost: a\r\n" + extraHeaders + "\r\n");

        [Test]
        public void Query_IsDecoded()
        {
            HttpRequest r = Request("/p?v=1.0&name=John+Smith&sp=a%20b&plus=1%2B1&euro=%E2%82%AC&flag&empty=&k%3Dy=z");
            Assert.That(r.RawQuery, Is.EqualTo("v=1.0&name=John+Smith&sp=a%20b&plus=1%2B1&euro=%E2%82%AC&flag&empty=&k%3Dy=z"));
            Assert.That(r.Query("v"), Is.EqualTo("1.0"));
            Assert.That(r.Query("name"), Is.EqualTo("John Smith"));
            Assert.That(r.Query("sp"), Is.EqualTo("a b"));
            Assert.That(r.Query("plus"), Is.EqualTo("1+1"));
            Assert.That(r.Query("euro"), Is.EqualTo("€"));
            Assert.That(r.Query("flag"), Is.EqualTo(string.Empty));
            Assert.That(r.Query("empty"), Is.EqualTo(string.Empty));
            Assert.That(r.Query("k=y"), Is.EqualTo("z"));
            Assert.That(r.Query("missing"), Is.Null);
        }

        [Test]
        public void Query_FirstValueWins_AndNamesAreCaseSensitive()
        {
            HttpRequest r = Request("/p?a=1&a=2&A=3");
            Assert.That(r.Query("a"), Is.EqualTo("1"));
            Assert.That(r.Query("A"), Is.EqualTo("3"));
        }

        [Test]
        public void Query_MalformedEscapes_AreKept()
        {
            HttpRequest r = Request("/p?a=%zz&b=%4&c=100%");
            Assert.That(r.Query("a"), Is.EqualTo("%zz"));
            Assert.That(r.Query("b"), Is.EqualTo("%4"));
            Assert.That(r.Query("c"), Is.EqualTo("100%"));
        }

        [Test]
        public void NoQuery_GivesNulls()
        {
            HttpRequest r = Request("/p");
            Assert.That(r.RawQuery, Is.Empty);
            Assert.That(r.Query("v"), Is.Null);
            Assert.That(Request("/p?").Query("v"), Is.Null);
        }

        [Test]
        public void Cookies_AreParsed()
        {
            HttpRequest r = Request("/", "Cookie: session=abc123; theme=\"dark\"; empty=; spaced = x \r\nCookie: second=2\r\n");
            Assert.That(r.Cookie("session"), Is.EqualTo("abc123"));
            Assert.That(r.Cookie("theme"), Is.EqualTo("dark"));
            Assert.That(r.Cookie("empty"), Is.EqualTo(string.Empty));
            Assert.That(r.Cookie("spaced"), Is.EqualTo("x"));
            Assert.That(r.Cookie("second"), Is.EqualTo("2"));
            Assert.That(r.Cookie("missing"), Is.Null);
            Assert.That(r.Cookie("Session"), Is.Null, "cookie names are case-sensitive");
        }

        [Test]
        public void NoCookieHeader_GivesNull()
        {
            Assert.That(Request("/").Cookie("session"), Is.Null);
        }
    }
}
