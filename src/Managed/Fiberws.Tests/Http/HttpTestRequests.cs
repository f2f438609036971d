using System.Text;
using Fiberws.Http;
using NUnit.Framework;

namespace Fiberws.Tests.Http
{
    internal static class HttpTestRequests
    {
        public static byte[] Bytes(string text) => Encoding.Latin1.GetBytes(text);

        public static HttpRequest ParseComplete(string text, int maxHead = 8192)
        {
            byte[] input = Bytes(text);
            ParseStatus status = HttpParser.TryParse(input, maxHead, out HttpRequest? request, out int consumed, out RejectReason reason);
            Assert.That(status, Is.EqualTo(ParseStatus.Complete), $"rejected with {reason}");
            Assert.That(consumed, Is.EqualTo(input.Length));
            return request!;
        }

        /// <summary>Parses and expects a rejection; returns the reason and the HTTP status it maps to.</summary>
        public static (RejectReason Reason, int Status) ParseRejected(string text, int maxHead = 8192)
        {
            ParseStatus status = HttpParser.TryParse(Bytes(text), maxHead, out HttpRequest? request, out _, out RejectReason reason);
            Assert.That(status, Is.EqualTo(ParseStatus.Rejected), "expected a rejection");
            Assert.That(request, Is.Null);
            return (reason, HttpParser.StatusFor(reason));
        }
    }
}
