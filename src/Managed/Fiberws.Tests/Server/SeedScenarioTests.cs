using System.Text;
using System.Threading.Tasks;
using Fiberws.Server;
using Fiberws.Tests.Common;
using NUnit.Framework;

namespace Fiberws.Tests.Server
{
    /// <summary>The Fiber README example: a middleware marks upgrades, the handler sees Locals, Params, Query, Cookies, and echoes.</summary>
    [TestFixture]
    public class SeedScenarioTests
    {
        private sealed record Seen(bool HasAllowed, object? Allowed, string? Id, string? V, string? Session, string? Missing);

        private static TestServer StartSeedApp(TaskCompletionSource<Seen> seen) => TestServer.Start(app =>
        {
            app.Use("/ws", ctx =>
            {
                if (ctx.IsWebSocketUpgrade)
                {
                    ctx.SetLocal("allowed", true);
                    return App.Next;
                }
                return 426;
            });
            app.WebSocket("/ws/:id", conn =>
            {
                bool has = conn.TryGetLocal("allowed", out object? allowed);
                seen.TrySetResult(new Seen(has, allowed, conn.Params("id"), conn.Query("v"), conn.Cookies("session"), conn.Params("missing")));
                TestServer.Echo(conn);
            });
        });

        [Test]
        public void Handler_SeesLocalsParamsQueryAndCookies_ThenEchoes()
        {
            var seen = new TaskCompletionSource<Seen>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = StartSeedApp(seen);
            using RawWebSocketClient client = server.Upgrade("/ws/123?v=1.0");

            Seen s = TestServer.Await(seen, "the handler");
            Assert.That(s.HasAllowed, Is.True);
            Assert.That(s.Allowed, Is.EqualTo(true));
            Assert.That(s.Id, Is.EqualTo("123"));
            Assert.That(s.V, Is.EqualTo("1.0"));
            Assert.That(s.Session, Is.Null);
            Assert.That(s.Missing, Is.Null);

            client.SendText("hello");
            Assert.That(client.ReadText(), Is.EqualTo("hello"));
            client.SendText("κόσμε 🙂");
            Assert.That(client.ReadText(), Is.EqualTo("κόσμε 🙂"));
            byte[] bin = ClientFrames.Pattern(1000);
            client.SendBinary(bin);
            var (op, payload) = client.ReadMessage();
            Assert.That(op, Is.EqualTo(2));
            Assert.That(payload, Is.EqualTo(bin));

            client.SendClose(1000);
            Assert.That(client.ReadClose().CloseCode, Is.EqualTo(1000));
            Assert.That(client.WaitForEof(), Is.True);
        }

        [Test]
        public void Handler_SeesACookieWhenSent()
        {
            var seen = new TaskCompletionSource<Seen>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = StartSeedApp(seen);
            using RawWebSocketClient client = server.Upgrade("/ws/abc", "Cookie: theme=dark; session=s3cr3t\r\n");
            Seen s = TestServer.Await(seen, "the handler");
            Assert.That(s.Session, Is.EqualTo("s3cr3t"));
            Assert.That(s.Id, Is.EqualTo("abc"));
            Assert.That(s.V, Is.Null);
        }

        [Test]
        public void NonUpgradeRequest_GetsTheMiddlewares426()
        {
            var seen = new TaskCompletionSource<Seen>();
            using TestServer server = StartSeedApp(seen);
            using RawWebSocketClient client = server.Connect();
            client.Send("GET /ws/123?v=1.0 HTTP/1.1\r\nHost: a\r\n\r\n");
            RawHttpResponse r = client.ReadHttpResponse();
            Assert.That(r.Status, Is.EqualTo(426));
            Assert.That(seen.Task.IsCompleted, Is.False, "the handler must not run");
        }
    }
}
