using System;
using System.Collections.Generic;
using System.Text;
using Fiberws.Protocol;
using Fiberws.Tests.Common;
using Fiberws.Tests.Compression;

namespace Fiberws.Tests.Hostile
{
    /// <summary>One client frame, kept as its parts so that a mutation can rewrite the header and rebuild it.</summary>
    internal sealed class GenFrame
    {
        public byte B0;
        public bool Masked = true;
        public byte[] Key = new byte[4];
        public byte[] Payload = Array.Empty<byte>(); // unmasked
        public LengthForm Form;
        public ulong? DeclaredLength; // a header that lies about the payload length

        public int Opcode => B0 & 0x0F;

        public GenFrame Clone() => new()
        {
            B0 = B0,
            Masked = Masked,
            Key = (byte[])Key.Clone(),
            Payload = (byte[])Payload.Clone(),
            Form = Form,
            DeclaredLength = DeclaredLength,
        };

        public byte[] ToBytes()
        {
            ulong length = DeclaredLength ?? (ulong)Payload.Length;
            LengthForm form = Form == LengthForm.Force16 && length > 0xFFFF ? LengthForm.Force64 : Form;
            byte[] header = ClientFrames.Header(B0 & 0x0F, (B0 & 0x80) != 0, length, Masked, Key, (byte)(B0 & 0x70), form);
            var frame = new byte[header.Length + Payload.Length];
            header.CopyTo(frame, 0);
            Payload.CopyTo(frame, header.Length);
            if (Masked)
            {
                ClientFrames.Mask(frame.AsSpan(header.Length), Key);
            }
            return frame;
        }
    }

    /// <summary>A generated client frame sequence and what a correct reader reports for it.</summary>
    internal sealed class GenSequence
    {
        public List<GenFrame> Frames { get; } = new();

        public List<string> Expected { get; } = new();

        public long LargestMessage { get; set; }

        public int MostFrames { get; set; }

        public byte[] ToBytes() => ToBytes(Frames);

        public static byte[] ToBytes(List<GenFrame> frames)
        {
            var parts = new byte[frames.Count][];
            for (int i = 0; i < frames.Count; i++)
            {
                parts[i] = frames[i].ToBytes();
            }
            return ClientFrames.Concat(parts);
        }
    }

    /// <summary>
    /// Generates valid client frame sequences (masked with random keys, some of them zero; text with multi-byte code
    /// points cut across fragments; binary; empty messages; 7, 16 and 64-bit lengths, minimal or not; pings and pongs
    /// between fragments; a close at the end; compressed messages when deflate is negotiated, with or without context
    /// takeover) and mutates them.
    /// </summary>
    internal static class FrameGenerator
    {
        public static GenSequence Valid(Random r, Deflation deflation)
        {
            var seq = new GenSequence();
            using Deflate.Stream? takeover = deflation == Deflation.ContextTakeover ? new Deflate.Stream() : null;
            int messages = r.Next(1, 7);
            for (int m = 0; m < messages; m++)
            {
                if (r.Next(4) == 0)
                {
                    AddControl(r, seq);
                }
                bool text = r.Next(2) == 0;
                int size = MessageSize(r);
                byte[] payload = text ? RandomUtf8(r, size) : RandomBytes(r, size);
                bool compress = deflation != Deflation.None && r.Next(3) != 0;
                byte[] wire = !compress ? payload : takeover != null ? takeover.Compress(payload) : Deflate.Compress(payload);
                int fragments = r.Next(3) == 0 ? 1 : r.Next(1, 6);
                var cuts = new List<int>();
                for (int i = 1; i < fragments; i++)
                {
                    cuts.Add(r.Next(0, wire.Length + 1));
                }
                cuts.Sort();
                cuts.Add(wire.Length);
                int at = 0;
                for (int i = 0; i < cuts.Count; i++)
                {
                    bool first = i == 0;
                    bool last = i == cuts.Count - 1;
                    int op = first ? (text ? ClientFrames.Text : ClientFrames.Binary) : ClientFrames.Continuation;
                    seq.Frames.Add(NewFrame(r, op, fin: last, rsv: first && compress ? ClientFrames.Rsv1 : (byte)0, wire[at..cuts[i]]));
                    at = cuts[i];
                    if (!last && r.Next(3) == 0)
                    {
                        AddControl(r, seq);
                    }
                }
                seq.Expected.Add(Ev.Message(text ? 1 : 2, payload));
                seq.LargestMessage = Math.Max(seq.LargestMessage, Math.Max(payload.Length, wire.Length));
                seq.MostFrames = Math.Max(seq.MostFrames, cuts.Count);
            }
            if (r.Next(3) == 0)
            {
                byte[] close = r.Next(4) == 0 ? Array.Empty<byte>() : ClientFrames.ClosePayload(r.Next(2) == 0 ? 1000 : 3000 + r.Next(1000), r.Next(2) == 0 ? string.Empty : "bye κόσμε");
                seq.Frames.Add(NewFrame(r, ClientFrames.Close, fin: true, rsv: 0, close));
                seq.Expected.Add(Ev.Control(ClientFrames.Close, close));
            }
            return seq;
        }

