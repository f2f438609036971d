using System.Text;
using Fiberws.Http;
using NUnit.Framework;

namespace Fiberws.Tests.Http
{
    /// <summary>RFC 9112 §2.2: a server SHOULD ignore at least one empty line received before the request line.</summary>
    public class LeadingEmptyLineTests
    {
        [TestCase("\r\n")]
        [TestCase("\n")]
        [TestCase("\r\n\r\n")]
        public void EmptyLinesBeforeTheRequestLine_AreIgnored(string prefix)
        {
            byte[] input = Encoding.ASCII.GetBytes(prefix + "GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
            ParseStatus status = HttpParser.TryParse(input, 8192, out HttpRequest? request, out int consumed, out RejectReason reason);
            Assert.That(status, Is.EqualTo(ParseStatus.Complete), reason.ToString());
            Assert.That(request!.Path, Is.EqualTo("/x"));
            Assert.That(consumed, Is.EqualTo(input.Length));
        }

        [Test]
        public void ThreeEmptyLines_AreTooMany()
        {
            byte[] input = Encoding.ASCII.GetBytes("\r\n\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n");
            ParseStatus status = HttpParser.TryParse(input, 8192, out _, out _, out _);
            Assert.That(status, Is.EqualTo(ParseStatus.Rejected));
        }
    }
}
