using Fiberws.Handshake;
using NUnit.Framework;
using static Fiberws.Tests.Handshake.HandshakeTestRequests;

namespace Fiberws.Tests.Handshake
{
    /// <summary>Subprotocol negotiation: the server's order of preference decides; no match gives "".</summary>
    [TestFixture]
    public class SubprotocolTests
    {
        private static string Chosen(string[] offered, params string[] supported)
        {
            var extra = new string[offered.Length];
            for (int i = 0; i < offered.Length; i++)
            {
                extra[i] = "Sec-WebSocket-Protocol: " + offered[i];
            }
            HandshakeResult r = WebSocketHandshake.Validate(Upgrade(extra: extra), supported, System.Array.Empty<string>());
            Assert.That(r.Status, Is.Zero, "an unmatched subprotocol does not refuse the upgrade");
            return r.Subprotocol;
        }

        [Test]
        public void ServerPreference_Wins()
        {
            Assert.That(Chosen(new[] { "v1.chat, v2.chat" }, "v2.chat", "v1.chat"), Is.EqualTo("v2.chat"));
            Assert.That(Chosen(new[] { "v2.chat, v1.chat" }, "v1.chat", "v2.chat"), Is.EqualTo("v1.chat"));
        }

        [Test]
        public void OffersAcrossSeveralHeaders_AreConsidered()
        {
            Assert.That(Chosen(new[] { "a", "b" }, "b"), Is.EqualTo("b"));
        }

        [Test]
        public void OfferedWithExtraSpaces_IsMatched()
        {
            Assert.That(Chosen(new[] { "  a ,\tb  " }, "b"), Is.EqualTo("b"));
        }

        [Test]
        public void NoMatch_GivesEmpty()
        {
            Assert.That(Chosen(new[] { "mqtt" }, "chat"), Is.Empty);
        }

        [Test]
        public void NothingOffered_GivesEmpty()
        {
            Assert.That(Chosen(new string[0], "chat"), Is.Empty);
        }

        [Test]
        public void NothingSupported_GivesEmpty()
        {
            Assert.That(Chosen(new[] { "chat" }), Is.Empty);
        }

        [Test]
        public void Matching_IsCaseSensitive()
        {
            // Subprotocol names are tokens compared exactly (RFC 6455 §4.1: case-sensitive).
            Assert.That(Chosen(new[] { "Chat" }, "chat"), Is.Empty);
        }
    }
}
