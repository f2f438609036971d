using System.Threading;
using System.Threading.Tasks;
using Fiberws.Tests.Common;
using NUnit.Framework;

namespace Fiberws.Tests.Server
{
    /// <summary>One reader at a time: a second concurrent read fails with ErrBusy and leaves the first undisturbed.</summary>
    [TestFixture]
    public class ConcurrentReadTests
    {
        [Test]
        public void SecondConcurrentRead_FailsWithErrBusy()
        {
            var second = new TaskCompletionSource<ResultCode>(TaskCreationOptions.RunContinuationsAsynchronously);
            var firstGot = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = TestServer.WebSocket("/ws", conn =>
            {
                var reader = new Thread(() =>
                {
                    try
                    {
                        conn.ReadMessage(out System.ReadOnlySpan<byte> data);
                        firstGot.TrySetResult(System.Text.Encoding.UTF8.GetString(data));
                    }
                    catch (FwsException e)
                    {
                        firstGot.TrySetResult("failed: " + e.Code);
                    }
                });
                reader.Start();
                Thread.Sleep(300); // let it block in its read
                try
                {
                    conn.ReadMessage(out _);
                    second.TrySetResult(ResultCode.Ok);
                }
                catch (FwsException e)
                {
                    second.TrySetResult(e.Code);
                }
                reader.Join();
            });
            using RawWebSocketClient client = server.Upgrade();
            Assert.That(TestServer.Await(second, "the second read"), Is.EqualTo(ResultCode.ErrBusy));
            client.SendText("for the first reader");
            Assert.That(TestServer.Await(firstGot, "the first read"), Is.EqualTo("for the first reader"));
            Assert.That(client.ReadClose().CloseCode, Is.EqualTo(1000));
        }
    }
}