        private static void AddControl(Random r, GenSequence seq)
        {
            int op = r.Next(2) == 0 ? ClientFrames.Ping : ClientFrames.Pong;
            byte[] payload = RandomBytes(r, r.Next(4) == 0 ? 125 : r.Next(0, 20));
            seq.Frames.Add(NewFrame(r, op, fin: true, rsv: 0, payload));
            seq.Expected.Add(Ev.Control(op, payload));
        }

        public static GenFrame NewFrame(Random r, int opcode, bool fin, byte rsv, byte[] payload)
        {
            var key = new byte[4];
            if (r.Next(8) != 0)
            {
                r.NextBytes(key); // else the all-zero key: legal, and masking changes nothing
            }
            int form = r.Next(10);
            return new GenFrame
            {
                B0 = (byte)((fin ? 0x80 : 0) | rsv | opcode),
                Key = key,
                Payload = payload,
                Form = opcode >= 8 || form < 7 ? LengthForm.Minimal : form < 9 ? LengthForm.Force16 : LengthForm.Force64,
            };
        }

        /// <summary>Mostly small, sometimes past the 7-bit and 16-bit length forms and the 4 KiB read buffer.</summary>
        private static int MessageSize(Random r)
        {
            int k = r.Next(100);
            return k < 55 ? r.Next(0, 40) : k < 85 ? r.Next(40, 400) : k < 97 ? r.Next(400, 9000) : r.Next(65530, 70000);
        }

        public static byte[] RandomBytes(Random r, int size)
        {
            var b = new byte[size];
            r.NextBytes(b);
            return b;
        }

        /// <summary>Valid UTF-8 of about size bytes: ASCII mixed with 2, 3 and 4-byte code points (no surrogates).</summary>
        public static byte[] RandomUtf8(Random r, int size)
        {
            var sb = new StringBuilder();
            int bytes = 0;
            while (bytes < size)
            {
                int kind = r.Next(10);
                int cp = kind < 5 ? r.Next(0x20, 0x7F) : kind < 7 ? r.Next(0x80, 0x800) : kind < 9 ? r.Next(0x800, 0xD800) : r.Next(0x10000, 0x110000);
                sb.Append(char.ConvertFromUtf32(cp));
                bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            }
            return Encoding.UTF8.GetBytes(sb.ToString());
        }

        /// <summary>Header lengths worth trying: the form boundaries, the read limit's edges, the 2 GiB cap, 2^63.</summary>
        public static ulong[] SpecialLengths(long readLimit, int actual) => new ulong[]
        {
            0, 1, 125, 126, 127, 65535, 65536, (ulong)Math.Max(0, actual - 1), (ulong)actual + 1, (ulong)actual + 1000,
            (ulong)Math.Max(0, readLimit - 1), (ulong)readLimit, (ulong)readLimit + 1,
            int.MaxValue, (ulong)MessageReader.MaxMessageBytes, (ulong)MessageReader.MaxMessageBytes + 1, 1UL << 32,
            (1UL << 63) - 1, 1UL << 63, (1UL << 63) + 1, ulong.MaxValue,
        };

        private static readonly byte[][] s_badUtf8 =
        {
            new byte[] { 0x80 }, new byte[] { 0xC0, 0x80 }, new byte[] { 0xC1, 0xBF }, new byte[] { 0xE0, 0x80, 0x80 },
            new byte[] { 0xED, 0xA0, 0x80 }, new byte[] { 0xF4, 0x90, 0x80, 0x80 }, new byte[] { 0xF5 }, new byte[] { 0xFF },
            new byte[] { 0xCE }, new byte[] { 0xE2, 0x82 }, new byte[] { 0xF0, 0x9F, 0x98 },
        };

        private static readonly byte[][] s_badPrefixes =
        {
            new byte[] { 0xC0 }, new byte[] { 0xE0, 0x80 }, new byte[] { 0xE0, 0x9F }, new byte[] { 0xED, 0xA0 }, new byte[] { 0xED, 0xBF },
            new byte[] { 0xF0, 0x80 }, new byte[] { 0xF0, 0x8F }, new byte[] { 0xF4, 0x90 }, new byte[] { 0xF4, 0xBF }, new byte[] { 0xE1, 0x80, 0x41 },
            new byte[] { 0xF1, 0x80, 0xC0 }, new byte[] { 0xC2, 0xC2 },
        };

