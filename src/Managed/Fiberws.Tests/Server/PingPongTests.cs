using Fiberws.Tests.Common;
using NUnit.Framework;
using static Fiberws.Tests.Common.ClientFrames;

namespace Fiberws.Tests.Server
{
    /// <summary>A ping is answered with a pong carrying the same payload (RFC 6455 §5.5.2), while the handler reads.</summary>
    [TestFixture]
    public class PingPongTests
    {
        [TestCase(0)]
        [TestCase(10)]
        [TestCase(125)]
        public void Ping_IsAnsweredWithPongOfTheSamePayload(int length)
        {
            using TestServer server = TestServer.WebSocket("/ws", TestServer.Echo);
            using RawWebSocketClient client = server.Upgrade();
            byte[] payload = Pattern(length, seed: length);
            client.Send(PingFrame(payload));
            ServerFrame pong = client.ReadFrame();
            Assert.That(pong.Opcode, Is.EqualTo(10));
            Assert.That(pong.Payload, Is.EqualTo(payload));
        }

        [Test]
        public void PingBetweenFragments_IsAnswered_AndTheMessageStillArrives()
        {
            using TestServer server = TestServer.WebSocket("/ws", TestServer.Echo);
            using RawWebSocketClient client = server.Upgrade();
            client.Send(Concat(Frame(Text, Utf8("ab"), fin: false), PingFrame(Utf8("mid")), ContinuationFrame("cd", fin: true)));
            ServerFrame pong = client.ReadFrame();
            Assert.That((pong.Opcode, pong.Text), Is.EqualTo((10, "mid")));
            Assert.That(client.ReadText(), Is.EqualTo("abcd"));
        }

        [Test]
        public void UnsolicitedPong_IsIgnored()
        {
            using TestServer server = TestServer.WebSocket("/ws", TestServer.Echo);
            using RawWebSocketClient client = server.Upgrade();
            client.Send(Concat(PongFrame(Utf8("unsolicited")), TextFrame("still here")));
            Assert.That(client.ReadText(), Is.EqualTo("still here"));
        }
    }
}
