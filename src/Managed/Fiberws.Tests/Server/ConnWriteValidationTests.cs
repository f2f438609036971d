using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using Fiberws.Tests.Common;
using NUnit.Framework;
using static Fiberws.Tests.Common.ClientFrames;

namespace Fiberws.Tests.Server
{
    /// <summary>Invalid writes are refused with ErrInvalidArgument without harming the connection; valid control writes go out.</summary>
    [TestFixture]
    public unsafe class ConnWriteValidationTests
    {
        [Test]
        public void InvalidWrites_AreRefused_AndTheConnectionStaysUsable()
        {
            var results = new TaskCompletionSource<Dictionary<string, ResultCode>>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = TestServer.WebSocket("/ws", conn =>
            {
                var r = new Dictionary<string, ResultCode>();
                byte[] bad = Hex("C0 80");
                byte[] big = new byte[126];
                fixed (byte* pb = bad)
                fixed (byte* pg = big)
                {
                    r["invalid utf8 text"] = conn.TryWriteMessage(MessageType.TextMessage, pb, bad.Length);
                    r["unknown type"] = conn.TryWriteMessage((MessageType)3, pb, bad.Length);
                    r["negative length"] = conn.TryWriteMessage(MessageType.BinaryMessage, pb, -1);
                    r["ping of 126"] = conn.TryWriteControl(MessageType.PingMessage, pg, 126);
                    r["text as control"] = conn.TryWriteControl(MessageType.TextMessage, pg, 1);
                    r["close 1-byte payload"] = conn.TryWriteControl(MessageType.CloseMessage, pg, 1);
                }
                r["close 1006"] = conn.TryClose(1006, string.Empty);
                r["close long reason"] = conn.TryClose(1000, new string('r', 124));
                conn.WriteMessage(MessageType.TextMessage, Utf8("still fine"));
                conn.WriteMessage(MessageType.PingMessage, Utf8("server ping"));
                results.TrySetResult(r);
            });
            using RawWebSocketClient client = server.Upgrade();
            Assert.That(client.ReadText(), Is.EqualTo("still fine"));
            ServerFrame ping = client.ReadFrame();
            Assert.That((ping.Opcode, ping.Text), Is.EqualTo((9, "server ping")));
            Assert.That(client.ReadClose().CloseCode, Is.EqualTo(1000), "the invalid close calls sent nothing");
            foreach (KeyValuePair<string, ResultCode> kv in TestServer.Await(results, "the handler"))
            {
                Assert.That(kv.Value, Is.EqualTo(ResultCode.ErrInvalidArgument), kv.Key);
            }
        }

        [Test]
        public void CloseWithInvalidCode_Throws()
        {
            var thrown = new TaskCompletionSource<ResultCode>(TaskCreationOptions.RunContinuationsAsynchronously);
            using TestServer server = TestServer.WebSocket("/ws", conn =>
            {
                try
                {
                    conn.Close(1004);
                    thrown.TrySetResult(ResultCode.Ok);
                }
                catch (FwsException e)
                {
                    thrown.TrySetResult(e.Code);
                }
            });
            using RawWebSocketClient client = server.Upgrade();
            Assert.That(TestServer.Await(thrown, "the close"), Is.EqualTo(ResultCode.ErrInvalidArgument));
            Assert.That(client.ReadClose().CloseCode, Is.EqualTo(1000));
        }
    }
}
