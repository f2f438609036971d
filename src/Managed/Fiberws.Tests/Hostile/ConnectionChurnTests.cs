using System;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using Fiberws.Tests.Common;
using Fiberws.WebSockets;
using NUnit.Framework;

namespace Fiberws.Tests.Hostile
{
    /// <summary>
    /// 1,000 connect/disconnect cycles of every rude kind, on a blocking and an event route, then the server must still
    /// serve and be back to its baseline: no blocking connection registered (<c>App.ConnectionCount</c>, the only count
    /// the App exposes), as many event-API closes as opens (the application's own count of open connections), and
    /// the process's descriptors (/proc/self/fd) and threads back near where they were.
    /// </summary>
    [TestFixture]
    public class ConnectionChurnTests
    {
        private const int Cycles = 1000;

        private enum Rudeness
        {
            CloseAtOnce,
            PartialHeadThenClose,
            PartialHeadThenReset,
            UpgradeThenClose,
            UpgradeThenReset,
            PartialFrameThenClose,
            PartialFrameThenReset,
            RequestThenCloseUnread,
            CleanCloseHandshake,
        }

        private static void Cycle(int port, string target, Rudeness how, int i)
        {
            string request = RawWebSocketClient.UpgradeRequest(target);
            byte[] partialFrame = ClientFrames.BinaryFrame(ClientFrames.Pattern(300, i))[..(7 + i % 200)];
            switch (how)
            {
                case Rudeness.CloseAtOnce:
                    HostileSockets.Connect(port).Dispose();
                    return;
                case Rudeness.PartialHeadThenClose:
                case Rudeness.PartialHeadThenReset:
                    {
                        Socket s = HostileSockets.Connect(port);
                        s.Send(Encoding.ASCII.GetBytes(request.Substring(0, 1 + i % (request.Length - 2))));
                        if (how == Rudeness.PartialHeadThenReset)
                        {
                            HostileSockets.Reset(s);
                        }
                        else
                        {
                            s.Dispose();
                        }
                        return;
                    }
                case Rudeness.RequestThenCloseUnread:
                    {
                        Socket s = HostileSockets.Connect(port);
                        s.Send(Encoding.ASCII.GetBytes(request));
                        s.Dispose();
                        return;
                    }
                case Rudeness.CleanCloseHandshake:
                    {
                        using RawWebSocketClient c = RawWebSocketClient.ConnectUpgraded(port, target);
                        c.SendText("cycle " + i);
                        Assert.That(c.ReadText(), Is.EqualTo("cycle " + i));
                        c.SendClose(1000);
                        Assert.That(c.ReadClose().CloseCode, Is.EqualTo(1000));
                        return;
                    }
                default:
                    {
                        Socket s = HostileSockets.Upgrade(port, target);
                        if (how is Rudeness.PartialFrameThenClose or Rudeness.PartialFrameThenReset)
                        {
                            s.Send(partialFrame);
                        }
                        if (how is Rudeness.UpgradeThenReset or Rudeness.PartialFrameThenReset)
                        {
                            HostileSockets.Reset(s);
                        }
                        else
                        {
                            s.Dispose();
                        }
                        return;
                    }
            }
        }

        [Test]
        public void ThousandRudeConnections_LeaveTheServerServing_AndBackToBaseline()
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
            // Warm up both routes (handler thread pool, socket engine, JIT) before taking the baseline.
            for (int i = 0; i < 4; i++)
            {
                Cycle(server.Port, i % 2 == 0 ? "/ws" : "/ev", Rudeness.CleanCloseHandshake, i);
            }
            Assert.That(HostileSockets.Eventually(() => server.App.ConnectionCount == 0 && Volatile.Read(ref opens) == Volatile.Read(ref closes)), Is.True);
            int fdsBefore = HostileSockets.OpenFds();
            int threadsBefore = HostileSockets.Threads();

            var sw = Stopwatch.StartNew();
            int kinds = Enum.GetValues<Rudeness>().Length;
            for (int i = 0; i < Cycles; i++)
            {
                var how = (Rudeness)(i % kinds);
                string target = (i / kinds) % 2 == 0 ? "/ws" : "/ev";
                try
                {
                    Cycle(server.Port, target, how, i);
                }
                catch (Exception e) when (e is not AssertionException)
                {
                    Assert.Fail($"cycle {i} ({how} on {target}) failed on the client side: {e.Message}");
                }
            }
            long cyclesMs = sw.ElapsedMilliseconds;

            Assert.That(HostileSockets.Eventually(() => server.App.ConnectionCount == 0), Is.True,
                $"{server.App.ConnectionCount} blocking connections still registered");
            Assert.That(HostileSockets.Eventually(() => Volatile.Read(ref opens) == Volatile.Read(ref closes)), Is.True,
                $"event API: {opens} opened, {closes} closed");
            // Descriptors: every accepted socket closed (a little slack for the runtime's own).
            Assert.That(HostileSockets.Eventually(() => HostileSockets.OpenFds() <= fdsBefore + 4, 5000), Is.True,
                $"descriptors: {fdsBefore} before, {HostileSockets.OpenFds()} after {Cycles} cycles");
            // Threads: blocking handlers run on pooled threads that stay parked (up to 30 s) after their connection, so
            // the count need not fall to the exact baseline, but it must stay near it: a thread left per connection
            // would be hundreds more.
            int threadsAfter = HostileSockets.Threads();
            Assert.That(threadsAfter, Is.LessThanOrEqualTo(threadsBefore + 32), $"threads: {threadsBefore} before, {threadsAfter} after");

            foreach (string target in new[] { "/ws", "/ev" })
            {
                using RawWebSocketClient c = server.Upgrade(target);
                c.SendText("still serving");
                Assert.That(c.ReadText(), Is.EqualTo("still serving"));
            }
            TestContext.Out.WriteLine($"{Cycles} cycles in {cyclesMs} ms; {opens} event-API opens; fds {fdsBefore} -> {HostileSockets.OpenFds()}; threads {threadsBefore} -> {threadsAfter}");
        }
    }
}
