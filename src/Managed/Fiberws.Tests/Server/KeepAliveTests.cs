using Fiberws.Server;
using Fiberws.Tests.Common;
using NUnit.Framework;

namespace Fiberws.Tests.Server
{
    /// <summary>Plain HTTP answers keep the connection open for the next request (HTTP/1.1 persistence, pipelining).</summary>
    [TestFixture]
    public class KeepAliveTests
    {
        private static TestServer StartApp() => TestServer.Start(app =>
        {
            app.Use("/ws", ctx => ctx.IsWebSocketUpgrade ? App.Next : 426);
            app.WebSocket("/ws/:id", TestServer.Echo);
        });

        [Test]
        public void TwoRequestsOnOneConnection_AreBothAnswered()
        {
            using TestServer server = StartApp();
            using RawWebSocketClient client = server.Connect();
            client.Send("GET /ws/1 HTTP/1.1\r\nHost: a\r\n\r\n");
            Assert.That(client.ReadHttpResponse().Status, Is.EqualTo(426));
            client.Send("GET /other HTTP/1.1\r\nHost: a\r\n\r\n");
            RawHttpResponse second = client.ReadHttpResponse();
            Assert.That(second.Status, Is.EqualTo(404));
            Assert.That(second.Header("Connection"), Is.Null, "still keep-alive");
        }

        [Test]
        public void PipelinedRequests_AreAnsweredInOrder()
        {
            using TestServer server = StartApp();
            using RawWebSocketClient client = server.Connect();
            client.Send("GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /ws/1 HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n");
            Assert.That(client.ReadHttpResponse().Body, Does.Contain("/a"));
            Assert.That(client.ReadHttpResponse().Status, Is.EqualTo(426));
            Assert.That(client.ReadHttpResponse().Body, Does.Contain("/b"));
        }

        [Test]
        public void RequestBody_IsSkipped_BeforeTheNextRequest()
        {
            using TestServer server = StartApp();
            using RawWebSocketClient client = server.Connect();
            client.Send("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nGET /fake\r\n");
            Assert.That(client.ReadHttpResponse().Status, Is.EqualTo(404));
            client.Send("GET /y HTTP/1.1\r\nHost: a\r\n\r\n");
            RawHttpResponse r = client.ReadHttpResponse();
            Assert.That(r.Status, Is.EqualTo(404));
            Assert.That(r.Body, Does.Contain("/y"));
        }

        [Test]
        public void LargeRequestBody_IsSkippedAcrossReads()
        {
            using TestServer server = StartApp();
            using RawWebSocketClient client = server.Connect();
            client.Send("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n");
            Assert.That(client.ReadHttpResponse().Status, Is.EqualTo(404));
            client.Send(new byte[100000]);
            client.Send("GET /after-body HTTP/1.1\r\nHost: a\r\n\r\n");
            RawHttpResponse r = client.ReadHttpResponse();
            Assert.That(r.Body, Does.Contain("/after-body"));
        }

        [Test]
        public void HandshakeArrivingInPieces_IsAssembled()
        {
            using TestServer server = StartApp();
            using RawWebSocketClient client = server.Connect();
            byte[] request = System.Text.Encoding.ASCII.GetBytes(RawWebSocketClient.UpgradeRequest("/ws/5"));
            foreach (int cut in new[] { 3, 20, 40, 41, 100 })
            {
                Assert.That(cut, Is.LessThan(request.Length));
            }
            int at = 0;
            foreach (int cut in new[] { 3, 20, 40, 41, 100, request.Length })
            {
                client.Send(request[at..cut]);
                at = cut;
                System.Threading.Thread.Sleep(20);
            }
            Assert.That(client.ReadHttpResponse(expectBody: false).Status, Is.EqualTo(101));
            client.SendText("assembled");
            Assert.That(client.ReadText(), Is.EqualTo("assembled"));
        }

        [Test]
        public void UpgradeAfterAPlainRequest_OnTheSameConnection_Works()
        {
            using TestServer server = StartApp();
            using RawWebSocketClient client = server.Connect();
            client.Send("GET /nope HTTP/1.1\r\nHost: a\r\n\r\n");
            Assert.That(client.ReadHttpResponse().Status, Is.EqualTo(404));
            client.Send(RawWebSocketClient.UpgradeRequest("/ws/9"));
            Assert.That(client.ReadHttpResponse(expectBody: false).Status, Is.EqualTo(101));
            client.SendText("after keep-alive");
            Assert.That(client.ReadText(), Is.EqualTo("after keep-alive"));
        }

        [Test]
        public void ConnectionClose_EndsTheConnectionAfterTheAnswer()
        {
            using TestServer server = StartApp();
            using RawWebSocketClient client = server.Connect();
            client.Send("GET /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
            RawHttpResponse r = client.ReadHttpResponse();
            Assert.That(r.Status, Is.EqualTo(404));
            Assert.That(r.Header("Connection"), Is.EqualTo("close"));
            Assert.That(client.WaitForEof(), Is.True);
        }
    }
}