        /// <summary>Applies 1-3 random mutations: header edits on whole frames, then byte edits on the stream.</summary>
        public static byte[] Mutate(Random r, GenSequence seq, long readLimit, out string what)
        {
            var frames = seq.Frames.ConvertAll(f => f.Clone());
            var log = new List<string>();
            int count = r.Next(1, 4);
            bool bytesMutated = false;
            byte[]? stream = null;
            for (int i = 0; i < count; i++)
            {
                int kind = r.Next(16);
                if (kind < 10 && !bytesMutated && frames.Count > 0)
                {
                    int at = r.Next(frames.Count);
                    GenFrame f = frames[at];
                    switch (kind)
                    {
                        case 0:
                            f.B0 ^= 0x80;
                            log.Add($"frame {at}: FIN flipped");
                            break;
                        case 1:
                            byte rsv = (byte)(0x10 << r.Next(3));
                            f.B0 ^= rsv;
                            log.Add($"frame {at}: RSV bit {rsv:X2} flipped");
                            break;
                        case 2:
                            int op = r.Next(16);
                            f.B0 = (byte)((f.B0 & 0xF0) | op);
                            log.Add($"frame {at}: opcode set to {op}");
                            break;
                        case 3:
                            f.Masked = false;
                            log.Add($"frame {at}: unmasked");
                            break;
                        case 4:
                        case 5:
                            ulong[] lengths = SpecialLengths(readLimit, f.Payload.Length);
                            f.DeclaredLength = r.Next(4) == 0 ? (ulong)r.NextInt64() : lengths[r.Next(lengths.Length)];
                            f.Form = (LengthForm)r.Next(3);
                            log.Add($"frame {at}: declared length {f.DeclaredLength} ({f.Form}), payload {f.Payload.Length}");
                            break;
                        case 6:
                            frames.RemoveAt(at);
                            log.Add($"frame {at}: dropped");
                            break;
                        case 7:
                            frames.Insert(at, f.Clone());
                            log.Add($"frame {at}: duplicated");
                            break;
                        case 8:
                            int other = r.Next(frames.Count);
                            (frames[at], frames[other]) = (frames[other], frames[at]);
                            log.Add($"frames {at} and {other}: swapped");
                            break;
                        case 9 when r.Next(2) == 0:
                            // A sequence that is already impossible, though not finished, at the end of the payload: a
                            // decoder that validates as bytes arrive must fail here, not when the next frame comes.
                            byte[] tail = s_badPrefixes[r.Next(s_badPrefixes.Length)];
                            f.Payload = ClientFrames.Concat(f.Payload, tail);
                            log.Add($"frame {at}: impossible UTF-8 start {Convert.ToHexString(tail)} appended (now {f.Payload.Length} bytes)");
                            break;
                        default:
                            byte[] bad = r.Next(3) == 0 ? RandomBytes(r, r.Next(1, 4)) : s_badUtf8[r.Next(s_badUtf8.Length)];
                            int pos = r.Next(f.Payload.Length + 1);
                            var p = new List<byte>(f.Payload);
                            p.InsertRange(pos, bad);
                            if (f.Opcode >= 8 && r.Next(2) == 0)
                            {
                                p.AddRange(RandomBytes(r, 126)); // a control frame too long for the 7-bit form
                            }
                            f.Payload = p.ToArray();
                            log.Add($"frame {at}: payload bytes {Convert.ToHexString(bad)} inserted at {pos} (now {f.Payload.Length} bytes)");
                            break;
                    }
                    continue;
                }
                stream ??= GenSequence.ToBytes(frames);
                bytesMutated = true;
                if (stream.Length == 0)
                {
                    break;
                }
                int x = r.Next(stream.Length);
                switch (r.Next(6))
                {
                    case 0:
                        int bit = r.Next(8);
                        stream[x] ^= (byte)(1 << bit);
                        log.Add($"byte {x}: bit {bit} flipped");
                        break;
                    case 1:
                        byte v = (byte)r.Next(256);
                        log.Add($"byte {x}: {stream[x]:X2} -> {v:X2}");
                        stream[x] = v;
                        break;
                    case 2:
                        byte[] ins = RandomBytes(r, r.Next(1, 9));
                        stream = ClientFrames.Concat(stream[..x], ins, stream[x..]);
                        log.Add($"inserted {Convert.ToHexString(ins)} at {x}");
                        break;
                    case 3:
                        int n = Math.Min(r.Next(1, 16), stream.Length - x);
                        stream = ClientFrames.Concat(stream[..x], stream[(x + n)..]);
                        log.Add($"deleted {n} bytes at {x}");
                        break;
                    case 4:
                        int d = Math.Min(r.Next(1, 32), stream.Length - x);
                        stream = ClientFrames.Concat(stream[..(x + d)], stream[x..]);
                        log.Add($"repeated {d} bytes at {x}");
                        break;
                    default:
                        stream = stream[..x];
                        log.Add($"truncated to {x} bytes");
                        break;
                }
            }
            stream ??= GenSequence.ToBytes(frames);
            what = string.Join("; ", log);
            return stream;
        }
    }
}
