using Fiberws.Handshake;
using NUnit.Framework;

namespace Fiberws.Tests.Compression
{
    /// <summary>permessage-deflate negotiation (RFC 7692 §5, §7.1): every offer parsed, the first acceptable one wins.</summary>
    [TestFixture]
    public class DeflateNegotiationTests
    {
        private static readonly DeflateSettings Default = new();

        private static DeflateParameters? Negotiate(string header, DeflateSettings? settings = null) =>
            PerMessageDeflateOffer.Negotiate(new[] { header }, settings ?? Default);

        private static string? Response(string header, DeflateSettings? settings = null) => Negotiate(header, settings)?.ResponseHeader;

        [Test]
        public void PlainOffer_IsAcceptedWithDefaults()
        {
            DeflateParameters? p = Negotiate("permessage-deflate");
            Assert.That(p, Is.Not.Null);
            Assert.That(p!.ResponseHeader, Is.EqualTo("permessage-deflate"));
            Assert.That((p.ServerNoContextTakeover, p.ClientNoContextTakeover, p.ServerMaxWindowBits, p.ClientMaxWindowBits),
                Is.EqualTo((false, false, 15, 15)));
        }

        [Test]
        public void NameIsCaseInsensitive() => Assert.That(Negotiate("PerMessage-Deflate"), Is.Not.Null);

        [Test]
        public void NoOffer_IsNull()
        {
            Assert.That(PerMessageDeflateOffer.Negotiate(System.Array.Empty<string>(), Default), Is.Null);
            Assert.That(Negotiate(""), Is.Null);
            Assert.That(Negotiate("  ,  "), Is.Null);
        }

        [TestCase("x-webkit-deflate-frame")]
        [TestCase("x-webkit-deflate-frame; no_context_takeover")]
        [TestCase("deflate-frame")]
        [TestCase("permessage-bzip2")]
        public void OtherExtensionsOnly_AreNeverAccepted(string header) => Assert.That(Negotiate(header), Is.Null);

        [Test]
        public void OtherExtensionsBeforeOrAfter_AreIgnored()
        {
            Assert.That(Response("x-webkit-deflate-frame, permessage-deflate; client_max_window_bits"), Is.EqualTo("permessage-deflate"));
            Assert.That(Response("permessage-deflate, x-webkit-deflate-frame"), Is.EqualTo("permessage-deflate"));
        }

        [Test]
        public void SeveralHeaderLines_AreAllConsidered()
        {
            DeflateParameters? p = PerMessageDeflateOffer.Negotiate(new[] { "x-foo", "permessage-deflate; server_no_context_takeover" }, Default);
            Assert.That(p?.ResponseHeader, Is.EqualTo("permessage-deflate; server_no_context_takeover"));
        }

        [Test]
        public void SeveralOffers_FirstAcceptableWins()
        {
            Assert.That(Response("permessage-deflate; server_max_window_bits=10, permessage-deflate"),
                Is.EqualTo("permessage-deflate; server_max_window_bits=10"));
            Assert.That(Response("permessage-deflate; client_no_context_takeover, permessage-deflate; server_no_context_takeover"),
                Is.EqualTo("permessage-deflate; client_no_context_takeover"));
        }

        [Test]
        public void UnacceptableFirstOffer_FallsBackToTheNext()
        {
            Assert.That(Response("permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9"),
                Is.EqualTo("permessage-deflate; server_max_window_bits=9"));
            Assert.That(Response("permessage-deflate; foo=1, permessage-deflate"), Is.EqualTo("permessage-deflate"));
        }

        [TestCase("permessage-deflate; server_max_window_bits=\"10\"", "permessage-deflate; server_max_window_bits=10")]
        [TestCase("permessage-deflate; client_max_window_bits=\"12\"", "permessage-deflate; client_max_window_bits=12")]
        [TestCase("permessage-deflate;server_max_window_bits = 11", "permessage-deflate; server_max_window_bits=11")]
        [TestCase("permessage-deflate ;\tserver_no_context_takeover\t", "permessage-deflate; server_no_context_takeover")]
        public void QuotedValuesAndWhitespace_AreUnderstood(string header, string response) =>
            Assert.That(Response(header), Is.EqualTo(response));

        [TestCase("permessage-deflate; server_max_window_bits=\"10")]            // unterminated quote
        [TestCase("permessage-deflate; server_max_window_bits=")]                // empty value
        [TestCase("permessage-deflate; =10")]                                    // no name
        [TestCase("permessage-deflate; server_max_window_bits=\"1 0\"")]         // quoted non-token
        [TestCase("permessage-deflate; server_no_context_takeover x")]           // junk after a parameter
        [TestCase("permessage-deflate=1")]                                       // value on the extension name
        [TestCase("permessage-deflate; client_max_window_bits=1@")]
        public void MalformedOffer_IsDeclined(string header) => Assert.That(Negotiate(header), Is.Null, header);

