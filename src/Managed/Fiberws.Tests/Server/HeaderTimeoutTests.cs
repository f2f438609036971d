using System;
using Fiberws.Server;
using Fiberws.Tests.Common;
using NUnit.Framework;

namespace Fiberws.Tests.Server
{
    /// <summary>A client that never finishes its request head is dropped after HeaderReadTimeout (slowloris guard).</summary>
    [TestFixture]
    public class HeaderTimeoutTests
    {
        [Test]
        public void IncompleteHead_IsDroppedAfterTheTimeout()
        {
            var options = new AppOptions { HeaderReadTimeout = TimeSpan.FromMilliseconds(500), CloseTimeout = TimeSpan.FromMilliseconds(200) };
            using TestServer server = TestServer.Start(app => app.WebSocket("/ws", TestServer.Echo), options);
            using RawWebSocketClient client = server.Connect();
            client.Send("GET /ws HTTP/1.1\r\nHost: a\r\n");
            var sw = System.Diagnostics.Stopwatch.StartNew();
            Assert.That(client.WaitForEof(5000), Is.True, "the connection was not dropped");
            Assert.That(sw.Elapsed, Is.GreaterThan(TimeSpan.FromMilliseconds(300)));
        }

        [Test]
        public void UpgradedConnection_IsNotSubjectToTheHeadTimeout()
        {
            var options = new AppOptions { HeaderReadTimeout = TimeSpan.FromMilliseconds(300) };
            using TestServer server = TestServer.Start(app => app.WebSocket("/ws", TestServer.Echo), options);
            using RawWebSocketClient client = server.Upgrade();
            Assert.That(client.IsSilentFor(1000), Is.True);
            client.SendText("still open");
            Assert.That(client.ReadText(), Is.EqualTo("still open"));
        }
    }
}
