using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Fiberws.Server;
using Fiberws.Tests.Common;
using Fiberws.WebSockets;
using NUnit.Framework;

namespace Fiberws.Tests.Hostile
{
    /// <summary>
    /// Ping floods: 10,000 pings are each answered with their pong, in order, with no managed allocation per ping
    /// and the server still serving; a client that floods pings and never reads the pongs is dropped (blocking API:
    /// by the write deadline; event API: by max_backpressure) instead of holding the connection or growing memory.
    /// Also a handler writing to a client that stopped reading: the write deadline ends it and the connection goes.
    /// </summary>
    [TestFixture]
    public class PingFloodTests
    {
        private const int Pings = 10_000;

        /// <summary>Ping i carries i % 126 bytes derived from i, so a lost, repeated or reordered pong is caught.</summary>
        private static byte[] PingPayload(int i)
        {
            var p = new byte[i % 126];
            for (int k = 0; k < p.Length; k++)
            {
                p[k] = (byte)(i * 31 + k);
            }
            return p;
        }

        /// <summary>Sends the pings in batches while a second thread reads and checks the pongs.</summary>
        private static void FloodAndCheckPongs(RawWebSocketClient client, Action? midway = null)
        {
            Task<string?> pongs = Task.Run(() =>
            {
                for (int i = 0; i < Pings; i++)
                {
                    ServerFrame f = client.ReadFrame();
                    if (f.Opcode != ClientFrames.Pong || !f.Payload.AsSpan().SequenceEqual(PingPayload(i)))
                    {
                        return $"frame {i}: opcode {f.Opcode}, {f.Payload.Length} bytes, expected the pong of ping {i}";
                    }
                }
                return null;
            });
            var batch = new List<byte[]>();
            for (int i = 0; i < Pings; i++)
            {
                batch.Add(ClientFrames.Frame(ClientFrames.Ping, PingPayload(i), key: new byte[] { 1, 2, 3, (byte)i }));
                if (batch.Count == 100)
                {
                    client.Send(ClientFrames.Concat(batch.ToArray()));
                    batch.Clear();
                }
                if (i == Pings / 2)
                {
                    midway?.Invoke();
                }
            }
            client.Send(ClientFrames.Concat(batch.ToArray()));
            Assert.That(pongs.Wait(TestServer.WaitMs * 2), Is.True, "the pongs did not all arrive");
            Assert.That(pongs.Result, Is.Null);
        }

        [Test]
        public void TenThousandPings_BlockingApi_AreAllAnswered_WithoutAllocatingPerPing()
        {
            long allocated = -1;
            using TestServer server = TestServer.WebSocket("/ws", conn =>
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                MessageType type = conn.ReadMessage(out ReadOnlySpan<byte> data); // answers every ping on the way
                Interlocked.Exchange(ref allocated, GC.GetAllocatedBytesForCurrentThread() - before);
                conn.WriteMessage(type, data.ToArray());
                TestServer.Echo(conn);
            });
            using RawWebSocketClient client = server.Upgrade();
            FloodAndCheckPongs(client);
            client.SendText("after the flood");
            Assert.That(client.ReadText(), Is.EqualTo("after the flood"));
            client.SendText("still serving");
            Assert.That(client.ReadText(), Is.EqualTo("still serving"));
            // One-time costs (the control frame buffer) are allowed; anything per ping would be well over this.
            Assert.That(Interlocked.Read(ref allocated), Is.InRange(0, 16 * 1024), "managed bytes the handler thread allocated while answering 10,000 pings");
        }

        [Test]
        public void TenThousandPings_EventApi_AreAllAnswered_WhileTheLoopServesOthers()
        {
            var events = new WebSocketEvents { OnMessage = (conn, type, data) => conn.WriteMessage(type, data) };
            using TestServer server = TestServer.Start(app => app.WebSocketEvents("/ev", events));
            using RawWebSocketClient flooder = server.Upgrade("/ev");
            using RawWebSocketClient other = server.Upgrade("/ev");
            other.SendText("warm-up");
            Assert.That(other.ReadText(), Is.EqualTo("warm-up"));
            long before = server.App.LoopAllocatedBytes;
            long othersRoundTrip = -1;
            FloodAndCheckPongs(flooder, midway: () =>
            {
                // The loop is busy with the flood: another client must still get its answer promptly.
                var sw = Stopwatch.StartNew();
                other.SendText("during the flood");
                Assert.That(other.ReadText(), Is.EqualTo("during the flood"));
                othersRoundTrip = sw.ElapsedMilliseconds;
            });
            long allocated = server.App.LoopAllocatedBytes - before;
            flooder.SendText("after the flood");
            Assert.That(flooder.ReadText(), Is.EqualTo("after the flood"));
            Assert.That(othersRoundTrip, Is.InRange(0, 2000), "another client's round trip during the flood, ms");
            Assert.That(allocated, Is.InRange(0, 16 * 1024), "managed bytes the loop thread allocated while answering 10,000 pings");
        }

