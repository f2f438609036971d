using System;
using Fiberws.Handshake;
using Fiberws.Http;
using NUnit.Framework;
using static Fiberws.Tests.Handshake.HandshakeTestRequests;

namespace Fiberws.Tests.Handshake
{
    /// <summary>The server's checks of an opening handshake (RFC 6455 §4.2.1) and the status of each refusal.</summary>
    [TestFixture]
    public class HandshakeValidationTests
    {
        private static HandshakeResult Validate(HttpRequest r) => WebSocketHandshake.Validate(r, Array.Empty<string>(), Array.Empty<string>());

        [Test]
        public void ValidRequest_IsAccepted_WithTheRfcAccept()
        {
            HandshakeResult r = Validate(Upgrade());
            Assert.That(r.Status, Is.Zero, r.Error);
            Assert.That(r.Accept, Is.EqualTo("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
            Assert.That(r.Subprotocol, Is.Empty);
        }

        [Test]
        public void TokensAreCaseInsensitive_AndConnectionMayListSeveral()
        {
            HttpRequest req = Upgrade(new[] { "Upgrade", "Connection" }, new[] { "Upgrade: WebSocket", "Connection: keep-alive, UPGRADE" });
            Assert.That(Validate(req).Status, Is.Zero);
            Assert.That(WebSocketHandshake.IsUpgradeRequest(req), Is.True);
        }

        [Test]
        public void PlainRequest_WithoutUpgrade_Is426()
        {
            HandshakeResult r = Validate(Upgrade(new[] { "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version" }));
            Assert.That(r.Status, Is.EqualTo(426));
            Assert.That(WebSocketHandshake.IsUpgradeRequest(Upgrade(new[] { "Upgrade", "Connection" })), Is.False);
        }

        [Test]
        public void MissingUpgradeHeader_WithConnectionUpgrade_IsRefused()
        {
            HandshakeResult r = Validate(Upgrade(new[] { "Upgrade" }));
            Assert.That(r.Status, Is.AnyOf(400, 426));
            Assert.That(r.Accept, Is.Empty);
        }

        [Test]
        public void WrongUpgradeToken_Is400()
        {
            Assert.That(Validate(Upgrade(new[] { "Upgrade" }, new[] { "Upgrade: h2c" })).Status, Is.EqualTo(400));
            Assert.That(Validate(Upgrade(new[] { "Upgrade" }, new[] { "Upgrade: websockets" })).Status, Is.EqualTo(400));
        }

        [Test]
        public void MissingConnectionUpgrade_Is400()
        {
            Assert.That(Validate(Upgrade(new[] { "Connection" })).Status, Is.EqualTo(400));
            Assert.That(Validate(Upgrade(new[] { "Connection" }, new[] { "Connection: keep-alive" })).Status, Is.EqualTo(400));
        }

        [Test]
        public void Http10_Is400()
        {
            Assert.That(Validate(Upgrade(version: "HTTP/1.0")).Status, Is.EqualTo(400));
        }

        [TestCase("12")]
        [TestCase("8")]
        [TestCase("14")]
        [TestCase("13, 8")]
        public void UnsupportedVersion_Is426_WithVersionHeader(string version)
        {
            HandshakeResult r = Validate(Upgrade(new[] { "Sec-WebSocket-Version" }, new[] { "Sec-WebSocket-Version: " + version }));
            Assert.That(r.Status, Is.EqualTo(426));
            Assert.That(r.ExtraHeaders, Does.Contain("Sec-WebSocket-Version: 13\r\n"));
        }

        [Test]
        public void MissingVersion_Is426()
        {
            Assert.That(Validate(Upgrade(new[] { "Sec-WebSocket-Version" })).Status, Is.EqualTo(426));
        }

        [TestCase("")]
        [TestCase("abc")]
        [TestCase("dGhlIHNhbXBsZSBub25jZQ")]          // 16 bytes, unpadded
        [TestCase("dGhlIHNhbXBsZSBub25jZXg=")]        // 17 bytes
        [TestCase("dGhlIHNhbXBsZSBub25jZXh4")]        // 18 bytes
        [TestCase("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")] // 24 bytes
        [TestCase("!!!!!!!!!!!!!!!!!!!!!!==")]        // 24 chars, not base64
        [TestCase("dGhlIHNhbXBsZSBub25jZQ=*")]
        public void BadKey_Is400(string key)
        {
            HandshakeResult r = Validate(Upgrade(new[] { "Sec-WebSocket-Key" }, new[] { "Sec-WebSocket-Key: " + key }));
            Assert.That(r.Status, Is.EqualTo(400));
        }

        [Test]
        public void MissingKey_Is400()
        {
            Assert.That(Validate(Upgrade(new[] { "Sec-WebSocket-Key" })).Status, Is.EqualTo(400));
        }

        [Test]
        public void TwoKeys_Is400()
        {
            Assert.That(Validate(Upgrade(extra: new[] { "Sec-WebSocket-Key: " + Key })).Status, Is.EqualTo(400));
            Assert.That(Validate(Upgrade(extra: new[] { "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==" })).Status, Is.EqualTo(400));
        }

        [Test]
        public void OtherRandomKey_IsAccepted()
        {
            HandshakeResult r = Validate(Upgrade(new[] { "Sec-WebSocket-Key" }, new[] { "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==" }));
            Assert.That(r.Status, Is.Zero);
            Assert.That(r.Accept, Is.EqualTo("HSmrc0sMlYUkAGmm5OPpG2HaGWk=")); // the example of RFC 6455 §1.2 / §4.2.2
        }

        [Test]
        public void Response_Is101_WithAcceptAndChosenSubprotocol()
        {
            var result = new HandshakeResult { Accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", Subprotocol = "chat" };
            string text = System.Text.Encoding.ASCII.GetString(WebSocketHandshake.BuildResponse(result));
            Assert.That(text, Does.StartWith("HTTP/1.1 101 Switching Protocols\r\n"));
            Assert.That(text, Does.Contain("\r\nUpgrade: websocket\r\n"));
            Assert.That(text, Does.Contain("\r\nConnection: Upgrade\r\n"));
            Assert.That(text, Does.Contain("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
            Assert.That(text, Does.Contain("\r\nSec-WebSocket-Protocol: chat\r\n"));
            Assert.That(text, Does.EndWith("\r\n\r\n"));
            Assert.That(text, Does.Not.Contain("Sec-WebSocket-Extensions"));
        }
    }
}
