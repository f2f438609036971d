using Fiberws.Tests.Common;
using NUnit.Framework;
using static Fiberws.Tests.Common.ClientFrames;

namespace Fiberws.Tests.Server
{
    /// <summary>Frames sent in the same packet as the handshake are the start of the frame stream.</summary>
    [TestFixture]
    public class PipelinedFramesTests
    {
        [Test]
        public void FramesBehindTheHandshake_AreProcessed()
        {
            using TestServer server = TestServer.WebSocket("/ws", TestServer.Echo);
            byte[] frames = Concat(TextFrame("first"), PingFrame(Utf8("pp")), Frame(Binary, new byte[] { 1, 2 }, fin: false), ContinuationFrame(new byte[] { 3 }, fin: true));
            using RawWebSocketClient client = RawWebSocketClient.ConnectUpgraded(server.Port, "/ws", sameSendBytes: frames);

            ServerFrame f1 = client.ReadFrame();
            Assert.That((f1.Opcode, f1.Text), Is.EqualTo((1, "first")));
            ServerFrame f2 = client.ReadFrame();
            Assert.That((f2.Opcode, f2.Text), Is.EqualTo((10, "pp")));
            ServerFrame f3 = client.ReadFrame();
            Assert.That(f3.Opcode, Is.EqualTo(2));
            Assert.That(f3.Payload, Is.EqualTo(new byte[] { 1, 2, 3 }));
        }

        [Test]
        public void ManyFramesBehindTheHandshake_MoreThanTheReadBuffer_AreAllProcessed()
        {
            using TestServer server = TestServer.WebSocket("/ws", TestServer.Echo);
            var frames = new System.IO.MemoryStream();
            for (int i = 0; i < 400; i++)
            {
                frames.Write(TextFrame($"message number {i:D4} " + new string('x', i % 50)));
            }
            Assert.That(frames.Length, Is.GreaterThan(16384));
            using RawWebSocketClient client = RawWebSocketClient.ConnectUpgraded(server.Port, "/ws", sameSendBytes: frames.ToArray());
            for (int i = 0; i < 400; i++)
            {
                Assert.That(client.ReadText(), Is.EqualTo($"message number {i:D4} " + new string('x', i % 50)));
            }
        }

        [Test]
        public void ACloseBehindTheHandshake_IsEchoed()
        {
            using TestServer server = TestServer.WebSocket("/ws", TestServer.Echo);
            using RawWebSocketClient client = RawWebSocketClient.ConnectUpgraded(server.Port, "/ws", sameSendBytes: CloseWith(1000, "quick"));
            Assert.That(client.ReadClose().CloseCode, Is.EqualTo(1000));
        }
    }
}