        [TestCase("permessage-deflate; server_max_window_bits=\"10, permessage-deflate")]
        [TestCase("permessage-deflate; server_no_context_takeover x, permessage-deflate")]
        [TestCase("permessage-deflate=1, permessage-deflate")]
        [TestCase("permessage-deflate; @, permessage-deflate")]
        public void MalformedOffer_IsSkipped_NotFatal(string header)
        {
            // The malformed offer is declined; a well-formed later one may still be accepted, and nothing throws.
            Assert.DoesNotThrow(() => Negotiate(header));
        }

        [Test]
        public void MalformedOfferFollowedByAGoodOne_AcceptsTheGoodOne()
        {
            Assert.That(Response("permessage-deflate; server_no_context_takeover x, permessage-deflate; client_no_context_takeover"),
                Is.EqualTo("permessage-deflate; client_no_context_takeover"));
            Assert.That(Response("permessage-deflate=1, permessage-deflate"), Is.EqualTo("permessage-deflate"));
        }

        [TestCase("permessage-deflate; foo")]
        [TestCase("permessage-deflate; foo=bar")]
        [TestCase("permessage-deflate; no_context_takeover")]
        [TestCase("permessage-deflate; server_no_context_takeover; mystery=1")]
        public void UnknownParameter_DeclinesThatOffer(string header) => Assert.That(Negotiate(header), Is.Null);

        [TestCase("permessage-deflate; server_no_context_takeover; server_no_context_takeover")]
        [TestCase("permessage-deflate; client_no_context_takeover; client_no_context_takeover")]
        [TestCase("permessage-deflate; server_max_window_bits=10; server_max_window_bits=10")]
        [TestCase("permessage-deflate; client_max_window_bits; client_max_window_bits=10")]
        [TestCase("permessage-deflate; Server_No_Context_Takeover; server_no_context_takeover")]
        public void DuplicateParameter_DeclinesThatOffer(string header) => Assert.That(Negotiate(header), Is.Null);

        [TestCase("permessage-deflate; server_no_context_takeover=1")]
        [TestCase("permessage-deflate; client_no_context_takeover=\"x\"")]
        [TestCase("permessage-deflate; server_max_window_bits")] // server_max_window_bits needs a value (§7.1.2.1)
        public void WrongValuePresence_DeclinesThatOffer(string header) => Assert.That(Negotiate(header), Is.Null);

        [Test]
        public void ServerMaxWindowBits8_IsDeclined()
        {
            // zlib cannot produce a raw deflate stream with an 8-bit window.
            Assert.That(Negotiate("permessage-deflate; server_max_window_bits=8"), Is.Null);
            Assert.That(Negotiate("permessage-deflate; server_max_window_bits=\"8\""), Is.Null);
        }

        [TestCase("server_max_window_bits", "7")]
        [TestCase("server_max_window_bits", "16")]
        [TestCase("server_max_window_bits", "0")]
        [TestCase("server_max_window_bits", "010")]
        [TestCase("server_max_window_bits", "09")]
        [TestCase("server_max_window_bits", "-9")]
        [TestCase("server_max_window_bits", "+9")]
        [TestCase("server_max_window_bits", "9.0")]
        [TestCase("server_max_window_bits", "abc")]
        [TestCase("server_max_window_bits", "100")]
        [TestCase("client_max_window_bits", "7")]
        [TestCase("client_max_window_bits", "16")]
        [TestCase("client_max_window_bits", "08")]
        [TestCase("client_max_window_bits", "015")]
        [TestCase("client_max_window_bits", "\"07\"")]
        public void WindowBitsOutOfRangeOrWithLeadingZero_AreDeclined(string name, string value) =>
            Assert.That(Negotiate($"permessage-deflate; {name}={value}"), Is.Null, $"{name}={value}");

        [TestCase(9)]
        [TestCase(10)]
        [TestCase(15)]
        public void ServerMaxWindowBits_IsEchoed(int bits)
        {
            DeflateParameters? p = Negotiate($"permessage-deflate; server_max_window_bits={bits}");
            Assert.That(p?.ResponseHeader, Is.EqualTo($"permessage-deflate; server_max_window_bits={bits}"));
            Assert.That(p!.ServerMaxWindowBits, Is.EqualTo(bits));
        }

