using System;
using System.Threading;
using Fiberws.Server;
using Fiberws.Tests.Common;
using Fiberws.WebSockets;
using NUnit.Framework;

namespace Fiberws.Tests.Server
{
    /// <summary>
    /// The steady path allocates no managed memory per message: the event loop thread across thousands of echoes,
    /// and a blocking handler's read/write loop. Measured with the runtime's per-thread allocation counters.
    /// </summary>
    public class AllocationTests
    {
        private const int Messages = 5000;

        [Test]
        public void EventApiEcho_AllocatesNothingPerMessage()
        {
            var events = new WebSocketEvents
            {
                OnMessage = (conn, type, data) => conn.WriteMessage(type, data),
            };
            using TestServer server = TestServer.Start(app => app.WebSocketEvents("/ev", events));
            using RawWebSocketClient client = server.Upgrade("/ev");
            byte[] payload = new byte[64];
            // Warm up: first messages allocate buffers and JIT code paths.
            for (int i = 0; i < 200; i++)
            {
                client.SendBinary(payload);
                client.ReadMessage();
            }
            Thread.Sleep(50);
            long before = server.App.LoopAllocatedBytes;
            for (int i = 0; i < Messages; i++)
            {
                client.SendBinary(payload);
                client.ReadMessage();
            }
            Thread.Sleep(50);
            long perMessage = (server.App.LoopAllocatedBytes - before) / Messages;
            Assert.That(before, Is.GreaterThan(0), "the loop's counter is being updated");
            Assert.That(perMessage, Is.EqualTo(0), $"loop thread allocated {server.App.LoopAllocatedBytes - before} bytes over {Messages} messages");
        }

        [Test]
        public void BlockingEcho_AllocatesNothingPerMessage()
        {
            long measured = -1;
            var done = new ManualResetEventSlim();
            using TestServer server = TestServer.WebSocket("/ws", conn =>
            {
                for (int i = 0; i < 200; i++)
                {
                    MessageType t = conn.ReadMessage(out ReadOnlySpan<byte> d);
                    conn.WriteMessage(t, d);
                }
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < Messages; i++)
                {
                    MessageType t = conn.ReadMessage(out ReadOnlySpan<byte> d);
                    conn.WriteMessage(t, d);
                }
                measured = GC.GetAllocatedBytesForCurrentThread() - before;
                done.Set();
            });
            using RawWebSocketClient client = server.Upgrade("/ws");
            byte[] payload = new byte[64];
            for (int i = 0; i < 200 + Messages; i++)
            {
                client.SendBinary(payload);
                client.ReadMessage();
            }
            Assert.That(done.Wait(10000), Is.True, "handler finished its loop");
            Assert.That(measured, Is.EqualTo(0), $"handler thread allocated {measured} bytes over {Messages} messages");
        }
    }
}
