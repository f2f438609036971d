using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Fiberws.Protocol;
using Fiberws.Protocol.Compression;

namespace Fiberws.Tests.Hostile
{
    internal enum Deflation
    {
        None,
        ContextTakeover,
        NoContextTakeover,
    }

    /// <summary>How a reader under test is configured (the same for the library and the reference).</summary>
    internal sealed record ReaderSetup(long ReadLimit, int MaxFrames, bool Streaming, Deflation Deflation)
    {
        public static readonly ReaderSetup Plain = new(0, 0, false, Deflation.None);
    }

    /// <summary>The comparable text form of what a reader reported: data messages by length and hash.</summary>
    internal static class Ev
    {
        public static string Message(int opcode, ReadOnlySpan<byte> payload) =>
            $"Message op={opcode} len={payload.Length} sha={Convert.ToHexString(SHA256.HashData(payload), 0, 8)} head={Convert.ToHexString(payload.Slice(0, Math.Min(16, payload.Length)))}";

        public static string Control(int opcode, ReadOnlySpan<byte> payload) => $"Control op={opcode} {Convert.ToHexString(payload)}";

        public static string Error(int code) => $"Error {code}";
    }

    /// <summary>
    /// UTF-8 per RFC 3629 (no overlongs, no surrogates, nothing above U+10FFFF), written out byte by byte as an oracle
    /// independent of the library's vectorised validator.
    /// </summary>
    internal static class Utf8Reference
    {
        public const int Invalid = -1;
        public const int Complete = 0;
        public const int EndsInsideSequence = 1;