        [TestCase(8)]
        [TestCase(12)]
        [TestCase(15)]
        public void ClientMaxWindowBitsWithAValue_IsEchoed(int bits)
        {
            DeflateParameters? p = Negotiate($"permessage-deflate; client_max_window_bits={bits}");
            Assert.That(p?.ResponseHeader, Is.EqualTo($"permessage-deflate; client_max_window_bits={bits}"));
            Assert.That(p!.ClientMaxWindowBits, Is.EqualTo(bits));
        }

        [Test]
        public void ClientMaxWindowBitsWithoutAValue_IsAccepted_AndNoValueIsInvented()
        {
            DeflateParameters? p = Negotiate("permessage-deflate; client_max_window_bits");
            Assert.That(p, Is.Not.Null);
            Assert.That(p!.ResponseHeader, Does.Not.Contain("client_max_window_bits="));
            Assert.That(p.ResponseHeader, Is.EqualTo("permessage-deflate"));
            Assert.That(p.ClientMaxWindowBits, Is.EqualTo(15));
        }

        [Test]
        public void ClientMaxWindowBitsNotOffered_IsNeverInTheResponse()
        {
            // §7.1.2.2: the server must not include client_max_window_bits when the client did not offer it.
            foreach (string offer in new[] { "permessage-deflate", "permessage-deflate; server_max_window_bits=10", "permessage-deflate; client_no_context_takeover" })
            {
                Assert.That(Response(offer, new DeflateSettings { ServerMaxWindowBits = 9, ServerNoContextTakeover = true }),
                    Does.Not.Contain("client_max_window_bits"), offer);
            }
        }

        [Test]
        public void ServerNoContextTakeover_IsEchoed()
        {
            DeflateParameters? p = Negotiate("permessage-deflate; server_no_context_takeover");
            Assert.That(p?.ResponseHeader, Is.EqualTo("permessage-deflate; server_no_context_takeover"));
            Assert.That(p!.ServerNoContextTakeover, Is.True);
        }

        [Test]
        public void ClientNoContextTakeover_IsEchoed()
        {
            DeflateParameters? p = Negotiate("permessage-deflate; client_no_context_takeover");
            Assert.That(p?.ResponseHeader, Is.EqualTo("permessage-deflate; client_no_context_takeover"));
            Assert.That(p!.ClientNoContextTakeover, Is.True);
            Assert.That(p.ServerNoContextTakeover, Is.False);
        }

        [Test]
        public void ServerSettingNoContextTakeover_AddsIt()
        {
            DeflateParameters? p = Negotiate("permessage-deflate", new DeflateSettings { ServerNoContextTakeover = true });
            Assert.That(p?.ResponseHeader, Is.EqualTo("permessage-deflate; server_no_context_takeover"));
            Assert.That(p!.ServerNoContextTakeover, Is.True);
        }

        [Test]
        public void ServerSettingMaxWindowBits10_AddsIt()
        {
            DeflateParameters? p = Negotiate("permessage-deflate; client_max_window_bits", new DeflateSettings { ServerMaxWindowBits = 10 });
            Assert.That(p?.ResponseHeader, Is.EqualTo("permessage-deflate; server_max_window_bits=10"));
            Assert.That(p!.ServerMaxWindowBits, Is.EqualTo(10));
        }

        [Test]
        public void ServerSettingAndOffer_TheSmallerWindowWins()
        {
            Assert.That(Response("permessage-deflate; server_max_window_bits=12", new DeflateSettings { ServerMaxWindowBits = 10 }),
                Is.EqualTo("permessage-deflate; server_max_window_bits=10"));
            Assert.That(Response("permessage-deflate; server_max_window_bits=9", new DeflateSettings { ServerMaxWindowBits = 10 }),
                Is.EqualTo("permessage-deflate; server_max_window_bits=9"));
        }

        [Test]
        public void EverythingTogether()
        {
            DeflateParameters? p = Negotiate(
                "permessage-deflate; client_no_context_takeover; server_no_context_takeover; server_max_window_bits=\"11\"; client_max_window_bits=13");
            Assert.That(p, Is.Not.Null);
            Assert.That(p!.ResponseHeader, Is.EqualTo(
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=13"));
            Assert.That((p.ServerNoContextTakeover, p.ClientNoContextTakeover, p.ServerMaxWindowBits, p.ClientMaxWindowBits),
                Is.EqualTo((true, true, 11, 13)));
        }

        [Test]
        public void ParameterNamesAreCaseInsensitive() =>
            Assert.That(Negotiate("permessage-deflate; SERVER_NO_CONTEXT_TAKEOVER")?.ServerNoContextTakeover, Is.True);
    }
}
