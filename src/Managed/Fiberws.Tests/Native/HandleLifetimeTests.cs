using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using Fiberws.Native;
using Fiberws.Tests.Common;
using NUnit.Framework;

namespace Fiberws.Tests.Native
{
    /// <summary>
    /// Through the C exports (called via function pointers, as C would): an app used by blocking and event-API
    /// connections, some closed cleanly and some dropped, then shut down and freed, leaves no live handle behind in
    /// any handle table (fws_app, fws_conn, fws_ctx).
    /// </summary>
    [NonParallelizable]
    public unsafe class HandleLifetimeTests
    {
        [UnmanagedCallersOnly]
        private static int Echo(void* user, FwsConn* conn)
        {
            delegate* unmanaged<FwsConn*, int*, byte**, nuint*, int> read = &ExportsConn.ConnReadMessage;
            delegate* unmanaged<FwsConn*, int, byte*, nuint, int> write = &ExportsConn.ConnWriteMessage;
            int type;
            byte* data;
            nuint len;
            while (read(conn, &type, &data, &len) == 0)
            {
                if (write(conn, type, data, len) != 0)
                {
                    break;
                }
            }
            return 0;
        }

        [UnmanagedCallersOnly]
        private static int OnMessage(void* user, FwsConn* conn, int type, byte* data, nuint len)
        {
            delegate* unmanaged<FwsConn*, int, byte*, nuint, nuint*, int> send = &ExportsEvents.ConnSend;
            return send(conn, type, data, len, null) == 0 ? 0 : 1;
        }

        [UnmanagedCallersOnly]
        private static int Filter(void* user, FwsCtx* ctx) => 1;

        [Test]
        public void AppShutdownAndFreeLeaveNoLiveHandles()
        {
            int apps0 = Handles.Apps.Count, conns0 = Handles.Conns.Count, ctxs0 = Handles.Ctxs.Count;
            delegate* unmanaged<FwsAppConfig*, FwsApp**, int> appNew = &ExportsApp.AppNew;
            delegate* unmanaged<FwsApp*, byte*, delegate* unmanaged<void*, FwsConn*, int>, FwsWsConfig*, void*, int> websocket = &ExportsApp.AppWebSocket;
            delegate* unmanaged<FwsApp*, byte*, FwsWsEvents*, FwsWsConfig*, void*, int> websocketEvents = &ExportsEvents.AppWebSocketEvents;
            delegate* unmanaged<FwsApp*, byte*, int*, int> start = &ExportsApp.AppStart;
            delegate* unmanaged<FwsApp*, int, int> shutdown = &ExportsApp.AppShutdown;
            delegate* unmanaged<FwsApp*, int> free = &ExportsApp.AppFree;
            FwsApp* app;
            Assert.That(appNew(null, &app), Is.EqualTo(0));
            FwsWsConfig config = Abi.DefaultWsConfig();
            config.Filter = &Filter; // a filter makes a fws_ctx handle per request
            fixed (byte* blocking = "/echo\0"u8, events = "/events\0"u8, addr = "127.0.0.1:0\0"u8)
            {
                Assert.That(websocket(app, blocking, &Echo, &config, null), Is.EqualTo(0));
                FwsWsEvents ev = default;
                ev.StructSize = (uint)sizeof(FwsWsEvents);
                ev.OnMessage = &OnMessage;
                Assert.That(websocketEvents(app, events, &ev, &config, null), Is.EqualTo(0));
                int port;
                Assert.That(start(app, addr, &port), Is.EqualTo(0));
                Assert.That(Handles.Apps.Count, Is.EqualTo(apps0 + 1));
                var open = new System.Collections.Generic.List<RawWebSocketClient>();
                for (int i = 0; i < 40; i++)
                {
                    var c = RawWebSocketClient.ConnectUpgraded(port, i % 2 == 0 ? "/echo" : "/events");
                    c.SendText("hello " + i);
                    Assert.That(c.ReadText(), Is.EqualTo("hello " + i));
                    if (i % 4 == 0)
                    {
                        c.SendClose(1000);
                        c.ReadClose();
                        c.Dispose();
                    }
                    else if (i % 4 == 1)
                    {
                        c.Dispose(); // vanishes without a close frame
                    }
                    else
                    {
                        open.Add(c); // still open at shutdown
                    }
                }
                Assert.That(shutdown(app, 3000), Is.EqualTo(0));
                foreach (RawWebSocketClient c in open)
                {
                    c.Dispose();
                }
            }
            Assert.That(free(app), Is.EqualTo(0));
            // Connections end on their own threads: allow them a moment to hand their handles back.
            for (int i = 0; i < 200 && (Handles.Conns.Count != conns0 || Handles.Ctxs.Count != ctxs0); i++)
            {
                Thread.Sleep(10);
            }
            Assert.Multiple(() =>
            {
                Assert.That(Handles.Apps.Count, Is.EqualTo(apps0), "fws_app handles");
                Assert.That(Handles.Conns.Count, Is.EqualTo(conns0), "fws_conn handles");
                Assert.That(Handles.Ctxs.Count, Is.EqualTo(ctxs0), "fws_ctx handles");
            });
        }
    }
}
