using System.Threading.Tasks;
using Fiberws.Tests.Common;
using NUnit.Framework;
using static Fiberws.Tests.Common.ClientFrames;

namespace Fiberws.Tests.Server
{
    /// <summary>The closing handshake (RFC 6455 §5.5.1, §7), started by either side.</summary>
    [TestFixture]
    public class CloseHandshakeTests
    {
        [Test]
        public void ClientClose_IsEchoed_AndTheHandlersReadFailsWithErrClosed()
        {
            var failure = new TaskCompletionSource<ReadFailure>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = TestServer.WebSocket("/ws", conn => failure.TrySetResult(conn.ReadUntilFailure()));
            using RawWebSocketClient client = server.Upgrade();
            client.SendClose(1000, "done");
            ServerFrame close = client.ReadClose();
            Assert.That(close.CloseCode, Is.EqualTo(1000));
            ReadFailure f = TestServer.Await(failure, "the handler's read to fail");
            Assert.That(f.Code, Is.EqualTo(ResultCode.ErrClosed));
            Assert.That(f.CloseCodeReceived, Is.EqualTo(1000));
            Assert.That(f.ExceptionCloseCode, Is.EqualTo(1000));
            Assert.That(client.WaitForEof(), Is.True, "the server closes TCP after the closing handshake");
        }

        [Test]
        public void ClientCloseWithoutCode_IsEchoedEmpty_AndReportedAs1005()
        {
            var failure = new TaskCompletionSource<ReadFailure>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = TestServer.WebSocket("/ws", conn => failure.TrySetResult(conn.ReadUntilFailure()));
            using RawWebSocketClient client = server.Upgrade();
            client.Send(Frame(Close, new byte[0]));
            ServerFrame close = client.ReadClose();
            Assert.That(close.Payload, Is.Empty);
            ReadFailure f = TestServer.Await(failure, "the handler's read to fail");
            Assert.That(f.Code, Is.EqualTo(ResultCode.ErrClosed));
            Assert.That(f.CloseCodeReceived, Is.EqualTo(1005));
        }

        [TestCase(999)]
        [TestCase(1005)]
        [TestCase(1006)]
        [TestCase(5000)]
        public void ClientCloseWithInvalidCode_IsAnsweredWith1002(int code)
        {
            using TestServer server = TestServer.WebSocket("/ws", TestServer.Echo);
            using RawWebSocketClient client = server.Upgrade();
            client.Send(Frame(Close, ClosePayload(code)));
            Assert.That(client.ReadClose().CloseCode, Is.EqualTo(1002));
        }

        [Test]
        public void ClientCloseWithOneBytePayload_IsAnsweredWith1002()
        {
            using TestServer server = TestServer.WebSocket("/ws", TestServer.Echo);
            using RawWebSocketClient client = server.Upgrade();
            client.Send(Frame(Close, new byte[] { 0x03 }));
            Assert.That(client.ReadClose().CloseCode, Is.EqualTo(1002));
        }

        [Test]
        public void ClientCloseWithInvalidUtf8Reason_IsAnsweredWith1002Or1007()
        {
            using TestServer server = TestServer.WebSocket("/ws", TestServer.Echo);
            using RawWebSocketClient client = server.Upgrade();
            client.Send(Frame(Close, Concat(new byte[] { 0x03, 0xE8 }, Hex("CE BA E1"))));
            Assert.That(client.ReadClose().CloseCode, Is.AnyOf(1002, 1007));
        }

        [Test]
        public void HandlerReturningNormally_ClosesWith1000()
        {
            using TestServer server = TestServer.WebSocket("/ws", conn => conn.WriteMessage(MessageType.TextMessage, Utf8("last words")));
            using RawWebSocketClient client = server.Upgrade();
            Assert.That(client.ReadText(), Is.EqualTo("last words"));
            Assert.That(client.ReadClose().CloseCode, Is.EqualTo(1000));
            client.SendClose(1000);
            Assert.That(client.WaitForEof(), Is.True);
        }

