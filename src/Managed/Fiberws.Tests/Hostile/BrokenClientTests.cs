using System;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Fiberws.Server;
using Fiberws.Tests.Common;
using Fiberws.WebSockets;
using NUnit.Framework;

namespace Fiberws.Tests.Hostile
{
    /// <summary>
    /// Clients that break off: a FIN after part of a frame while still reading (half-open), silence without any FIN
    /// (a vanished peer: only a read deadline or the idle timeout can end it), and resets (SO_LINGER 0) in the middle
    /// of a frame or of the handshake. Each must end the connection on the server, for the blocking and the event
    /// API, and leave the server serving. (Plain drops after the handshake and a FIN mid-frame with the socket closed
    /// are in Server/ConnectionDropTests.)
    /// </summary>
    [TestFixture]
    public class BrokenClientTests
    {
        /// <summary>Half of a 1000-byte binary frame: the header and part of the payload.</summary>
        private static readonly byte[] s_partialFrame = ClientFrames.BinaryFrame(ClientFrames.Pattern(1000))[..500];

        private sealed class EventRecorder
        {
            public readonly TaskCompletionSource<(int Code, string Reason)> Closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

            public WebSocketEvents Events => new()
            {
                OnMessage = (conn, type, data) => conn.WriteMessage(type, data),
                OnClose = (conn, code, reason) => Closed.TrySetResult((code, Encoding.UTF8.GetString(reason))),
            };
        }

        [Test]
        public void HalfClose_MidFrame_BlockingApi_HandlerSees1006_AndTheServerCloses()
        {
            var failure = new TaskCompletionSource<ReadFailure>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = TestServer.WebSocket("/ws", conn => failure.TrySetResult(conn.ReadUntilFailure()));
            using Socket s = HostileSockets.Upgrade(server.Port, "/ws");
            s.Send(s_partialFrame);
            s.Shutdown(SocketShutdown.Send); // FIN, but still reading
            ReadFailure f = TestServer.Await(failure, "the handler's read to fail");
            Assert.That(f.Code, Is.EqualTo(ResultCode.ErrClosed), f.Message);
            Assert.That(f.CloseCodeReceived, Is.EqualTo(1006));
            Assert.That(HostileSockets.ClosedByServerWithin(s, 5000), Is.True, "the server did not close its side");
            Assert.That(HostileSockets.Eventually(() => server.App.ConnectionCount == 0), Is.True, "the connection was not released");
        }

        [Test]
        public void HalfClose_MidFrame_EventApi_ClosesWith1006()
        {
            var rec = new EventRecorder();
            using TestServer server = TestServer.Start(app => app.WebSocketEvents("/ev", rec.Events));
            using Socket s = HostileSockets.Upgrade(server.Port, "/ev");
            s.Send(s_partialFrame);
            s.Shutdown(SocketShutdown.Send);
            (int code, _) = TestServer.Await(rec.Closed, "OnClose");
            Assert.That(code, Is.EqualTo(1006));
            Assert.That(HostileSockets.ClosedByServerWithin(s, 5000), Is.True, "the server did not close its side");
        }

        [Test]
        public void VanishedClient_MidFrame_BlockingApi_ReadDeadlineEndsTheConnection()
        {
            var failure = new TaskCompletionSource<(ReadFailure Failure, long Ms)>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = TestServer.WebSocket("/ws", conn =>
            {
                var sw = Stopwatch.StartNew();
                conn.SetReadDeadline(TimeSpan.FromMilliseconds(300));
                ReadFailure f = conn.ReadUntilFailure();
                failure.TrySetResult((f, sw.ElapsedMilliseconds));
            });
            using Socket s = HostileSockets.Upgrade(server.Port, "/ws");
            s.Send(s_partialFrame); // then nothing more, and no FIN: as if the client's host went away
            (ReadFailure f, long ms) = TestServer.Await(failure, "the handler's read to time out");
            Assert.That(f.Code, Is.EqualTo(ResultCode.ErrTimeout), f.Message);
            Assert.That(ms, Is.InRange(250, 5000));
            // The handler returned: the server closes (after at most its close timeout of 500 ms for the peer's answer).
            Assert.That(HostileSockets.ClosedByServerWithin(s, 5000), Is.True, "the server did not close the connection");
            Assert.That(HostileSockets.Eventually(() => server.App.ConnectionCount == 0), Is.True, "the connection was not released");
        }

