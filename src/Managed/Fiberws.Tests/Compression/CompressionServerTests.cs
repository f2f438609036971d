using System;
using System.Collections.Generic;
using System.Text;
using System.Threading.Tasks;
using Fiberws.Server;
using Fiberws.Tests.Common;
using Fiberws.WebSockets;
using NUnit.Framework;
using static Fiberws.Tests.Common.ClientFrames;

namespace Fiberws.Tests.Compression
{
    /// <summary>permessage-deflate end to end on an in-process server, with a raw client deflating by DeflateStream.</summary>
    [TestFixture]
    public class CompressionServerTests
    {
        private static WebSocketConfig Compressing(int threshold = 0) => new() { EnableCompression = true, CompressionThreshold = threshold };

        /// <summary>Upgrades with the given Sec-WebSocket-Extensions offer; returns the client and the response's header.</summary>
        private static (RawWebSocketClient Client, string? Extensions) Upgrade(TestServer server, string? offer, string target = "/ws")
        {
            RawWebSocketClient c = server.Connect();
            c.Send(RawWebSocketClient.UpgradeRequest(target, offer == null ? "" : $"Sec-WebSocket-Extensions: {offer}\r\n"));
            RawHttpResponse r = c.ReadHttpResponse(expectBody: false);
            Assert.That(r.Status, Is.EqualTo(101), r.Head);
            return (c, r.Header("Sec-WebSocket-Extensions"));
        }

        [Test]
        public void Offer_IsAccepted_AndACompressedTextIsEchoedCompressed()
        {
            using TestServer server = TestServer.WebSocket("/ws", TestServer.Echo, Compressing());
            (RawWebSocketClient client, string? ext) = Upgrade(server, "permessage-deflate; client_max_window_bits");
            using (client)
            {
                Assert.That(ext, Is.EqualTo("permessage-deflate"));
                string text = "Hello, compressed world! " + new string('z', 200);
                client.Send(Frame(Text, Deflate.Compress(Utf8(text)), rsv: Rsv1));
                (int op, bool compressed, byte[] payload) = client.ReadRsvMessage();
                Assert.That(op, Is.EqualTo(Text));
                Assert.That(compressed, Is.True, "the reply has RSV1");
                Assert.That(Encoding.UTF8.GetString(Deflate.Inflate(payload, Utf8(text).Length)), Is.EqualTo(text));
            }
        }

        [Test]
        public void ContextTakeover_BothWays_OverManyMessages()
        {
            using TestServer server = TestServer.WebSocket("/ws", TestServer.Echo, Compressing());
            (RawWebSocketClient client, string? ext) = Upgrade(server, "permessage-deflate");
            using (client)
            using (var deflater = new Deflate.Stream())
            {
                Assert.That(ext, Is.EqualTo("permessage-deflate"));
                var sent = new List<byte[]>();
                var replies = new List<byte[]>();
                var rnd = new Random(5);
                foreach (int size in new[] { 0, 1, 100, 64 * 1024, 1 << 20, 300, 300 })
                {
                    byte[] data = size == 300 ? Deflate.Repetitive(300) : new byte[size];
                    if (size != 300)
                    {
                        rnd.NextBytes(data);
                    }
                    bool binary = size != 300;
                    client.Send(Frame(binary ? Binary : Text, deflater.Compress(data), rsv: Rsv1));
                    (int op, bool compressed, byte[] payload) = client.ReadRsvMessage();
                    Assert.That(op, Is.EqualTo(binary ? Binary : Text), $"size {size}");
                    Assert.That(compressed, Is.True, $"size {size}: RSV1 on the reply (threshold 0)");
                    sent.Add(data);
                    replies.Add(payload);
                }
                Assert.That(replies[^1].Length, Is.LessThan(replies[^2].Length), "the server keeps its context (the repeat is smaller)");
                byte[][] back = Deflate.InflateSequence(replies.ToArray(), sent.ConvertAll(s => s.Length).ToArray());
                for (int i = 0; i < back.Length; i++)
                {
                    Assert.That(back[i], Is.EqualTo(sent[i]), $"message {i}");
                }
            }
        }

        [Test]
        public void EmptyReplyBetweenOthers_KeepsTheClientsInflaterInStep()
        {
            // An empty message after a non-empty one must still be sent as at least 0x00 (see
            // DeflaterRoundTripTests.EmptyMessageAfterAnother_HasAPayload); else the client's next message fails.
            using TestServer server = TestServer.WebSocket("/ws", TestServer.Echo, Compressing());
            (RawWebSocketClient client, _) = Upgrade(server, "permessage-deflate");
            using (client)
            {
                var replies = new List<byte[]>();
                var sent = new List<byte[]>();
                foreach (string text in new[] { "Hello", "", "Hello" })
                {
                    client.Send(Frame(Text, Deflate.Compress(Utf8(text)), rsv: Rsv1));
                    (int _, bool compressed, byte[] payload) = client.ReadRsvMessage();
                    Assert.That(compressed, Is.True);
                    replies.Add(payload);
                    sent.Add(Utf8(text));
                }
                Assert.That(replies[1], Is.Not.Empty, "the empty reply has a compressed payload (0x00)");
                byte[][] back = Deflate.InflateSequence(replies.ToArray(), sent.ConvertAll(s => s.Length).ToArray());
                Assert.That(Encoding.UTF8.GetString(back[2]), Is.EqualTo("Hello"));
            }
        }

