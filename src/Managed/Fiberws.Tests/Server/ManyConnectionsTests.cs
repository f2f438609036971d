using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using Fiberws.Tests.Common;
using NUnit.Framework;

namespace Fiberws.Tests.Server
{
    /// <summary>Several connections at once are served independently.</summary>
    [TestFixture]
    public class ManyConnectionsTests
    {
        [Test]
        public void FiftyClients_EchoConcurrently()
        {
            using TestServer server = TestServer.WebSocket("/ws/:id", TestServer.Echo);
            var clients = new List<RawWebSocketClient>();
            try
            {
                for (int i = 0; i < 50; i++)
                {
                    clients.Add(server.Upgrade("/ws/" + i));
                }
                Task[] tasks = new Task[clients.Count];
                for (int i = 0; i < clients.Count; i++)
                {
                    RawWebSocketClient c = clients[i];
                    int id = i;
                    tasks[i] = Task.Run(() =>
                    {
                        for (int m = 0; m < 20; m++)
                        {
                            string text = $"client {id} message {m}";
                            c.SendText(text);
                            if (c.ReadText() != text)
                            {
                                throw new InvalidOperationException($"client {id} got a wrong echo");
                            }
                        }
                    });
                }
                Assert.That(Task.WaitAll(tasks, TestServer.WaitMs), Is.True, "echo round trips did not finish");
                Assert.That(server.App.ConnectionCount, Is.EqualTo(50));
            }
            finally
            {
                foreach (RawWebSocketClient c in clients)
                {
                    c.Dispose();
                }
            }
            Assert.That(() => server.App.ConnectionCount, Is.Zero.After(5000, 50), "handlers end when their clients go");
        }
    }
}
