using System;
using System.Collections.Generic;
using System.IO;
using Fiberws.Protocol;
using Fiberws.Protocol.Compression;

namespace Fiberws.Tests.Hostile
{
    /// <summary>How the harness hands bytes to the reader.</summary>
    internal enum FeedPath
    {
        /// <summary>Every piece through <see cref="MessageReader.Feed"/>.</summary>
        Feed,
        /// <summary>As Conn.Pump and EventConn do: a read buffer through FeedInPlace (the in-place fast path for whole
        /// frames), and inside large payloads straight into the message via TryGetDirectTarget/CommitDirect.</summary>
        Pump,
    }

    /// <summary>
    /// Runs a byte stream, cut into pieces as a socket might deliver it, through a fresh <see cref="MessageReader"/>
    /// and records what it reports in the <see cref="Ev"/> form (streamed chunks are joined into their message). It
    /// checks the reader's contract on the way: consumed counts in range, NeedMore only with the input used up,
    /// sane control frames, and progress on every call (a bounded number of calls, so a loop cannot hang the test).
    /// Exceptions are left to the caller, which counts them as failures.
    /// </summary>
    internal static unsafe class ReaderHarness
    {
        public static MessageReader NewReader(ReaderSetup setup) => new()
        {
            ReadLimit = setup.ReadLimit,
            MaxFrames = setup.MaxFrames,
            Streaming = setup.Streaming,
            Inflater = setup.Deflation == Deflation.None ? null : new MessageInflater(setup.Deflation == Deflation.NoContextTakeover),
        };

        /// <summary>Cuts stream at the given offsets (sorted, may repeat: empty pieces are delivered too).</summary>
        public static List<byte[]> Cut(byte[] stream, IReadOnlyList<int> cuts)
        {
            var pieces = new List<byte[]>(cuts.Count + 1);
            int at = 0;
            foreach (int c in cuts)
            {
                pieces.Add(stream[at..c]);
                at = c;
            }
            pieces.Add(stream[at..]);
            return pieces;
        }

        /// <summary>Random cut points: a few, many, or every byte for short streams.</summary>
        public static List<int> RandomCuts(Random r, int length)
        {
            var cuts = new List<int>();
            if (length == 0)
            {
                return cuts;
            }
            int mode = r.Next(4);
            if (mode == 0 && length <= 4096)
            {
                for (int i = 1; i < length; i++)
                {
                    cuts.Add(i);
                }
                return cuts;
            }
            int count = mode == 1 ? r.Next(1, 4) : r.Next(1, Math.Min(length, 64) + 1);
            for (int i = 0; i < count; i++)
            {
                cuts.Add(r.Next(0, length + 1));
            }
            cuts.Sort();
            return cuts;
        }

        public static List<string> Run(IReadOnlyList<byte[]> pieces, ReaderSetup setup, FeedPath path, int readCapacity, out string? violation)
        {
            using MessageReader reader = NewReader(setup);
            return path == FeedPath.Feed ? RunFeed(reader, pieces, out violation) : RunPump(reader, pieces, readCapacity, out violation);
        }

        private static List<string> RunFeed(MessageReader reader, IReadOnlyList<byte[]> pieces, out string? violation)
        {
            var events = new List<string>();
            var chunks = new MemoryStream();
            violation = null;
            int total = 0;
            foreach (byte[] p in pieces)
            {
                total += p.Length;
            }
            int budget = 2 * total + 2 * pieces.Count + 16;
            foreach (byte[] piece in pieces)
            {
                ReadOnlySpan<byte> rest = piece;
                while (true)
                {
                    if (--budget < 0)
                    {
                        violation = "no progress: more reader calls than the input can explain";
                        return events;
                    }
                    ReadStatus status = reader.Feed(rest, out int consumed);
                    if (consumed < 0 || consumed > rest.Length)
                    {
                        violation = $"consumed {consumed} of {rest.Length}";
                        return events;
                    }
                    rest = rest.Slice(consumed);
                    if (status == ReadStatus.NeedMore)
                    {
                        if (!rest.IsEmpty)
                        {
                            violation = $"NeedMore with {rest.Length} bytes unconsumed";
                            return events;
                        }
                        break;
                    }
                    if (!Record(reader, status, events, chunks, ref violation))
                    {
                        return events;
                    }
                }
            }
            return events;
        }

