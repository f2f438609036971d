using Fiberws.Handshake;
using NUnit.Framework;
using static Fiberws.Tests.Handshake.HandshakeTestRequests;

namespace Fiberws.Tests.Handshake
{
    /// <summary>The Origin check: empty list or "*" allow all; otherwise a listed origin (ignoring case) must be sent.</summary>
    [TestFixture]
    public class OriginTests
    {
        private static int Status(string? origin, params string[] allowed)
        {
            var req = Upgrade(extra: origin == null ? null : new[] { "Origin: " + origin });
            return WebSocketHandshake.Validate(req, System.Array.Empty<string>(), allowed).Status;
        }

        [Test]
        public void EmptyList_AllowsAnyOriginOrNone()
        {
            Assert.That(Status("https://evil.example"), Is.Zero);
            Assert.That(Status(null), Is.Zero);
        }

        [Test]
        public void Star_AllowsAnyOriginOrNone()
        {
            Assert.That(Status("https://any.example", "*"), Is.Zero);
            Assert.That(Status(null, "*"), Is.Zero);
            Assert.That(Status("https://any.example", "https://a.example", "*"), Is.Zero);
        }

        [Test]
        public void ListedOrigin_IsAllowed_IgnoringCase()
        {
            Assert.That(Status("https://app.example", "https://app.example"), Is.Zero);
            Assert.That(Status("HTTPS://APP.Example", "https://app.example"), Is.Zero);
            Assert.That(Status("https://b.example", "https://a.example", "https://b.example"), Is.Zero);
        }

        [Test]
        public void ForeignOrigin_Is403()
        {
            Assert.That(Status("https://evil.example", "https://app.example"), Is.EqualTo(403));
            Assert.That(Status("https://app.example.evil", "https://app.example"), Is.EqualTo(403));
            Assert.That(Status("http://app.example", "https://app.example"), Is.EqualTo(403));
        }

        [Test]
        public void MissingOrigin_WithAList_Is403()
        {
            Assert.That(Status(null, "https://app.example"), Is.EqualTo(403));
        }
    }
}
