using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using NUnit.Framework;

namespace Fiberws.Tests.Common
{
    /// <summary>A frame as the server sent it.</summary>
    internal sealed record ServerFrame(bool Fin, int Opcode, byte[] Payload)
    {
        public int CloseCode => Payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(Payload) : 1005;

        public string CloseReason => Payload.Length > 2 ? Encoding.UTF8.GetString(Payload, 2, Payload.Length - 2) : string.Empty;

        public string Text => Encoding.UTF8.GetString(Payload);
    }

    /// <summary>A plain HTTP response as the server sent it.</summary>
    internal sealed record RawHttpResponse(int Status, string Head, Dictionary<string, string> Headers, string Body)
    {
        public string? Header(string name) => Headers.TryGetValue(name.ToLowerInvariant(), out string? v) ? v : null;
    }

    /// <summary>
    /// A minimal WebSocket client over a raw socket, written for the tests (no ClientWebSocket): it sends handshake
    /// text and masked frames, and decodes server frames, checking that they are unmasked and use no reserved bits.
    /// Every socket operation has a timeout, so a silent server fails the test instead of hanging it.
    /// </summary>
    internal sealed class RawWebSocketClient : IDisposable
    {
        public const int TimeoutMs = 10000;
        public const string SampleKey = "dGhlIHNhbXBsZSBub25jZQ==";

        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _start;
        private int _end;

        private RawWebSocketClient(Socket socket)
        {
            Socket = socket;
        }

        public Socket Socket { get; }

        public static RawWebSocketClient Connect(int port)
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
            {
                NoDelay = true,
                ReceiveTimeout = TimeoutMs,
                SendTimeout = TimeoutMs,
            };
            IAsyncResult ar = s.BeginConnect(new IPEndPoint(IPAddress.Loopback, port), null, null);
            if (!ar.AsyncWaitHandle.WaitOne(TimeoutMs))
            {
                s.Dispose();
                throw new TimeoutException("connect timed out");
            }
            s.EndConnect(ar);
            return new RawWebSocketClient(s);
        }

        /// <summary>Connects and completes an upgrade; asserts a valid 101.</summary>
        public static RawWebSocketClient ConnectUpgraded(int port, string target, string extraHeaders = "", byte[]? sameSendBytes = null)
        {
            RawWebSocketClient c = Connect(port);
            try
            {
                c.Send(sameSendBytes == null ? Encoding.ASCII.GetBytes(UpgradeRequest(target, extraHeaders))
                    : ClientFrames.Concat(Encoding.ASCII.GetBytes(UpgradeRequest(target, extraHeaders)), sameSendBytes));
                RawHttpResponse r = c.ReadHttpResponse(expectBody: false);
                Assert.That(r.Status, Is.EqualTo(101), r.Head + r.Body);
                Assert.That(r.Header("Sec-WebSocket-Accept"), Is.EqualTo(ExpectedAccept(SampleKey)));
                Assert.That(r.Header("Upgrade")?.ToLowerInvariant(), Is.EqualTo("websocket"));
                Assert.That(r.Header("Connection")?.ToLowerInvariant(), Is.EqualTo("upgrade"));
                return c;
            }
            catch
            {
                c.Dispose();
                throw;
            }
        }

        public static string UpgradeRequest(string target, string extraHeaders = "", string key = SampleKey) =>
            $"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extraHeaders}\r\n";

