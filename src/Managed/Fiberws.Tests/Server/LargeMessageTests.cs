using System;
using System.IO;
using System.Text;
using Fiberws.Tests.Common;
using NUnit.Framework;
using static Fiberws.Tests.Common.ClientFrames;

namespace Fiberws.Tests.Server
{
    /// <summary>Large and heavily fragmented messages make the round trip intact.</summary>
    [TestFixture]
    public class LargeMessageTests
    {
        [Test]
        public void SixteenMiBMessage_EchoesIntact()
        {
            using TestServer server = TestServer.WebSocket("/ws", TestServer.Echo);
            using RawWebSocketClient client = server.Upgrade();
            byte[] payload = Pattern(16 << 20, seed: 16);
            client.SendBinary(payload);
            var (opcode, echoed) = client.ReadMessage();
            Assert.That(opcode, Is.EqualTo(2));
            Assert.That(echoed.Length, Is.EqualTo(payload.Length));
            Assert.That(echoed.AsSpan().SequenceEqual(payload), Is.True, "payload differs");
        }

        [Test]
        public void SixteenMiBMessage_InSmallFragments_EchoesIntact()
        {
            using TestServer server = TestServer.WebSocket("/ws", TestServer.Echo);
            using RawWebSocketClient client = server.Upgrade();
            byte[] payload = Pattern(16 << 20, seed: 17);
            var frames = new MemoryStream();
            const int chunk = 1 << 20;
            for (int at = 0; at < payload.Length; at += chunk)
            {
                frames.Write(Frame(at == 0 ? Binary : Continuation, payload.AsSpan(at, chunk), fin: at + chunk == payload.Length));
            }
            client.Send(frames.ToArray());
            var (_, echoed) = client.ReadMessage();
            Assert.That(echoed.AsSpan().SequenceEqual(payload), Is.True, "payload differs");
        }

        [Test]
        public void FiveThousandFragments_EchoAsOneMessage()
        {
            using TestServer server = TestServer.WebSocket("/ws", TestServer.Echo);
            using RawWebSocketClient client = server.Upgrade();
            var frames = new MemoryStream();
            var text = new StringBuilder();
            for (int i = 0; i < 5000; i++)
            {
                string part = i % 3 == 0 ? $"[{i}κ]" : $"[{i}]";
                text.Append(part);
                frames.Write(Frame(i == 0 ? Text : Continuation, Utf8(part), fin: i == 4999));
            }
            client.Send(frames.ToArray());
            Assert.That(client.ReadText(), Is.EqualTo(text.ToString()));
        }

        [Test]
        public void ManyMessagesInOneSend_AllEcho()
        {
            using TestServer server = TestServer.WebSocket("/ws", TestServer.Echo);
            using RawWebSocketClient client = server.Upgrade();
            var frames = new MemoryStream();
            for (int i = 0; i < 2000; i++)
            {
                frames.Write(TextFrame("m" + i));
            }
            client.Send(frames.ToArray());
            for (int i = 0; i < 2000; i++)
            {
                Assert.That(client.ReadText(), Is.EqualTo("m" + i));
            }
        }
    }
}
