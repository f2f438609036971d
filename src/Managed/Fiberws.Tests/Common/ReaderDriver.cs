using System;
using System.Collections.Generic;
using Fiberws.Protocol;
using NUnit.Framework;

namespace Fiberws.Tests.Common
{
    /// <summary>One thing a <see cref="MessageReader"/> reported, copied out of its buffers.</summary>
    internal sealed class ReaderEvent
    {
        public ReaderEvent(ReadStatus kind, int opcode, byte[] payload, int errorCode)
        {
            Kind = kind;
            Opcode = opcode;
            Payload = payload;
            ErrorCode = errorCode;
        }

        public ReadStatus Kind { get; }
        public int Opcode { get; }
        public byte[] Payload { get; }
        public int ErrorCode { get; }

        public static ReaderEvent Message(int opcode, byte[] payload) => new(ReadStatus.Message, opcode, payload, 0);
        public static ReaderEvent Control(int opcode, byte[] payload) => new(ReadStatus.Control, opcode, payload, 0);
        public static ReaderEvent Error(int code) => new(ReadStatus.Error, 0, Array.Empty<byte>(), code);

        /// <summary>A comparable text form: kind, opcode and the payload in hex (or the close code of an error).</summary>
        public override string ToString() => Kind == ReadStatus.Error
            ? $"Error {ErrorCode}"
            : $"{Kind} op={Opcode} len={Payload.Length} {Convert.ToHexString(Payload)}";
    }

    /// <summary>Feeds byte chunks to a MessageReader and records every event, as the connection's read loop would.</summary>
    internal sealed class ReaderDriver : IDisposable
    {
        public ReaderDriver(long readLimit = 0)
        {
            Reader = new MessageReader { ReadLimit = readLimit };
        }

        public MessageReader Reader { get; }

        public List<ReaderEvent> Events { get; } = new();

        public bool Failed { get; private set; }

        /// <summary>Feeds one chunk completely (or until an error). Returns the events it produced.</summary>
        public List<ReaderEvent> Feed(ReadOnlySpan<byte> chunk)
        {
            var produced = new List<ReaderEvent>();
            while (!Failed)
            {
                ReadStatus status = Reader.Feed(chunk, out int consumed);
                Assert.That(consumed, Is.InRange(0, chunk.Length), "consumed count out of range");
                chunk = chunk.Slice(consumed);
                switch (status)
                {
                    case ReadStatus.NeedMore:
                        Assert.That(chunk.Length, Is.Zero, "NeedMore returned with input left unconsumed");
                        Events.AddRange(produced);
                        return produced;
                    case ReadStatus.Message:
                        produced.Add(ReaderEvent.Message(Reader.MessageOpcode, Reader.Message.ToArray()));
                        break;
                    case ReadStatus.Control:
                        produced.Add(ReaderEvent.Control(Reader.ControlOpcode, Reader.Control.ToArray()));
                        break;
                    case ReadStatus.Error:
                        produced.Add(ReaderEvent.Error(Reader.ErrorCode));
                        Failed = true;
                        break;
                }
            }
            Events.AddRange(produced);
            return produced;
        }

        public void Dispose() => Reader.Dispose();

        /// <summary>All events from feeding the chunks in order to a fresh reader.</summary>
        public static List<string> Run(IEnumerable<byte[]> chunks, long readLimit = 0)
        {
            using var d = new ReaderDriver(readLimit);
            foreach (byte[] c in chunks)
            {
                d.Feed(c);
                if (d.Failed)
                {
                    break;
                }
            }
            return d.Events.ConvertAll(e => e.ToString());
        }

        public static List<string> RunWhole(byte[] stream, long readLimit = 0) => Run(new[] { stream }, readLimit);

        public static List<string> RunSplit(byte[] stream, int at, long readLimit = 0) =>
            Run(new[] { stream[..at], stream[at..] }, readLimit);

        public static List<string> RunBytewise(byte[] stream, long readLimit = 0)
        {
            var chunks = new List<byte[]>(stream.Length);
            foreach (byte b in stream)
            {
                chunks.Add(new[] { b });
            }
            return Run(chunks, readLimit);
        }

        public static List<string> Expect(params ReaderEvent[] events) => new List<ReaderEvent>(events).ConvertAll(e => e.ToString());
    }
}
