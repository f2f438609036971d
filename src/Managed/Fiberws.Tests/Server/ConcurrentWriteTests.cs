using System;
using System.Collections.Concurrent;
using System.Text;
using System.Threading;
using Fiberws.Tests.Common;
using NUnit.Framework;

namespace Fiberws.Tests.Server
{
    /// <summary>Writes from several threads are serialised: every frame is well-formed and every message intact.</summary>
    [TestFixture]
    public class ConcurrentWriteTests
    {
        private const int Threads = 4;
        private const int PerThread = 200;
        private static readonly int[] s_sizes = { 0, 100, 3000, 20000, 70000 };

        private static string Message(int thread, int i)
        {
            var sb = new StringBuilder($"t{thread}:{i}:");
            int size = s_sizes[i % s_sizes.Length];
            char fill = (char)('a' + (thread * 7 + i) % 26);
            sb.Append(fill, size);
            return sb.ToString();
        }

        [Test]
        public void FourWriterThreads_ProduceIntactMessages()
        {
            var errors = new ConcurrentQueue<Exception>();
            using TestServer server = TestServer.WebSocket("/ws", conn =>
            {
                var threads = new Thread[Threads];
                using var go = new ManualResetEventSlim(false);
                for (int t = 0; t < Threads; t++)
                {
                    int id = t;
                    threads[t] = new Thread(() =>
                    {
                        go.Wait();
                        try
                        {
                            for (int i = 0; i < PerThread; i++)
                            {
                                MessageType type = i % 2 == 0 ? MessageType.TextMessage : MessageType.BinaryMessage;
                                conn.WriteMessage(type, Encoding.UTF8.GetBytes(Message(id, i)));
                            }
                        }
                        catch (Exception e)
                        {
                            errors.Enqueue(e);
                        }
                    });
                    threads[t].Start();
                }
                go.Set();
                foreach (Thread th in threads)
                {
                    th.Join();
                }
            });
            using RawWebSocketClient client = server.Upgrade();

            var next = new int[Threads];
            for (int n = 0; n < Threads * PerThread; n++)
            {
                var (opcode, payload) = client.ReadMessage();
                string text = Encoding.UTF8.GetString(payload);
                string[] parts = text.Split(':', 3);
                Assert.That(parts.Length, Is.EqualTo(3), $"message {n} is garbled");
                int t = int.Parse(parts[0].Substring(1), System.Globalization.CultureInfo.InvariantCulture);
                int i = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
                Assert.That(i, Is.EqualTo(next[t]), $"thread {t}'s messages arrive in its order");
                next[t]++;
                Assert.That(text, Is.EqualTo(Message(t, i)), $"message {i} of thread {t} is intact");
                Assert.That(opcode, Is.EqualTo(i % 2 == 0 ? 1 : 2));
            }
            Assert.That(client.ReadClose().CloseCode, Is.EqualTo(1000));
            Assert.That(errors, Is.Empty);
        }
    }
}
