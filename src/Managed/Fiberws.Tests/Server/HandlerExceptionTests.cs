using System;
using System.Threading.Tasks;
using Fiberws.Server;
using Fiberws.Tests.Common;
using NUnit.Framework;

namespace Fiberws.Tests.Server
{
    /// <summary>A handler that throws: the client gets {"error":"..."} then close 1011 (or the RecoverHandler runs).</summary>
    [TestFixture]
    public class HandlerExceptionTests
    {
        [Test]
        public void ThrowingHandler_SendsErrorJson_ThenClose1011()
        {
            using TestServer server = TestServer.WebSocket("/ws", conn => throw new InvalidOperationException("boom \"quoted\""));
            using RawWebSocketClient client = server.Upgrade();
            Assert.That(client.ReadText(), Is.EqualTo("{\"error\":\"boom \\\"quoted\\\"\"}"));
            Assert.That(client.ReadClose().CloseCode, Is.EqualTo(1011));
        }

        [Test]
        public void ThrowingHandler_WithRecoverHandler_RunsItInstead()
        {
            var recovered = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            var config = new WebSocketConfig
            {
                RecoverHandler = (conn, e) =>
                {
                    recovered.TrySetResult(e.Message);
                    conn.WriteMessage(MessageType.TextMessage, ClientFrames.Utf8("recovered"));
                },
            };
            using TestServer server = TestServer.WebSocket("/ws", conn => throw new InvalidOperationException("oops"), config);
            using RawWebSocketClient client = server.Upgrade();
            Assert.That(client.ReadText(), Is.EqualTo("recovered"));
            Assert.That(client.ReadClose().CloseCode, Is.EqualTo(1011));
            Assert.That(TestServer.Await(recovered, "the recover handler"), Is.EqualTo("oops"));
        }
    }
}