        [Test]
        public void FragmentedCompressedMessage_IsReassembledThenInflated()
        {
            using TestServer server = TestServer.WebSocket("/ws", TestServer.Echo, Compressing());
            (RawWebSocketClient client, _) = Upgrade(server, "permessage-deflate");
            using (client)
            {
                byte[] data = Deflate.Repetitive(50_000);
                byte[] packed = Deflate.Compress(data);
                int third = packed.Length / 3;
                client.Send(Concat(
                    Frame(Binary, packed.AsSpan(0, third), fin: false, rsv: Rsv1),
                    PingFrame(Utf8("mid")),
                    Frame(Continuation, packed.AsSpan(third, third), fin: false),
                    Frame(Continuation, packed.AsSpan(2 * third), fin: true)));
                RsvFrame pong = client.ReadRsvFrame();
                Assert.That((pong.Opcode, pong.Rsv, Encoding.UTF8.GetString(pong.Payload)), Is.EqualTo((Pong, 0, "mid")), "pong uncompressed");
                (int op, bool compressed, byte[] payload) = client.ReadRsvMessage();
                Assert.That((op, compressed), Is.EqualTo((Binary, true)));
                Assert.That(Deflate.Inflate(payload, data.Length), Is.EqualTo(data));
            }
        }

        [Test]
        public void CompressionDisabled_DeclinesTheOffer_AndRsv1Is1002()
        {
            using TestServer server = TestServer.WebSocket("/ws", TestServer.Echo, new WebSocketConfig { EnableCompression = false });
            (RawWebSocketClient client, string? ext) = Upgrade(server, "permessage-deflate; client_max_window_bits");
            using (client)
            {
                Assert.That(ext, Is.Null, "no Sec-WebSocket-Extensions when the extension is off");
                client.SendText("plain");
                Assert.That(client.ReadText(), Is.EqualTo("plain"));
                client.Send(Frame(Text, Hex("f2 48 cd c9 c9 07 00"), rsv: Rsv1));
                Assert.That(client.ReadRsvFrame().CloseCode, Is.EqualTo(1002));
            }
        }

        [Test]
        public void NoOffer_NoExtension_EvenWhenEnabled()
        {
            using TestServer server = TestServer.WebSocket("/ws", TestServer.Echo, Compressing());
            (RawWebSocketClient client, string? ext) = Upgrade(server, null);
            using (client)
            {
                Assert.That(ext, Is.Null);
                client.SendText(new string('a', 500));
                (int op, bool compressed, byte[] payload) = client.ReadRsvMessage();
                Assert.That((op, compressed, payload.Length), Is.EqualTo((Text, false, 500)), "never compress without negotiation");
            }
        }

        [Test]
        public void UnacceptableOffer_IsDeclined_NotAFailedHandshake()
        {
            using TestServer server = TestServer.WebSocket("/ws", TestServer.Echo, Compressing());
            (RawWebSocketClient client, string? ext) = Upgrade(server, "permessage-deflate; server_max_window_bits=8, x-webkit-deflate-frame");
            using (client)
            {
                Assert.That(ext, Is.Null);
            }
        }

        [Test]
        public void EnableWriteCompressionFalse_RepliesUncompressed_IncomingStillInflated()
        {
            using TestServer server = TestServer.WebSocket("/ws", conn =>
            {
                conn.EnableWriteCompression(false);
                TestServer.Echo(conn);
            }, Compressing());
            (RawWebSocketClient client, string? ext) = Upgrade(server, "permessage-deflate");
            using (client)
            {
                Assert.That(ext, Is.EqualTo("permessage-deflate"));
                string text = new string('q', 1000);
                client.Send(Frame(Text, Deflate.Compress(Utf8(text)), rsv: Rsv1));
                (int op, bool compressed, byte[] payload) = client.ReadRsvMessage();
                Assert.That((op, compressed), Is.EqualTo((Text, false)));
                Assert.That(Encoding.UTF8.GetString(payload), Is.EqualTo(text));
            }
        }

