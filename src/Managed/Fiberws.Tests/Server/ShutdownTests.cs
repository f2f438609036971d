using System;
using System.Net.Sockets;
using System.Threading.Tasks;
using Fiberws.Tests.Common;
using NUnit.Framework;

namespace Fiberws.Tests.Server
{
    /// <summary>App.Shutdown closes open WebSocket connections with 1001 and stops accepting.</summary>
    [TestFixture]
    public class ShutdownTests
    {
        [Test]
        public void Shutdown_ClosesOpenConnectionsWith1001()
        {
            var failures = new TaskCompletionSource<ReadFailure>[2];
            for (int i = 0; i < failures.Length; i++)
            {
                failures[i] = new TaskCompletionSource<ReadFailure>(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            int next = -1;
            using TestServer server = TestServer.WebSocket("/ws", conn =>
            {
                int me = System.Threading.Interlocked.Increment(ref next);
                failures[me].TrySetResult(conn.ReadUntilFailure());
            });
            using RawWebSocketClient a = server.Upgrade();
            using RawWebSocketClient b = server.Upgrade();
            a.SendText("x"); // make sure both handlers are running before shutdown
            b.SendText("y");
            Assert.That(() => server.App.ConnectionCount, Is.EqualTo(2).After(5000, 20));

            Task<bool> shutdown = Task.Run(() => server.App.Shutdown(TimeSpan.FromSeconds(5)));
            foreach (RawWebSocketClient c in new[] { a, b })
            {
                ServerFrame close = c.ReadClose();
                Assert.That(close.CloseCode, Is.EqualTo(1001));
                try
                {
                    c.SendClose(1001);
                }
                catch (SocketException)
                {
                    // the server may already have dropped TCP after its close timeout; that is allowed
                }
            }
            Assert.That(shutdown.Wait(TestServer.WaitMs), Is.True, "Shutdown did not return");
            Assert.That(shutdown.Result, Is.True, "every handler returned");
            foreach (TaskCompletionSource<ReadFailure> f in failures)
            {
                Assert.That(TestServer.Await(f, "the handler's read").Code, Is.EqualTo(ResultCode.ErrClosed));
            }
            Assert.That(server.App.ConnectionCount, Is.Zero);
        }

        [Test]
        public void AfterShutdown_NewConnectionsAreRefused()
        {
            TestServer server = TestServer.WebSocket("/ws", TestServer.Echo);
            int port = server.Port;
            server.Dispose();
            Assert.That(() => RawWebSocketClient.Connect(port), Throws.InstanceOf<SocketException>());
        }

        [Test]
        public void Shutdown_ClosesConnectionsThatHaveNotUpgraded()
        {
            TestServer server = TestServer.WebSocket("/ws", TestServer.Echo);
            using RawWebSocketClient idle = server.Connect();
            idle.Send("GET /ws HTTP/1.1\r\nHo"); // a partial head
            Assert.That(idle.IsSilentFor(200), Is.True);
            server.Dispose();
            Assert.That(idle.WaitForEof(), Is.True);
        }
    }
}
