using System.Threading;
using Fiberws.Server;
using Fiberws.Tests.Common;
using NUnit.Framework;

namespace Fiberws.Tests.Server
{
    /// <summary>Requests the server answers with a plain HTTP status instead of upgrading.</summary>
    [TestFixture]
    public class HttpRefusalTests
    {
        private int _handlerRuns;

        private TestServer StartApp(WebSocketConfig? config = null) => TestServer.Start(app =>
        {
            app.WebSocket("/ws/:id", conn => Interlocked.Increment(ref _handlerRuns), config);
        });

        private static RawHttpResponse Exchange(TestServer server, string request, out RawWebSocketClient client)
        {
            client = server.Connect();
            client.Send(request);
            return client.ReadHttpResponse();
        }

        [SetUp]
        public void Reset() => _handlerRuns = 0;

        [Test]
        public void UnknownPath_Is404()
        {
            using TestServer server = StartApp();
            RawHttpResponse r = Exchange(server, RawWebSocketClient.UpgradeRequest("/nope"), out RawWebSocketClient client);
            using (client)
            {
                Assert.That(r.Status, Is.EqualTo(404));
                Assert.That(r.Body, Does.Contain("/nope"));
                Assert.That(r.Header("Content-Length"), Is.EqualTo(System.Text.Encoding.UTF8.GetByteCount(r.Body).ToString()));
            }
        }

        [Test]
        public void PostOnWebSocketRoute_Is405_WithAllowGet()
        {
            using TestServer server = StartApp();
            RawHttpResponse r = Exchange(server, "POST /ws/1 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", out RawWebSocketClient client);
            using (client)
            {
                Assert.That(r.Status, Is.EqualTo(405));
                Assert.That(r.Header("Allow"), Is.EqualTo("GET"));
            }
            Assert.That(_handlerRuns, Is.Zero);
        }

        [Test]
        public void BadKey_Is400_AndTheConnectionCloses()
        {
            using TestServer server = StartApp();
            RawHttpResponse r = Exchange(server, RawWebSocketClient.UpgradeRequest("/ws/1", key: "not-a-valid-key"), out RawWebSocketClient client);
            using (client)
            {
                Assert.That(r.Status, Is.EqualTo(400));
                Assert.That(r.Header("Connection"), Is.EqualTo("close"));
                Assert.That(client.WaitForEof(), Is.True);
            }
            Assert.That(_handlerRuns, Is.Zero);
        }

        [Test]
        public void PlainGetOnWebSocketRoute_Is426()
        {
            using TestServer server = StartApp();
            RawHttpResponse r = Exchange(server, "GET /ws/1 HTTP/1.1\r\nHost: a\r\n\r\n", out RawWebSocketClient client);
            using (client)
            {
                Assert.That(r.Status, Is.EqualTo(426));
                Assert.That(r.Header("Upgrade"), Is.EqualTo("websocket"));
            }
        }

        [Test]
        public void WrongVersion_Is426_WithSupportedVersion()
        {
            using TestServer server = StartApp();
            string req = RawWebSocketClient.UpgradeRequest("/ws/1").Replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 12");
            RawHttpResponse r = Exchange(server, req, out RawWebSocketClient client);
            using (client)
            {
                Assert.That(r.Status, Is.EqualTo(426));
                Assert.That(r.Header("Sec-WebSocket-Version"), Is.EqualTo("13"));
            }
        }

        [Test]
        public void ForeignOrigin_Is403()
        {
            using TestServer server = StartApp(new WebSocketConfig { Origins = new[] { "https://app.example" } });
            RawHttpResponse r = Exchange(server, RawWebSocketClient.UpgradeRequest("/ws/1", "Origin: https://evil.example\r\n"), out RawWebSocketClient client);
            using (client)
            {
                Assert.That(r.Status, Is.EqualTo(403));
            }
            Assert.That(_handlerRuns, Is.Zero);
        }

        [Test]
        public void MalformedRequest_Is400_AndTheConnectionCloses()
        {
            using TestServer server = StartApp();
            RawHttpResponse r = Exchange(server, "GET /ws/1 HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n", out RawWebSocketClient client);
            using (client)
            {
                Assert.That(r.Status, Is.EqualTo(400));
                Assert.That(client.WaitForEof(), Is.True);
            }
        }

        [Test]
        public void OversizedHead_Is431()
        {
            using TestServer server = TestServer.Start(app => app.WebSocket("/ws", c => { }), new AppOptions { MaxHeaderBytes = 1024 });
            RawHttpResponse r = Exchange(server, "GET /ws HTTP/1.1\r\nHost: a\r\nX-Big: " + new string('x', 2000) + "\r\n\r\n", out RawWebSocketClient client);
            using (client)
            {
                Assert.That(r.Status, Is.EqualTo(431));
            }
        }

        [Test]
        public void SubprotocolChosenByServer_IsInThe101()
        {
            using TestServer server = StartApp(new WebSocketConfig { Subprotocols = new[] { "v2", "v1" } });
            using RawWebSocketClient client = server.Connect();
            client.Send(RawWebSocketClient.UpgradeRequest("/ws/1", "Sec-WebSocket-Protocol: v1, v2\r\n"));
            RawHttpResponse r = client.ReadHttpResponse(expectBody: false);
            Assert.That(r.Status, Is.EqualTo(101));
            Assert.That(r.Header("Sec-WebSocket-Protocol"), Is.EqualTo("v2"));
        }
    }
}
