using System;
using System.Threading;
using System.Threading.Tasks;
using Fiberws.Server;
using Fiberws.WebSockets;
using NUnit.Framework;

namespace Fiberws.Tests.Common
{
    /// <summary>An App started on 127.0.0.1 with an ephemeral port, shut down (bounded) on Dispose.</summary>
    internal sealed class TestServer : IDisposable
    {
        public const int WaitMs = 10000;

        private TestServer(App app, int port)
        {
            App = app;
            Port = port;
        }

        public App App { get; }

        public int Port { get; }

        public static TestServer Start(Action<App> configure, AppOptions? options = null)
        {
            var app = new App(options ?? new AppOptions { CloseTimeout = TimeSpan.FromMilliseconds(500) });
            configure(app);
            int port = app.Start("127.0.0.1:0");
            Assert.That(port, Is.GreaterThan(0));
            return new TestServer(app, port);
        }

        /// <summary>A server with one WebSocket route.</summary>
        public static TestServer WebSocket(string pattern, Action<Conn> handler, WebSocketConfig? config = null) =>
            Start(app => app.WebSocket(pattern, handler, config));

        public RawWebSocketClient Connect() => RawWebSocketClient.Connect(Port);

        public RawWebSocketClient Upgrade(string target = "/ws", string extraHeaders = "") => RawWebSocketClient.ConnectUpgraded(Port, target, extraHeaders);

        public void Dispose()
        {
            // Shutdown is bounded by its timeout plus the close timeout; guard it anyway.
            Task<bool> t = Task.Run(() => App.Shutdown(TimeSpan.FromSeconds(2)));
            Assert.That(t.Wait(WaitMs), Is.True, "App.Shutdown did not return");
        }

        /// <summary>An echo handler: returns every message as it came, until the read fails.</summary>
        public static void Echo(Conn conn)
        {
            while (true)
            {
                MessageType type;
                byte[] copy;
                try
                {
                    type = conn.ReadMessage(out ReadOnlySpan<byte> data);
                    copy = data.ToArray();
                }
                catch (FwsException)
                {
                    return;
                }
                conn.WriteMessage(type, copy);
            }
        }

        /// <summary>Waits (bounded) for a value a handler thread reports.</summary>
        public static T Await<T>(TaskCompletionSource<T> tcs, string what)
        {
            Assert.That(tcs.Task.Wait(WaitMs), Is.True, $"timed out waiting for {what}");
            return tcs.Task.Result;
        }
    }

    /// <summary>How a handler's read ended.</summary>
    internal sealed record ReadFailure(ResultCode Code, int ExceptionCloseCode, int CloseCodeReceived, string Message);

    internal static class ConnExtensions
    {
        /// <summary>Reads until a read fails; returns how. Messages read on the way are discarded.</summary>
        public static ReadFailure ReadUntilFailure(this Conn conn)
        {
            while (true)
            {
                try
                {
                    conn.ReadMessage(out _);
                }
                catch (FwsException e)
                {
                    return new ReadFailure(e.Code, e.CloseCode, conn.CloseCodeReceived, e.Message);
                }
            }
        }
    }
}