        public static int Check(ReadOnlySpan<byte> s)
        {
            int i = 0;
            while (i < s.Length)
            {
                byte b = s[i];
                if (b < 0x80)
                {
                    i++;
                    continue;
                }
                int more;
                byte lo = 0x80, hi = 0xBF;
                if (b >= 0xC2 && b <= 0xDF)
                {
                    more = 1;
                }
                else if (b == 0xE0)
                {
                    more = 2;
                    lo = 0xA0;
                }
                else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF)
                {
                    more = 2;
                }
                else if (b == 0xED)
                {
                    more = 2;
                    hi = 0x9F;
                }
                else if (b == 0xF0)
                {
                    more = 3;
                    lo = 0x90;
                }
                else if (b >= 0xF1 && b <= 0xF3)
                {
                    more = 3;
                }
                else if (b == 0xF4)
                {
                    more = 3;
                    hi = 0x8F;
                }
                else
                {
                    return Invalid;
                }
                for (int k = 1; k <= more; k++)
                {
                    if (i + k >= s.Length)
                    {
                        return EndsInsideSequence;
                    }
                    byte c = s[i + k];
                    bool ok = k == 1 ? c >= lo && c <= hi : c >= 0x80 && c <= 0xBF;
                    if (!ok)
                    {
                        return Invalid;
                    }
                }
                i += more + 1;
            }
            return Complete;
        }
    }

    /// <summary>
    /// A reference inflater for permessage-deflate (RFC 7692 §7.2.2) on the same zlib, but written the simple way: the
    /// whole message plus the 00 00 FF FF tail in one input, unbounded output, the limit applied afterwards to what
    /// was produced before any error. A block with BFINAL set ends a deflate stream; what follows starts a new one.
    /// </summary>
    internal sealed unsafe class ReferenceInflater : IDisposable
    {
        public const int Ok = 0;
        public const int TooBig = 1009;
        public const int Invalid = 1007;

        private readonly bool _noContextTakeover;
        private Zlib.ZStream* _z;

        public ReferenceInflater(bool noContextTakeover)
        {
            _noContextTakeover = noContextTakeover;
            _z = (Zlib.ZStream*)NativeMemory.AllocZeroed((nuint)sizeof(Zlib.ZStream));
            if (Zlib.InflateInit2(_z, -15) != Zlib.Ok)
            {
                throw new InvalidOperationException("inflateInit2 failed");
            }
        }

        public int Inflate(byte[] message, long limit, out byte[] output)
        {
            var input = new byte[message.Length + 4];
            message.CopyTo(input, 0);
            input[^2] = 0xFF;
            input[^1] = 0xFF;
            var result = new MemoryStream();
            var buffer = new byte[16 * 1024];
            bool failed = false;
            fixed (byte* inp = input)
            fixed (byte* outp = buffer)
            {
                _z->NextIn = inp;
                _z->AvailIn = (uint)input.Length;
                while (true)
                {
                    _z->NextOut = outp;
                    _z->AvailOut = (uint)buffer.Length;
                    int rc = Zlib.Inflate(_z, Zlib.SyncFlush);
                    result.Write(buffer, 0, buffer.Length - (int)_z->AvailOut);
                    if (rc == Zlib.StreamEnd)
                    {
                        Zlib.InflateReset2(_z, -15);
                        if (_z->AvailIn == 0)
                        {
                            break;
                        }
                        continue;
                    }
                    if (rc != Zlib.Ok && rc != Zlib.BufError)
                    {
                        failed = true;
                        break;
                    }
                    if (_z->AvailOut != 0)
                    {
                        break; // all input taken and all output given
                    }
                }
            }
            output = result.ToArray();
            int verdict = (limit > 0 && output.Length > limit) || output.Length > MessageReader.MaxMessageBytes ? TooBig : failed ? Invalid : Ok;
            if (verdict != Ok || _noContextTakeover)
            {
                Zlib.InflateReset2(_z, -15);
            }
            return verdict;
        }

        public void Dispose()
        {
            if (_z != null)
            {
                Zlib.InflateEnd(_z);
                NativeMemory.Free(_z);
                _z = null;
            }
        }
    }

    /// <summary>
    /// An oracle for the client frame decoder, written from RFC 6455 §5 (and RFC 7692 for RSV1), independent of
    /// <see cref="MessageReader"/>'s state machine: it walks the whole byte stream frame by frame and reports every
    /// message and control frame, then the first violation at the earliest byte where it becomes certain: 1002 for
    /// framing errors (reserved bits, unknown opcode, unmasked frame, fragmented or long control frame, continuation
    /// without a message, new message inside one, 64-bit length with the top bit set), 1009 when a frame would take
    /// the message past the read limit, the frame count past MaxFrames or a buffered message past the 2 GiB cap,
    /// 1007 for text that is not UTF-8 (as soon as the bytes so far cannot begin valid UTF-8) or compressed data that
    /// does not inflate. A stream that ends mid-frame just stops (the reader waits for more).
    /// </summary>
    internal static class ReferenceDecoder
    {
        public static List<string> Decode(ReadOnlySpan<byte> s, ReaderSetup setup)
        {
            var events = new List<string>();
            using ReferenceInflater? inflater = setup.Deflation == Deflation.None ? null : new ReferenceInflater(setup.Deflation == Deflation.NoContextTakeover);
            long readLimit = setup.ReadLimit;
            bool inMessage = false;
            int messageOpcode = 0;
            bool messageCompressed = false;
            int frames = 0;
            var message = new MemoryStream();
            int pos = 0;
            while (pos < s.Length)
            {
                byte b0 = s[pos];
                bool fin = (b0 & 0x80) != 0;
                bool rsv1 = (b0 & 0x40) != 0;
                int op = b0 & 0x0F;
                bool control = op >= 8;
                bool known = op <= 2 || (op >= 8 && op <= 10);
                if ((b0 & 0x30) != 0 || (rsv1 && inflater == null) || (rsv1 && (control || op == 0)) || !known ||
                    (control && !fin) || (op == 0 && !inMessage) || ((op == 1 || op == 2) && inMessage))
                {
                    return Fail(events, 1002);
                }
                if (pos + 1 >= s.Length)
                {
                    break;
                }
                byte b1 = s[pos + 1];
                int len7 = b1 & 0x7F;
                if ((b1 & 0x80) == 0 || (control && len7 > 125))
                {
                    return Fail(events, 1002);
                }
                int headerLength = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
                if (pos + headerLength > s.Length)
                {
                    break;
                }
                ulong wireLength = len7 < 126 ? (ulong)len7 : len7 == 126 ? BinaryPrimitives.ReadUInt16BigEndian(s.Slice(pos + 2)) : BinaryPrimitives.ReadUInt64BigEndian(s.Slice(pos + 2));
                if (wireLength > long.MaxValue)
                {
                    return Fail(events, 1002);
                }
                long length = (long)wireLength;
                ReadOnlySpan<byte> key = s.Slice(pos + headerLength - 4, 4);
                pos += headerLength;
                if (!control)
                {
                    if (op != 0)
                    {
                        inMessage = true;
                        messageOpcode = op;
                        messageCompressed = rsv1;
                        frames = 0;
                        message.SetLength(0);
                    }
                    frames++;
                    bool streamedUncompressed = setup.Streaming && !messageCompressed;
                    long limit = readLimit > 0 && messageCompressed ? readLimit + readLimit / 64 + 1024 : readLimit;
                    if ((!streamedUncompressed && length > MessageReader.MaxMessageBytes - message.Length) ||
                        (limit > 0 && length > limit - message.Length) ||
                        (setup.MaxFrames > 0 && frames > setup.MaxFrames))
                    {
                        return Fail(events, 1009);
                    }
                }
                int available = (int)Math.Min(length, s.Length - pos);
                var payload = new byte[available];
                for (int i = 0; i < available; i++)
                {
                    payload[i] = (byte)(s[pos + i] ^ key[i & 3]);
                }
                pos += available;
                if (control)
                {
                    if (available < length)
                    {
                        break;
                    }
                    events.Add(Ev.Control(op, payload));
                    continue;
                }
                message.Write(payload);
                if (messageOpcode == 1 && !messageCompressed && Utf8Reference.Check(message.GetBuffer().AsSpan(0, (int)message.Length)) == Utf8Reference.Invalid)
                {
                    return Fail(events, 1007);
                }
                if (available < length)
                {
                    break;
                }
                if (!fin)
                {
                    continue;
                }
                inMessage = false;
                byte[] data = message.ToArray();
                if (messageCompressed && data.Length > 0)
                {
                    int verdict = inflater!.Inflate(data, readLimit, out data);
                    if (verdict != ReferenceInflater.Ok)
                    {
                        return Fail(events, verdict);
                    }
                }
                if (messageOpcode == 1 && Utf8Reference.Check(data) != Utf8Reference.Complete)
                {
                    return Fail(events, 1007);
                }
                events.Add(Ev.Message(messageOpcode, data));
            }
            return events;
        }

        private static List<string> Fail(List<string> events, int code)
        {
            events.Add(Ev.Error(code));
            return events;
        }
    }
}
