using System.Threading.Tasks;
using Fiberws.Server;
using Fiberws.Tests.Common;
using NUnit.Framework;
using static Fiberws.Tests.Common.ClientFrames;

namespace Fiberws.Tests.Server
{
    /// <summary>A peer that breaks the protocol gets a close frame with the right code, and the handler's read fails.</summary>
    [TestFixture]
    public class ProtocolViolationTests
    {
        private static void AssertClosedWith(byte[] bad, int expectedClose, ResultCode expectedError, WebSocketConfig? config = null, string? firstEcho = null)
        {
            var failure = new TaskCompletionSource<ReadFailure>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = TestServer.WebSocket("/ws", conn =>
            {
                while (true)
                {
                    try
                    {
                        MessageType t = conn.ReadMessage(out System.ReadOnlySpan<byte> data);
                        conn.WriteMessage(t, data.ToArray());
                    }
                    catch (FwsException e)
                    {
                        failure.TrySetResult(new ReadFailure(e.Code, e.CloseCode, conn.CloseCodeReceived, e.Message));
                        return;
                    }
                }
            }, config);
            using RawWebSocketClient client = server.Upgrade();
            if (firstEcho != null)
            {
                client.SendText(firstEcho);
                Assert.That(client.ReadText(), Is.EqualTo(firstEcho));
            }
            client.Send(bad);
            ServerFrame close = client.ReadClose();
            Assert.That(close.CloseCode, Is.EqualTo(expectedClose), close.CloseReason);
            ReadFailure f = TestServer.Await(failure, "the handler's read to fail");
            Assert.That(f.Code, Is.EqualTo(expectedError), f.Message);
            Assert.That(f.ExceptionCloseCode, Is.EqualTo(expectedClose));
            Assert.That(client.WaitForEof(), Is.True, "the server ends the connection");
        }

        [TestCase("C0 80")]
        [TestCase("ED A0 80")]
        [TestCase("F4 90 80 80")]
        [TestCase("CE BA E1")]
        public void InvalidUtf8Text_IsClosedWith1007(string hex)
        {
            AssertClosedWith(Frame(Text, Hex(hex)), 1007, ResultCode.ErrProtocol, firstEcho: "valid first");
        }

        [Test]
        public void InvalidUtf8_InFirstFragment_IsClosedWith1007_WithoutTheRest()
        {
            AssertClosedWith(Frame(Text, Concat(Utf8("ok"), Hex("F4 90")), fin: false), 1007, ResultCode.ErrProtocol);
        }

        [Test]
        public void UnmaskedFrame_IsClosedWith1002()
        {
            AssertClosedWith(Frame(Text, Utf8("no mask"), masked: false), 1002, ResultCode.ErrProtocol);
        }

        [Test]
        public void ReservedBit_IsClosedWith1002()
        {
            AssertClosedWith(Frame(Text, Utf8("rsv"), rsv: Rsv1), 1002, ResultCode.ErrProtocol);
        }

        [Test]
        public void UnknownOpcode_IsClosedWith1002()
        {
            AssertClosedWith(Frame(3, Utf8("x")), 1002, ResultCode.ErrProtocol);
        }

        [Test]
        public void MessageOverReadLimit_IsClosedWith1009()
        {
            AssertClosedWith(BinaryFrame(Pattern(2000)), 1009, ResultCode.ErrReadLimit, new WebSocketConfig { ReadLimit = 1024 }, firstEcho: "small");
        }

        [Test]
        public void MessageOverReadLimit_IsRefusedOnItsHeader()
        {
            // Only the header is sent: the close must come without the payload.
            AssertClosedWith(Header(Binary, fin: true, length: 1 << 30, key: NextKey()), 1009, ResultCode.ErrReadLimit, new WebSocketConfig { ReadLimit = 1024 });
        }

        [Test]
        public void FragmentsOverReadLimit_AreClosedWith1009()
        {
            byte[] frames = Concat(Frame(Binary, Pattern(600), fin: false), Frame(Continuation, Pattern(600), fin: true));
            AssertClosedWith(frames, 1009, ResultCode.ErrReadLimit, new WebSocketConfig { ReadLimit = 1024 });
        }

        [Test]
        public void SetReadLimit_FromTheHandler_Applies()
        {
            var failure = new TaskCompletionSource<ReadFailure>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = TestServer.WebSocket("/ws", conn =>
            {
                conn.SetReadLimit(10);
                failure.TrySetResult(conn.ReadUntilFailure());
            });
            using RawWebSocketClient client = server.Upgrade();
            client.SendBinary(Pattern(11));
            Assert.That(client.ReadClose().CloseCode, Is.EqualTo(1009));
            Assert.That(TestServer.Await(failure, "the read").Code, Is.EqualTo(ResultCode.ErrReadLimit));
        }
    }
}
