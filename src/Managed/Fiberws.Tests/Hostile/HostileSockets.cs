using System;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using Fiberws.Tests.Common;
using NUnit.Framework;

namespace Fiberws.Tests.Hostile
{
    /// <summary>Raw client sockets that misbehave on purpose, and process-level counters for leak checks.</summary>
    internal static class HostileSockets
    {
        /// <summary>A connected loopback socket; a small receive buffer makes a client that does not read stall the server sooner.</summary>
        public static Socket Connect(int port, int receiveBuffer = 0)
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
            {
                NoDelay = true,
                ReceiveTimeout = RawWebSocketClient.TimeoutMs,
                SendTimeout = RawWebSocketClient.TimeoutMs,
            };
            if (receiveBuffer > 0)
            {
                s.ReceiveBufferSize = receiveBuffer; // before connect, so the window is small from the start
            }
            s.Connect(new IPEndPoint(IPAddress.Loopback, port));
            return s;
        }

        /// <summary>Connects and upgrades, reading exactly the 101 response head (nothing after it).</summary>
        public static Socket Upgrade(int port, string target, int receiveBuffer = 0)
        {
            Socket s = Connect(port, receiveBuffer);
            s.Send(Encoding.ASCII.GetBytes(RawWebSocketClient.UpgradeRequest(target)));
            string head = ReadHead(s);
            Assert.That(head, Does.StartWith("HTTP/1.1 101"), head);
            return s;
        }

        /// <summary>Reads a response head byte by byte (so no frame after it is taken from the socket).</summary>
        public static string ReadHead(Socket s)
        {
            var head = new StringBuilder();
            var one = new byte[1];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                if (s.Receive(one) == 0)
                {
                    throw new EndOfStreamException("closed before the response head ended: " + head);
                }
                head.Append((char)one[0]);
            }
            return head.ToString();
        }

        /// <summary>Closes with RST instead of FIN (SO_LINGER on, timeout 0).</summary>
        public static void Reset(Socket s)
        {
            s.LingerState = new LingerOption(true, 0);
            s.Dispose();
        }

        /// <summary>
        /// True when the server ends the connection within the time: reads (and discards) whatever it still sends,
        /// such as queued data or a close frame, until EOF or a reset.
        /// </summary>
        public static bool ClosedByServerWithin(Socket s, int ms)
        {
            var sw = Stopwatch.StartNew();
            var scratch = new byte[64 * 1024];
            while (sw.ElapsedMilliseconds < ms)
            {
                s.ReceiveTimeout = (int)Math.Max(1, ms - sw.ElapsedMilliseconds);
                try
                {
                    if (s.Receive(scratch) == 0)
                    {
                        return true;
                    }
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
                {
                    return true;
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
                {
                    return false;
                }
            }
            return false;
        }

        /// <summary>Waits (bounded) for a condition that another thread makes true.</summary>
        public static bool Eventually(Func<bool> condition, int ms = TestServer.WaitMs)
        {
            var sw = Stopwatch.StartNew();
            while (!condition())
            {
                if (sw.ElapsedMilliseconds > ms)
                {
                    return false;
                }
                Thread.Sleep(10);
            }
            return true;
        }

        /// <summary>Open file descriptors of this process (Linux).</summary>
        public static int OpenFds() => Directory.GetFileSystemEntries("/proc/self/fd").Length;

        /// <summary>Threads of this process.</summary>
        public static int Threads()
        {
            using Process p = Process.GetCurrentProcess();
            return p.Threads.Count;
        }
    }
}