        [TestCase(true)]
        [TestCase(false)]
        public void VanishedClient_MidFrame_EventApi_IdleTimeoutEndsTheConnection(bool sendPings)
        {
            var rec = new EventRecorder();
            var config = new WebSocketConfig { IdleTimeout = TimeSpan.FromMilliseconds(400), SendPingsAutomatically = sendPings };
            using TestServer server = TestServer.Start(app => app.WebSocketEvents("/ev", rec.Events, config));
            using Socket s = HostileSockets.Upgrade(server.Port, "/ev");
            var sw = Stopwatch.StartNew();
            s.Send(s_partialFrame);
            (int code, string reason) = TestServer.Await(rec.Closed, "OnClose");
            Assert.That(code, Is.EqualTo(1006));
            Assert.That(reason, Does.Contain("idle"));
            Assert.That(sw.ElapsedMilliseconds, Is.InRange(350, 5000));
            Assert.That(HostileSockets.ClosedByServerWithin(s, 5000), Is.True, "the server did not close the connection");
        }

        [Test]
        public void Reset_MidFrame_BlockingApi_HandlerSees1006()
        {
            var failure = new TaskCompletionSource<ReadFailure>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = TestServer.WebSocket("/ws", conn => failure.TrySetResult(conn.ReadUntilFailure()));
            Socket s = HostileSockets.Upgrade(server.Port, "/ws");
            s.Send(s_partialFrame);
            Thread.Sleep(50); // let the server start on the frame
            HostileSockets.Reset(s);
            ReadFailure f = TestServer.Await(failure, "the handler's read to fail");
            Assert.That(f.Code, Is.EqualTo(ResultCode.ErrClosed), f.Message);
            Assert.That(f.CloseCodeReceived, Is.EqualTo(1006));
            Assert.That(HostileSockets.Eventually(() => server.App.ConnectionCount == 0), Is.True, "the connection was not released");
        }

        [Test]
        public void Reset_MidFrame_EventApi_ClosesWith1006()
        {
            var rec = new EventRecorder();
            using TestServer server = TestServer.Start(app => app.WebSocketEvents("/ev", rec.Events));
            Socket s = HostileSockets.Upgrade(server.Port, "/ev");
            s.Send(s_partialFrame);
            Thread.Sleep(50);
            HostileSockets.Reset(s);
            (int code, _) = TestServer.Await(rec.Closed, "OnClose");
            Assert.That(code, Is.EqualTo(1006));
        }

        /// <summary>
        /// Resets during the handshake: in the request line, in the headers, and right after a complete upgrade
        /// request before its 101 is read. No blocking handler may be left running (or the event route left open),
        /// no descriptor may leak, and the server must serve the next client.
        /// </summary>
        [Test]
        public void Reset_MidHandshake_LeavesNothingBehind()
        {
            int opens = 0, closes = 0;
            var events = new WebSocketEvents
            {
                OnOpen = conn => Interlocked.Increment(ref opens),
                OnMessage = (conn, type, data) => conn.WriteMessage(type, data),
                OnClose = (conn, code, reason) => Interlocked.Increment(ref closes),
            };
            using TestServer server = TestServer.Start(app =>
            {
                app.WebSocket("/ws", TestServer.Echo);
                app.WebSocketEvents("/ev", events);
            });
            using (RawWebSocketClient warm = server.Upgrade("/ws"))
            {
                warm.SendText("warm-up");
                Assert.That(warm.ReadText(), Is.EqualTo("warm-up"));
            }
            Assert.That(HostileSockets.Eventually(() => server.App.ConnectionCount == 0), Is.True);
            int fdsBefore = HostileSockets.OpenFds();
            foreach (string target in new[] { "/ws", "/ev" })
            {
                string request = RawWebSocketClient.UpgradeRequest(target);
                foreach (int cut in new[] { 5, request.IndexOf("\r\n", StringComparison.Ordinal) + 2, request.Length / 2, request.Length - 1, request.Length })
                {
                    Socket s = HostileSockets.Connect(server.Port);
                    s.Send(Encoding.ASCII.GetBytes(request.Substring(0, cut)));
                    Thread.Sleep(20);
                    HostileSockets.Reset(s);
                }
            }
            Assert.That(HostileSockets.Eventually(() => server.App.ConnectionCount == 0 && Volatile.Read(ref opens) == Volatile.Read(ref closes)), Is.True,
                $"connections left open: {server.App.ConnectionCount} blocking, {opens - closes} event");
            Assert.That(HostileSockets.Eventually(() => HostileSockets.OpenFds() <= fdsBefore + 2, 5000), Is.True,
                $"descriptors: {fdsBefore} before, {HostileSockets.OpenFds()} after");
            foreach (string target in new[] { "/ws", "/ev" })
            {
                using RawWebSocketClient c = server.Upgrade(target);
                c.SendText("served after the resets");
                Assert.That(c.ReadText(), Is.EqualTo("served after the resets"));
            }
        }
    }
}
