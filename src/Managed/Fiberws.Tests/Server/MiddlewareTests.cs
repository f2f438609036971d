using System;
using System.Collections.Concurrent;
using System.Threading.Tasks;
using Fiberws.Server;
using Fiberws.Tests.Common;
using NUnit.Framework;

namespace Fiberws.Tests.Server
{
    /// <summary>Middleware and filters: registration order, prefixes, statuses, failures.</summary>
    [TestFixture]
    public class MiddlewareTests
    {
        private static int StatusOf(TestServer server, string request)
        {
            using RawWebSocketClient c = server.Connect();
            c.Send(request);
            return c.ReadHttpResponse().Status;
        }

        [Test]
        public void Middleware_RunInRegistrationOrder_OnlyUnderTheirPrefix()
        {
            var trail = new ConcurrentQueue<string>();
            using TestServer server = TestServer.Start(app =>
            {
                app.Use("/", ctx => { trail.Enqueue("root"); return App.Next; });
                app.Use("/api", ctx => { trail.Enqueue("api"); return App.Next; });
                app.Use("/ws", ctx => { trail.Enqueue("ws"); return 418; });
            });
            Assert.That(StatusOf(server, "GET /ws/x HTTP/1.1\r\nHost: a\r\n\r\n"), Is.EqualTo(418));
            Assert.That(trail, Is.EqualTo(new[] { "root", "ws" }));
            Assert.That(StatusOf(server, "GET /wsx HTTP/1.1\r\nHost: a\r\n\r\n"), Is.EqualTo(404));
        }

        [Test]
        public void ThrowingMiddleware_Is500()
        {
            using TestServer server = TestServer.Start(app => app.Use("/", ctx => throw new InvalidOperationException("mw")));
            Assert.That(StatusOf(server, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), Is.EqualTo(500));
        }

        [TestCase(42)]
        [TestCase(600)]
        [TestCase(-1)]
        public void OutOfRangeStatus_Is500(int status)
        {
            using TestServer server = TestServer.Start(app => app.Use("/", ctx => status));
            Assert.That(StatusOf(server, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), Is.EqualTo(500));
        }

        [Test]
        public void FilterReturningFalse_PassesToTheNextRoute()
        {
            var served = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = TestServer.Start(app =>
            {
                app.WebSocket("/ws", c => served.TrySetResult("filtered"), new WebSocketConfig { Filter = ctx => ctx.Query("pick") == "first" });
                app.WebSocket("/ws", c => served.TrySetResult("second"));
            });
            using RawWebSocketClient client = server.Upgrade("/ws?pick=other");
            Assert.That(TestServer.Await(served, "a handler"), Is.EqualTo("second"));
        }

        [Test]
        public void FilterReturningFalse_WithNoOtherRoute_Is404()
        {
            using TestServer server = TestServer.Start(app => app.WebSocket("/ws", c => { }, new WebSocketConfig { Filter = ctx => false }));
            Assert.That(StatusOf(server, RawWebSocketClient.UpgradeRequest("/ws")), Is.EqualTo(404));
        }

        [Test]
        public void ConfigurationAfterStart_IsRefused()
        {
            using TestServer server = TestServer.Start(app => app.WebSocket("/ws", c => { }));
            Assert.Throws<InvalidOperationException>(() => server.App.Use("/", ctx => App.Next));
            Assert.Throws<InvalidOperationException>(() => server.App.WebSocket("/x", c => { }));
            Assert.Throws<InvalidOperationException>(() => server.App.Start("127.0.0.1:0"));
        }

        [Test]
        public void StartOnAPortInUse_FailsWithErrIo()
        {
            using TestServer server = TestServer.Start(app => { });
            using var second = new App();
            var e = Assert.Throws<FwsException>(() => second.Start("127.0.0.1:" + server.Port));
            Assert.That(e!.Code, Is.EqualTo(ResultCode.ErrIo));
        }
    }
}