        [Test]
        public void HandlerClosingWithCodeAndReason_SendsThem_AndLaterWritesFail()
        {
            var writeAfterClose = new TaskCompletionSource<ResultCode>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = TestServer.WebSocket("/ws", conn =>
            {
                conn.Close(4001, "custom");
                try
                {
                    conn.WriteMessage(MessageType.TextMessage, Utf8("too late"));
                    writeAfterClose.TrySetResult(ResultCode.Ok);
                }
                catch (FwsException e)
                {
                    writeAfterClose.TrySetResult(e.Code);
                }
            });
            using RawWebSocketClient client = server.Upgrade();
            ServerFrame close = client.ReadClose();
            Assert.That(close.CloseCode, Is.EqualTo(4001));
            Assert.That(close.CloseReason, Is.EqualTo("custom"));
            Assert.That(TestServer.Await(writeAfterClose, "the write after close"), Is.EqualTo(ResultCode.ErrCloseSent));
        }

        [Test]
        public void HandlerClosing_ThenReading_SeesThePeersCloseCode()
        {
            var failure = new TaskCompletionSource<ReadFailure>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = TestServer.WebSocket("/ws", conn =>
            {
                conn.Close(1000, "server done");
                failure.TrySetResult(conn.ReadUntilFailure());
            });
            using RawWebSocketClient client = server.Upgrade();
            Assert.That(client.ReadClose().CloseCode, Is.EqualTo(1000));
            client.SendClose(4002, "client reply");
            ReadFailure f = TestServer.Await(failure, "the read after close");
            Assert.That(f.Code, Is.EqualTo(ResultCode.ErrClosed));
            Assert.That(f.CloseCodeReceived, Is.EqualTo(4002));
            Assert.That(client.WaitForEof(), Is.True);
        }

        [Test]
        public void UnansweredClose_EndsTheConnectionAfterTheCloseTimeout()
        {
            // The test server's CloseTimeout is 500 ms: the server waits that long for a silent peer's close, then cuts.
            using TestServer server = TestServer.WebSocket("/ws", conn => { });
            using RawWebSocketClient client = server.Upgrade();
            Assert.That(client.ReadClose().CloseCode, Is.EqualTo(1000));
            var sw = System.Diagnostics.Stopwatch.StartNew();
            Assert.That(() => server.App.ConnectionCount, Is.Zero.After(5000, 10));
            Assert.That(sw.Elapsed, Is.GreaterThan(System.TimeSpan.FromMilliseconds(200)), "the server waited for the peer");
        }

        [Test]
        public void AnsweredClose_EndsTheConnectionWithoutWaitingForTheTimeout()
        {
            var options = new Fiberws.Server.AppOptions { CloseTimeout = System.TimeSpan.FromSeconds(5) };
            using TestServer server = TestServer.Start(app => app.WebSocket("/ws", conn => { }), options);
            using RawWebSocketClient client = server.Upgrade();
            Assert.That(client.ReadClose().CloseCode, Is.EqualTo(1000));
            var sw = System.Diagnostics.Stopwatch.StartNew();
            client.SendClose(1000);
            client.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            Assert.That(() => server.App.ConnectionCount, Is.Zero.After(4000, 10));
            Assert.That(sw.Elapsed, Is.LessThan(System.TimeSpan.FromSeconds(4)));
        }

        [Test]
        public void ServerSendsOnlyOneCloseFrame()
        {
            using TestServer server = TestServer.WebSocket("/ws", conn =>
            {
                conn.Close(1000, "first");
                conn.Close(1001, "second");
            });
            using RawWebSocketClient client = server.Upgrade();
            ServerFrame close = client.ReadClose();
            Assert.That((close.CloseCode, close.CloseReason), Is.EqualTo((1000, "first")));
            client.SendClose(1000);
            Assert.That(client.WaitForEof(), Is.True, "no second close frame, just EOF");
        }
    }
}