        public static string ExpectedAccept(string key) =>
            Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));

        public void Send(byte[] data)
        {
            int sent = 0;
            while (sent < data.Length)
            {
                sent += Socket.Send(data, sent, data.Length - sent, SocketFlags.None);
            }
        }

        public void Send(string ascii) => Send(Encoding.ASCII.GetBytes(ascii));

        public void SendText(string text) => Send(ClientFrames.TextFrame(text));

        public void SendBinary(byte[] data) => Send(ClientFrames.BinaryFrame(data));

        public void SendClose(int code, string reason = "") => Send(ClientFrames.CloseWith(code, reason));

        /// <summary>Fills the buffer with at least one more byte; false at EOF.</summary>
        private bool Fill()
        {
            if (_start == _end)
            {
                _start = _end = 0;
            }
            else if (_end == _buffer.Length)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            int n = Socket.Receive(_buffer, _end, _buffer.Length - _end, SocketFlags.None);
            if (n == 0)
            {
                return false;
            }
            _end += n;
            return true;
        }

        public void ReadExact(Span<byte> dst)
        {
            int have = Math.Min(dst.Length, _end - _start);
            _buffer.AsSpan(_start, have).CopyTo(dst);
            _start += have;
            int got = have;
            while (got < dst.Length)
            {
                int n = Socket.Receive(dst.Slice(got), SocketFlags.None);
                if (n == 0)
                {
                    throw new EndOfStreamException($"connection closed after {got} of {dst.Length} bytes");
                }
                got += n;
            }
        }

        public byte[] ReadExact(int count)
        {
            var data = new byte[count];
            ReadExact(data);
            return data;
        }

        /// <summary>Reads a response head (and a Content-Length body when expectBody).</summary>
        public RawHttpResponse ReadHttpResponse(bool expectBody = true)
        {
            int headEnd;
            while ((headEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
            {
                if (!Fill())
                {
                    throw new EndOfStreamException("connection closed before a complete response head: " + Encoding.ASCII.GetString(_buffer, _start, _end - _start));
                }
            }
            string head = Encoding.ASCII.GetString(_buffer, _start, headEnd + 4);
            _start += headEnd + 4;
            string[] lines = head.Split("\r\n");
            Assert.That(lines[0], Does.StartWith("HTTP/1.1 "), "status line");
            int status = int.Parse(lines[0].Substring(9, 3), System.Globalization.CultureInfo.InvariantCulture);
            var headers = new Dictionary<string, string>();
            for (int i = 1; i < lines.Length; i++)
            {
                int colon = lines[i].IndexOf(':');
                if (colon > 0)
                {
                    headers[lines[i].Substring(0, colon).ToLowerInvariant()] = lines[i].Substring(colon + 1).Trim();
                }
            }
            string body = string.Empty;
            if (expectBody && headers.TryGetValue("content-length", out string? cl))
            {
                body = Encoding.UTF8.GetString(ReadExact(int.Parse(cl, System.Globalization.CultureInfo.InvariantCulture)));
            }
            return new RawHttpResponse(status, head, headers, body);
        }

        /// <summary>Reads one server frame; asserts it is unmasked and has no reserved bits.</summary>
        public ServerFrame ReadFrame()
        {
            Span<byte> h = stackalloc byte[8];
            ReadExact(h.Slice(0, 2));
            bool fin = (h[0] & 0x80) != 0;
            Assert.That(h[0] & 0x70, Is.Zero, "server frame has reserved bits set");
            Assert.That(h[1] & 0x80, Is.Zero, "server frame is masked");
            int opcode = h[0] & 0x0F;
            long length = h[1] & 0x7F;
            if (length == 126)
            {
                ReadExact(h.Slice(0, 2));
                length = BinaryPrimitives.ReadUInt16BigEndian(h);
                Assert.That(length, Is.GreaterThanOrEqualTo(126), "non-minimal 16-bit length");
            }
            else if (length == 127)
            {
                ReadExact(h);
                length = (long)BinaryPrimitives.ReadUInt64BigEndian(h);
                Assert.That(length, Is.GreaterThan(0xFFFF), "non-minimal 64-bit length");
            }
            if (opcode >= 8)
            {
                Assert.That(fin, Is.True, "fragmented control frame");
                Assert.That(length, Is.LessThanOrEqualTo(125), "control frame too long");
            }
            return new ServerFrame(fin, opcode, ReadExact(checked((int)length)));
        }

        /// <summary>Reads the next data message, reassembling fragments; control frames met on the way go to controls.</summary>
        public (int Opcode, byte[] Payload) ReadMessage(List<ServerFrame>? controls = null)
        {
            int opcode = -1;
            var data = new MemoryStream();
            while (true)
            {
                ServerFrame f = ReadFrame();
                if (f.Opcode >= 8)
                {
                    if (controls == null)
                    {
                        Assert.Fail($"expected a data message, got control frame {f.Opcode} ({f.CloseCode} {f.CloseReason})");
                    }
                    controls!.Add(f);
                    continue;
                }
                if (opcode < 0)
                {
                    Assert.That(f.Opcode, Is.AnyOf(1, 2), "first frame of a message");
                    opcode = f.Opcode;
                }
                else
                {
                    Assert.That(f.Opcode, Is.Zero, "continuation frame");
                }
                data.Write(f.Payload);
                if (f.Fin)
                {
                    return (opcode, data.ToArray());
                }
            }
        }

        public string ReadText()
        {
            var (opcode, payload) = ReadMessage();
            Assert.That(opcode, Is.EqualTo(1), "text message");
            return Encoding.UTF8.GetString(payload);
        }

        /// <summary>Reads frames until a close frame (failing on data frames); returns it.</summary>
        public ServerFrame ReadClose()
        {
            while (true)
            {
                ServerFrame f = ReadFrame();
                if (f.Opcode == 8)
                {
                    return f;
                }
                Assert.That(f.Opcode, Is.AnyOf(9, 10), $"expected a close frame, got opcode {f.Opcode}: {f.Text}");
            }
        }

        /// <summary>True when the server closes the connection (EOF or reset) within the timeout; other data fails.</summary>
        public bool WaitForEof(int timeoutMs = TimeoutMs)
        {
            if (_start != _end)
            {
                Assert.Fail($"{_end - _start} unexpected bytes before EOF");
            }
            int old = Socket.ReceiveTimeout;
            Socket.ReceiveTimeout = timeoutMs;
            try
            {
                var scratch = new byte[256];
                int n = Socket.Receive(scratch);
                Assert.That(n, Is.Zero, "unexpected bytes instead of EOF");
                return true;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
            {
                return true;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut || e.SocketErrorCode == SocketError.WouldBlock)
            {
                return false;
            }
            finally
            {
                Socket.ReceiveTimeout = old;
            }
        }

        /// <summary>True when nothing at all arrives within the time (the connection stays open and silent).</summary>
        public bool IsSilentFor(int ms)
        {
            if (_start != _end)
            {
                return false;
            }
            return !Socket.Poll(ms * 1000, SelectMode.SelectRead);
        }

        public void Dispose() => Socket.Dispose();
    }
}
