using System.Threading.Tasks;
using Fiberws.Tests.Common;
using Fiberws.WebSockets;
using NUnit.Framework;

namespace Fiberws.Tests.Server
{
    /// <summary>"Once the handler has returned and the connection is finished, every call fails with ErrClosed" (Conn docs).</summary>
    [TestFixture]
    public unsafe class ConnAfterFinishTests
    {
        private static Conn FinishedConn(out TestServer server)
        {
            var kept = new TaskCompletionSource<Conn>(TaskCreationOptions.RunContinuationsAsynchronously);
            server = TestServer.WebSocket("/ws", conn => kept.TrySetResult(conn));
            using (RawWebSocketClient client = server.Upgrade())
            {
                Assert.That(client.ReadClose().CloseCode, Is.EqualTo(1000));
                client.SendClose(1000);
                Assert.That(client.WaitForEof(), Is.True);
            }
            Conn conn = TestServer.Await(kept, "the handler");
            TestServer s = server;
            Assert.That(() => s.App.ConnectionCount, Is.Zero.After(5000, 20));
            Assert.That(conn.IsFinished, Is.True);
            return conn;
        }

        [Test]
        public void ReadAfterFinish_FailsWithErrClosed()
        {
            Conn conn = FinishedConn(out TestServer server);
            using (server)
            {
                Assert.That(conn.TryReadMessage(out _, out _, out _), Is.EqualTo(ResultCode.ErrClosed), Conn.ThreadError);
            }
        }

        [Test]
        public void WriteAfterFinish_FailsWithErrClosed()
        {
            Conn conn = FinishedConn(out TestServer server);
            using (server)
            {
                byte b = 1;
                Assert.That(conn.TryWriteMessage(MessageType.BinaryMessage, &b, 1), Is.EqualTo(ResultCode.ErrClosed), Conn.ThreadError);
            }
        }

        [Test]
        public void CloseAfterFinish_IsAHarmlessNoOp()
        {
            Conn conn = FinishedConn(out TestServer server);
            using (server)
            {
                Assert.That(conn.TryClose(1000, "again"), Is.EqualTo(ResultCode.Ok));
            }
        }
    }
}