        private static List<string> RunPump(MessageReader reader, IReadOnlyList<byte[]> pieces, int readCapacity, out string? violation)
        {
            var events = new List<string>();
            var chunks = new MemoryStream();
            violation = null;
            var buffer = new byte[readCapacity];
            int readPos = 0, readEnd = 0;
            int piece = 0, piecePos = 0;
            int total = 0;
            foreach (byte[] p in pieces)
            {
                total += p.Length;
            }
            int budget = 3 * total + 3 * pieces.Count + 16;
            while (true)
            {
                if (--budget < 0)
                {
                    violation = "no progress: more reader calls than the input can explain";
                    return events;
                }
                ReadStatus status;
                if (readPos < readEnd)
                {
                    status = reader.FeedInPlace(buffer.AsSpan(readPos, readEnd - readPos), out int consumed);
                    if (consumed < 0 || consumed > readEnd - readPos)
                    {
                        violation = $"consumed {consumed} of {readEnd - readPos}";
                        return events;
                    }
                    readPos += consumed;
                    if (status == ReadStatus.NeedMore && readPos != readEnd)
                    {
                        violation = $"NeedMore with {readEnd - readPos} bytes unconsumed";
                        return events;
                    }
                }
                else
                {
                    while (piece < pieces.Count && piecePos == pieces[piece].Length)
                    {
                        piece++;
                        piecePos = 0;
                    }
                    if (piece == pieces.Count)
                    {
                        return events; // the peer sent no more: the reader waits
                    }
                    byte[] src = pieces[piece];
                    if (reader.TryGetDirectTarget(readCapacity, out byte* target, out int room))
                    {
                        if (room <= 0)
                        {
                            violation = $"direct target with room {room}";
                            return events;
                        }
                        int n = Math.Min(room, src.Length - piecePos);
                        src.AsSpan(piecePos, n).CopyTo(new Span<byte>(target, n));
                        piecePos += n;
                        status = reader.CommitDirect(n);
                    }
                    else
                    {
                        int n = Math.Min(readCapacity, src.Length - piecePos);
                        src.AsSpan(piecePos, n).CopyTo(buffer);
                        piecePos += n;
                        readPos = 0;
                        readEnd = n;
                        continue;
                    }
                }
                if (status != ReadStatus.NeedMore && !Record(reader, status, events, chunks, ref violation))
                {
                    return events;
                }
            }
        }

        /// <summary>Records one event; false when reading must stop (an error, or a broken contract).</summary>
        private static bool Record(MessageReader reader, ReadStatus status, List<string> events, MemoryStream chunks, ref string? violation)
        {
            switch (status)
            {
                case ReadStatus.Message:
                    if (reader.MessageOpcode is not (1 or 2))
                    {
                        violation = $"message with opcode {reader.MessageOpcode}";
                        return false;
                    }
                    events.Add(Ev.Message(reader.MessageOpcode, reader.Message));
                    return true;
                case ReadStatus.Chunk:
                    chunks.Write(reader.Message);
                    if (reader.ChunkIsFinal)
                    {
                        events.Add(Ev.Message(reader.MessageOpcode, chunks.GetBuffer().AsSpan(0, (int)chunks.Length)));
                        chunks.SetLength(0);
                    }
                    return true;
                case ReadStatus.Control:
                    if (reader.ControlOpcode is not (8 or 9 or 10) || reader.Control.Length > 125)
                    {
                        violation = $"control frame opcode {reader.ControlOpcode}, {reader.Control.Length} bytes";
                        return false;
                    }
                    events.Add(Ev.Control(reader.ControlOpcode, reader.Control));
                    return true;
                case ReadStatus.Error:
                    if (reader.ErrorCode is not (1002 or 1007 or 1009) || string.IsNullOrEmpty(reader.ErrorReason))
                    {
                        violation = $"error with close code {reader.ErrorCode} ('{reader.ErrorReason}')";
                    }
                    events.Add(Ev.Error(reader.ErrorCode));
                    return false;
                default:
                    violation = $"unknown status {status}";
                    return false;
            }
        }
    }
}
