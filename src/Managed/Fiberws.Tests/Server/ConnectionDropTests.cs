using System.Net.Sockets;
using System.Threading.Tasks;
using Fiberws.Tests.Common;
using NUnit.Framework;

namespace Fiberws.Tests.Server
{
    /// <summary>A client that goes away without a closing handshake: the handler's read fails with ErrClosed and 1006.</summary>
    [TestFixture]
    public class ConnectionDropTests
    {
        [TestCase(false)]
        [TestCase(true)]
        public void DroppedTcp_ReadFailsWithErrClosedAnd1006(bool reset)
        {
            var started = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            var failure = new TaskCompletionSource<ReadFailure>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = TestServer.WebSocket("/ws", conn =>
            {
                started.TrySetResult(true);
                failure.TrySetResult(conn.ReadUntilFailure());
            });
            RawWebSocketClient client = server.Upgrade();
            TestServer.Await(started, "the handler");
            if (reset)
            {
                client.Socket.LingerState = new LingerOption(true, 0); // close sends RST
            }
            client.Dispose();
            ReadFailure f = TestServer.Await(failure, "the handler's read to fail");
            Assert.That(f.Code, Is.EqualTo(ResultCode.ErrClosed), f.Message);
            Assert.That(f.CloseCodeReceived, Is.EqualTo(1006));
            Assert.That(f.ExceptionCloseCode, Is.EqualTo(1006));
        }

        [Test]
        public void DroppedTcp_MidFrame_ReadFailsWith1006()
        {
            var failure = new TaskCompletionSource<ReadFailure>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = TestServer.WebSocket("/ws", conn => failure.TrySetResult(conn.ReadUntilFailure()));
            RawWebSocketClient client = server.Upgrade();
            byte[] frame = ClientFrames.BinaryFrame(ClientFrames.Pattern(1000));
            client.Send(frame[..500]);
            client.Dispose();
            ReadFailure f = TestServer.Await(failure, "the handler's read to fail");
            Assert.That(f.Code, Is.EqualTo(ResultCode.ErrClosed));
            Assert.That(f.CloseCodeReceived, Is.EqualTo(1006));
        }

        [Test]
        public void ReadsAfterTheFailure_FailTheSameWay()
        {
            var second = new TaskCompletionSource<ReadFailure>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = TestServer.WebSocket("/ws", conn =>
            {
                conn.ReadUntilFailure();
                second.TrySetResult(conn.ReadUntilFailure());
            });
            server.Upgrade().Dispose();
            ReadFailure f = TestServer.Await(second, "the second read");
            Assert.That(f.Code, Is.EqualTo(ResultCode.ErrClosed));
            Assert.That(f.CloseCodeReceived, Is.EqualTo(1006));
        }
    }
}
