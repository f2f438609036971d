using System;
using System.Security.Cryptography;
using System.Text;
using Fiberws.Handshake;
using NUnit.Framework;

namespace Fiberws.Tests.Handshake
{
    /// <summary>Sec-WebSocket-Accept = base64(SHA-1(key + GUID)), with the library's own SHA-1.</summary>
    [TestFixture]
    public class AcceptKeyTests
    {
        [Test]
        public void Rfc6455Example_GivesTheDocumentedAccept()
        {
            // RFC 6455 §1.3.
            Assert.That(WebSocketHandshake.ComputeAccept("dGhlIHNhbXBsZSBub25jZQ=="), Is.EqualTo("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
        }

        [Test]
        public void Accept_AgreesWithFrameworkSha1_ForRandomKeys()
        {
            var rng = new Random(1);
            for (int i = 0; i < 200; i++)
            {
                var raw = new byte[16];
                rng.NextBytes(raw);
                string key = Convert.ToBase64String(raw);
                string expected = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
                Assert.That(WebSocketHandshake.ComputeAccept(key), Is.EqualTo(expected), key);
            }
        }

        [Test]
        public void Sha1_AgreesWithFramework_ForLengths0To200()
        {
            var rng = new Random(2);
            var digest = new byte[20];
            for (int length = 0; length <= 200; length++)
            {
                for (int trial = 0; trial < 3; trial++)
                {
                    var data = new byte[length];
                    rng.NextBytes(data);
                    Sha1.Hash(data, digest);
                    Assert.That(digest, Is.EqualTo(SHA1.HashData(data)), $"length {length}");
                }
            }
        }

        [TestCase(1000)]
        [TestCase(4096)]
        [TestCase(100003)]
        public void Sha1_AgreesWithFramework_ForLongInputs(int length)
        {
            var data = new byte[length];
            new Random(length).NextBytes(data);
            var digest = new byte[20];
            Sha1.Hash(data, digest);
            Assert.That(digest, Is.EqualTo(SHA1.HashData(data)));
        }

        [Test]
        public void Sha1_KnownVectors()
        {
            var digest = new byte[20];
            Sha1.Hash(ReadOnlySpan<byte>.Empty, digest);
            Assert.That(Convert.ToHexString(digest), Is.EqualTo("DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"));
            Sha1.Hash("abc"u8, digest);
            Assert.That(Convert.ToHexString(digest), Is.EqualTo("A9993E364706816ABA3E25717850C26C9CD0D89D"));
        }
    }
}