        [Test]
        public void Threshold_SmallRepliesStayUncompressed()
        {
            using TestServer server = TestServer.WebSocket("/ws", TestServer.Echo, Compressing(threshold: 1000));
            (RawWebSocketClient client, _) = Upgrade(server, "permessage-deflate");
            using (client)
            {
                client.SendText("short text");
                (int _, bool small, byte[] p1) = client.ReadRsvMessage();
                Assert.That((small, Encoding.UTF8.GetString(p1)), Is.EqualTo((false, "short text")));
                byte[] big = Deflate.Repetitive(2000);
                client.SendBinary(big);
                (int _, bool large, byte[] p2) = client.ReadRsvMessage();
                Assert.That(large, Is.True);
                Assert.That(Deflate.Inflate(p2, big.Length), Is.EqualTo(big));
            }
        }

        [Test]
        public void ServerNoContextTakeoverAndWindowBits_AreNegotiated_AndEachReplyDecodesAlone()
        {
            var config = new WebSocketConfig { EnableCompression = true, CompressionThreshold = 0, ServerNoContextTakeover = true, ServerMaxWindowBits = 10 };
            using TestServer server = TestServer.WebSocket("/ws", TestServer.Echo, config);
            (RawWebSocketClient client, string? ext) = Upgrade(server, "permessage-deflate; client_no_context_takeover");
            using (client)
            {
                Assert.That(ext, Is.EqualTo("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10"));
                byte[] data = Deflate.Repetitive(5000);
                for (int i = 0; i < 3; i++)
                {
                    client.Send(Frame(Binary, Deflate.Compress(data), rsv: Rsv1)); // each message compressed alone
                    (int _, bool compressed, byte[] payload) = client.ReadRsvMessage();
                    Assert.That(compressed, Is.True);
                    Assert.That(Deflate.Inflate(payload, data.Length), Is.EqualTo(data), $"reply {i} with a fresh inflater");
                }
            }
        }

        [Test]
        public void ExtensionsProperty_IsTheNegotiatedHeader()
        {
            var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = TestServer.WebSocket("/ws", conn =>
            {
                seen.TrySetResult(conn.Extensions);
                conn.ReadUntilFailure();
            }, Compressing());
            (RawWebSocketClient client, string? ext) = Upgrade(server, "permessage-deflate; client_no_context_takeover");
            using (client)
            {
                Assert.That(TestServer.Await(seen, "Extensions"), Is.EqualTo(ext));
                Assert.That(ext, Is.EqualTo("permessage-deflate; client_no_context_takeover"));
            }
        }

        [Test]
        public void CompressedPing_Is1002_ZipBomb_Is1009()
        {
            using TestServer server = TestServer.WebSocket("/ws", TestServer.Echo, Compressing());
            (RawWebSocketClient client, _) = Upgrade(server, "permessage-deflate");
            using (client)
            {
                client.Send(Frame(Ping, Hex("f2 48 cd c9 c9 07 00"), rsv: Rsv1));
                Assert.That(client.ReadRsvFrame().CloseCode, Is.EqualTo(1002));
            }
            var limited = new WebSocketConfig { EnableCompression = true, CompressionThreshold = 0, ReadLimit = 1 << 20 };
            using TestServer server2 = TestServer.WebSocket("/ws", TestServer.Echo, limited);
            (RawWebSocketClient client2, _) = Upgrade(server2, "permessage-deflate");
            using (client2)
            {
                var zeros = new byte[8 << 20];
                client2.Send(Frame(Binary, Deflate.Compress(zeros), rsv: Rsv1));
                var sw = System.Diagnostics.Stopwatch.StartNew();
                Assert.That(client2.ReadRsvFrame().CloseCode, Is.EqualTo(1009));
                Assert.That(sw.Elapsed, Is.LessThan(TimeSpan.FromSeconds(2)));
            }
        }

        [Test]
        public void EventApi_EchoesCompressed()
        {
            var events = new WebSocketEvents { OnMessage = (conn, type, data) => conn.WriteMessage(type, data) };
            using TestServer server = TestServer.Start(app => app.WebSocketEvents("/ev", events, Compressing()));
            (RawWebSocketClient client, string? ext) = Upgrade(server, "permessage-deflate; client_max_window_bits", "/ev");
            using (client)
            using (var deflater = new Deflate.Stream())
            {
                Assert.That(ext, Is.EqualTo("permessage-deflate"));
                var sent = new List<byte[]>();
                var replies = new List<byte[]>();
                foreach (int size in new[] { 0, 10, 70_000, 1 << 20, 10 })
                {
                    byte[] data = Deflate.Repetitive(size);
                    client.Send(Frame(Text, deflater.Compress(data), rsv: Rsv1));
                    (int op, bool compressed, byte[] payload) = client.ReadRsvMessage();
                    Assert.That((op, compressed), Is.EqualTo((Text, true)), $"size {size}");
                    sent.Add(data);
                    replies.Add(payload);
                }
                byte[][] back = Deflate.InflateSequence(replies.ToArray(), sent.ConvertAll(s => s.Length).ToArray());
                for (int i = 0; i < back.Length; i++)
                {
                    Assert.That(back[i], Is.EqualTo(sent[i]), $"message {i}");
                }
            }
        }
    }
}