        /// <summary>
        /// Sends 125-byte pings, never reading, until the server has dropped the connection (a send fails) or the
        /// handler reports; bounded in time.
        /// </summary>
        private static void FloodWithoutReading(Socket s, Task done, int seconds = 15)
        {
            var pings = new List<byte[]>();
            for (int i = 0; i < 64; i++)
            {
                pings.Add(ClientFrames.Frame(ClientFrames.Ping, ClientFrames.Pattern(125, i), key: new byte[] { 9, 8, 7, (byte)i }));
            }
            byte[] batch = ClientFrames.Concat(pings.ToArray());
            var sw = Stopwatch.StartNew();
            while (!done.IsCompleted && sw.Elapsed < TimeSpan.FromSeconds(seconds))
            {
                try
                {
                    s.Send(batch);
                }
                catch (SocketException)
                {
                    return; // the server closed the connection
                }
            }
        }

        [Test]
        public void PingFlood_FromAClientThatNeverReads_BlockingApiWithWriteDeadline_IsDropped()
        {
            var failure = new TaskCompletionSource<ReadFailure>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = TestServer.WebSocket("/ws", conn =>
            {
                conn.SetWriteDeadline(TimeSpan.FromMilliseconds(300));
                failure.TrySetResult(conn.ReadUntilFailure());
            });
            using Socket s = HostileSockets.Upgrade(server.Port, "/ws", receiveBuffer: 4096);
            var sw = Stopwatch.StartNew();
            FloodWithoutReading(s, failure.Task);
            ReadFailure f = TestServer.Await(failure, "the handler's read to fail");
            // The pong that could not be written within the deadline broke the connection; the read then failed.
            Assert.That(f.Code, Is.EqualTo(ResultCode.ErrClosed), f.Message);
            Assert.That(f.Message, Does.Contain("ping"));
            Assert.That(HostileSockets.Eventually(() => server.App.ConnectionCount == 0), Is.True, "the connection was not released");
            Assert.That(HostileSockets.ClosedByServerWithin(s, 5000), Is.True, "the server did not close the connection");
            Assert.That(sw.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)));
        }

        [Test]
        public void PingFlood_FromAClientThatNeverReads_EventApi_IsDroppedAtMaxBackpressure()
        {
            var closed = new TaskCompletionSource<(int Code, string Reason)>(TaskCreationOptions.RunContinuationsAsynchronously);
            var events = new WebSocketEvents
            {
                OnMessage = (conn, type, data) => conn.WriteMessage(type, data),
                OnClose = (conn, code, reason) => closed.TrySetResult((code, System.Text.Encoding.UTF8.GetString(reason))),
            };
            var config = new WebSocketConfig { MaxBackpressure = 64 * 1024 };
            using TestServer server = TestServer.Start(app => app.WebSocketEvents("/ev", events, config));
            using Socket s = HostileSockets.Upgrade(server.Port, "/ev", receiveBuffer: 4096);
            FloodWithoutReading(s, closed.Task);
            (int code, string reason) = TestServer.Await(closed, "OnClose");
            Assert.That(code, Is.EqualTo(1006));
            Assert.That(reason, Does.Contain("backpressure"));
            Assert.That(HostileSockets.ClosedByServerWithin(s, 5000), Is.True, "the server did not close the connection");
            using RawWebSocketClient other = server.Upgrade("/ev");
            other.SendText("the loop still serves");
            Assert.That(other.ReadText(), Is.EqualTo("the loop still serves"));
        }

        /// <summary>
        /// Floods pings from a client that never reads until the server stops reading (its reader thread is then stuck
        /// writing a pong, with no write deadline set): the client's sends stall.
        /// </summary>
        private static void FloodUntilTheServerStopsReading(Socket s, Task readEnded)
        {
            s.SendTimeout = 500;
            byte[] ping = ClientFrames.Frame(ClientFrames.Ping, ClientFrames.Pattern(125, 1), key: new byte[] { 4, 3, 2, 1 });
            byte[] batch = ClientFrames.Concat(Enumerable.Repeat(ping, 64).ToArray());
            var sw = Stopwatch.StartNew();
            bool stalled = false;
            while (!stalled && sw.Elapsed < TimeSpan.FromSeconds(10))
            {
                try
                {
                    s.Send(batch);
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
                {
                    stalled = true;
                }
            }
            Assert.That(stalled, Is.True, "the server kept reading: its pong writes never blocked");
            Assert.That(readEnded.IsCompleted, Is.False, "the read ended by itself");
        }

        /// <summary>
        /// No write deadline set: the reader thread blocks in the pong write once the non-reading client's buffers are
        /// full. Close from another thread (the documented way to end a blocked read, "any thread") must still return
        /// promptly and end the connection, as gorilla's does (its control writes wait for the write lock only until
        /// their deadline), rather than wait behind the stuck pong for as long as the client likes.
        /// </summary>
        [Test]
        public void PingFlood_FromAClientThatNeverReads_CloseFromAnotherThread_StillReturns()
        {
            var conns = new TaskCompletionSource<Conn>(TaskCreationOptions.RunContinuationsAsynchronously);
            var failure = new TaskCompletionSource<ReadFailure>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = TestServer.WebSocket("/ws", conn =>
            {
                conns.TrySetResult(conn);
                failure.TrySetResult(conn.ReadUntilFailure());
            });
            using Socket s = HostileSockets.Upgrade(server.Port, "/ws", receiveBuffer: 4096);
            Conn serverConn = TestServer.Await(conns, "the handler");
            FloodUntilTheServerStopsReading(s, failure.Task);

            Task<ResultCode> close = Task.Run(() => serverConn.TryClose(1001, "going away"));
            bool returned = close.Wait(3000);
            bool handlerDone = returned && failure.Task.Wait(5000);
            // (Disposing the client socket at the end resets the connection, which frees the stuck write either way.)
            Assert.That(returned, Is.True, "TryClose from another thread did not return within 3 s (the write lock is held by the reader thread, stuck in its pong write)");
            Assert.That(handlerDone, Is.True, "the blocked read did not end after TryClose");
        }

        /// <summary>
        /// The same stuck connection at server shutdown: Shutdown(timeout) promises to cut connections still open when
        /// the timeout passes, so it must return within about the timeout plus the close timeout.
        /// </summary>
        [Test]
        public void PingFlood_FromAClientThatNeverReads_ShutdownStillReturnsInTime()
        {
            var failure = new TaskCompletionSource<ReadFailure>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = TestServer.WebSocket("/ws", conn => failure.TrySetResult(conn.ReadUntilFailure()));
            using Socket s = HostileSockets.Upgrade(server.Port, "/ws", receiveBuffer: 4096);
            FloodUntilTheServerStopsReading(s, failure.Task);

            var sw = Stopwatch.StartNew();
            Task<bool> shutdown = Task.Run(() => server.App.Shutdown(TimeSpan.FromSeconds(1)));
            bool returned = shutdown.Wait(5000);
            Assert.That(returned, Is.True, $"App.Shutdown(1 s) had not returned after {sw.ElapsedMilliseconds} ms (its TryClose waits for the write lock held by the stuck pong write)");
            Assert.That(failure.Task.Wait(5000), Is.True, "the handler's read did not end at shutdown");
        }

        [Test]
        public void HandlerWritingToAClientThatStoppedReading_WriteDeadline_EndsTheHandlerAndDropsTheConnection()
        {
            var result = new TaskCompletionSource<(ResultCode Code, long Ms, int Writes)>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = TestServer.WebSocket("/ws", conn =>
            {
                byte[] chunk = new byte[64 * 1024];
                conn.SetWriteDeadline(TimeSpan.FromMilliseconds(300));
                var sw = Stopwatch.StartNew();
                int writes = 0;
                try
                {
                    while (writes < 5000)
                    {
                        conn.WriteMessage(MessageType.BinaryMessage, chunk);
                        writes++;
                    }
                    result.TrySetResult((ResultCode.Ok, sw.ElapsedMilliseconds, writes));
                }
                catch (FwsException e)
                {
                    result.TrySetResult((e.Code, sw.ElapsedMilliseconds, writes));
                }
            });
            using Socket s = HostileSockets.Upgrade(server.Port, "/ws", receiveBuffer: 4096);
            (ResultCode code, long ms, int written) = TestServer.Await(result, "the handler's writes to fail");
            Assert.That(code, Is.EqualTo(ResultCode.ErrTimeout), $"after {written} writes in {ms} ms");
            Assert.That(ms, Is.InRange(250, 5000));
            Assert.That(HostileSockets.Eventually(() => server.App.ConnectionCount == 0), Is.True, "the handler did not return and release the connection");
            Assert.That(HostileSockets.ClosedByServerWithin(s, 5000), Is.True, "the server did not close the connection");
        }
    }
}
