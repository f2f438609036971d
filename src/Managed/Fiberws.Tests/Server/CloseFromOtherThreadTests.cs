using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;
using Fiberws.Tests.Common;
using NUnit.Framework;

namespace Fiberws.Tests.Server
{
    /// <summary>Close() from another thread sends the close frame and wakes a ReadMessage blocked on the handler thread.</summary>
    [TestFixture]
    public class CloseFromOtherThreadTests
    {
        [Test]
        public void Close_WakesABlockedRead_WithoutThePeerAnswering()
        {
            var failure = new TaskCompletionSource<(ReadFailure Failure, TimeSpan Blocked)>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = TestServer.WebSocket("/ws", conn =>
            {
                var closer = new Thread(() =>
                {
                    Thread.Sleep(300);
                    conn.Close(4000, "bye");
                });
                closer.Start();
                var sw = Stopwatch.StartNew();
                ReadFailure f = conn.ReadUntilFailure();
                sw.Stop();
                closer.Join();
                failure.TrySetResult((f, sw.Elapsed));
            });
            using RawWebSocketClient client = server.Upgrade();
            ServerFrame close = client.ReadClose();
            Assert.That((close.CloseCode, close.CloseReason), Is.EqualTo((4000, "bye")));

            // The client stays silent: only Close() can end the read.
            var (f, blocked) = TestServer.Await(failure, "the blocked read to wake");
            Assert.That(f.Code, Is.EqualTo(ResultCode.ErrClosed), f.Message);
            Assert.That(blocked, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(250)), "the read was really blocked");
            Assert.That(blocked, Is.LessThan(TimeSpan.FromSeconds(5)));
        }

        [Test]
        public void WriteFromAnotherThread_WhileTheHandlerReads()
        {
            using TestServer server = TestServer.WebSocket("/ws", conn =>
            {
                var writer = new Thread(() => conn.WriteMessage(MessageType.TextMessage, ClientFrames.Utf8("from another thread")));
                writer.Start();
                conn.ReadUntilFailure();
                writer.Join();
            });
            using RawWebSocketClient client = server.Upgrade();
            Assert.That(client.ReadText(), Is.EqualTo("from another thread"));
            client.SendClose(1000);
            Assert.That(client.ReadClose().CloseCode, Is.EqualTo(1000));
        }
    }
}
