using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace Fiberws.Protocol.Compression
{
    /// <summary>
    /// Compresses messages for permessage-deflate (RFC 7692 §7.2.1): raw deflate, each message ended with a sync
    /// flush whose 00 00 FF FF tail is removed. With context takeover the LZ77 window carries over between messages;
    /// without it each message ends with a full flush, so nothing refers back and one deflater can serve many
    /// connections (see <see cref="Shared"/>). Memory: (1 &lt;&lt; (windowBits + 2)) + (1 &lt;&lt; (memLevel + 9)) bytes of zlib
    /// state, about 256 KiB at 15/8. Not thread-safe.
    /// </summary>
    internal sealed unsafe class MessageDeflater : IDisposable
    {
        public const int MemLevel = 8;
        private static readonly byte[] s_tail = [0x00, 0x00, 0xFF, 0xFF];

        [ThreadStatic] private static Dictionary<int, MessageDeflater>? t_shared;

        private readonly int _level;
        private readonly int _windowBits;
        private readonly bool _noContextTakeover;
        private Zlib.ZStream* _z;

        public MessageDeflater(int level, int windowBits, bool noContextTakeover)
        {
            _level = level;
            _windowBits = windowBits;
            _noContextTakeover = noContextTakeover;
        }

        ~MessageDeflater()
        {
            Release();
        }

        public int Level => _level;

        /// <summary>
        /// A deflater for connections without context takeover, shared by everything on the calling thread (the event
        /// loop, or one handler thread): such messages need no history, so one zlib state serves them all.
        /// </summary>
        public static MessageDeflater Shared(int level, int windowBits)
        {
            t_shared ??= new Dictionary<int, MessageDeflater>();
            int key = level * 16 + windowBits;
            if (!t_shared.TryGetValue(key, out MessageDeflater? deflater))
            {
                deflater = new MessageDeflater(level, windowBits, noContextTakeover: true);
                t_shared[key] = deflater;
            }
            return deflater;
        }

        /// <summary>Appends the compressed form of the message to output (without the 00 00 FF FF tail).</summary>
        public void Compress(byte* data, long length, ref NativeBuffer output)
        {
            EnsureStream();
            long start = output.Length;
            _z->NextIn = data;
            long left = length;
            int flush = _noContextTakeover ? Zlib.FullFlush : Zlib.SyncFlush;
            while (true)
            {
                uint chunk = (uint)Math.Min(left, int.MaxValue);
                _z->AvailIn = chunk;
                left -= chunk;
                bool last = left == 0;
                while (true)
                {
                    output.Reserve(Math.Max(4096, chunk / 2 + 64));
                    _z->NextOut = output.Ptr + output.Length;
                    _z->AvailOut = (uint)Math.Min(output.Capacity - output.Length, int.MaxValue);
                    uint before = _z->AvailOut;
                    int rc = Zlib.Deflate(_z, last ? flush : Zlib.NoFlush);
                    output.Length += before - _z->AvailOut;
                    if (rc != Zlib.Ok && rc != Zlib.BufError)
                    {
                        throw new InvalidOperationException($"deflate failed ({rc})");
                    }
                    if (_z->AvailIn == 0 && _z->AvailOut != 0)
                    {
                        break; // all input taken and the flush completed (room was left over)
                    }
                }
                if (last)
                {
                    break;
                }
            }
            // A sync/full flush always ends with an empty stored block: 00 00 FF FF, which the receiver adds back.
            if (output.Length - start >= 4 && new ReadOnlySpan<byte>(output.Ptr + output.Length - 4, 4).SequenceEqual(s_tail))
            {
                output.Length -= 4;
            }
            if (output.Length == start)
            {
                // zlib skips a flush right after another with no input (Z_BUF_ERROR): an empty message then has no
                // bytes at all. Its compressed form is an empty stored block minus the tail: 0x00 (RFC 7692 §7.2.3.6).
                output.Reserve(1);
                output.Ptr[output.Length++] = 0x00;
            }
        }

        public void Dispose()
        {
            Release();
            GC.SuppressFinalize(this);
        }

        private void EnsureStream()
        {
            if (_z != null)
            {
                return;
            }
            var z = (Zlib.ZStream*)NativeMemory.AllocZeroed((nuint)sizeof(Zlib.ZStream));
            int rc = Zlib.DeflateInit2(z, _level, Zlib.Deflated, -_windowBits, MemLevel, Zlib.DefaultStrategy);
            if (rc != Zlib.Ok)
            {
                NativeMemory.Free(z);
                throw new OutOfMemoryException($"deflateInit2 failed ({rc})");
            }
            _z = z;
        }

        private void Release()
        {
            if (_z != null)
            {
                Zlib.DeflateEnd(_z);
                NativeMemory.Free(_z);
                _z = null;
            }
        }
    }

    /// <summary>
    /// Decompresses permessage-deflate messages (RFC 7692 §7.2.2): appends the 00 00 FF FF tail and inflates into a
    /// buffer, stopping as soon as the output passes the read limit, so a small "zip bomb" never expands in memory.
    /// The window is always 15 bits, which decodes any window the client chose. Without client context takeover the
    /// state is reset after each message. Memory: about 7 KiB of state plus a 32 KiB window. Not thread-safe.
    /// </summary>
    internal sealed unsafe class MessageInflater : IDisposable
    {
        private static readonly byte[] s_tail = [0x00, 0x00, 0xFF, 0xFF];
        private readonly bool _noContextTakeover;
        private Zlib.ZStream* _z;

        public MessageInflater(bool noContextTakeover)
        {
            _noContextTakeover = noContextTakeover;
        }

        ~MessageInflater()
        {
            Release();
        }

        public enum Result
        {
            Ok,
            TooBig,
            Invalid,
        }

        /// <summary>Inflates one whole compressed message into output (replacing its contents).</summary>
        public Result Inflate(byte* data, long length, long limit, ref NativeBuffer output)
        {
            EnsureStream();
            output.Length = 0;
            Result result = Run(data, length, limit, ref output);
            if (result == Result.Ok)
            {
                fixed (byte* tail = s_tail)
                {
                    result = Run(tail, 4, limit, ref output);
                }
            }
            if (result != Result.Ok || _noContextTakeover)
            {
                // After an error the stream is unusable; without context takeover the next message starts afresh.
                Zlib.InflateReset2(_z, -15);
            }
            return result;
        }

        private Result Run(byte* data, long length, long limit, ref NativeBuffer output)
        {
            _z->NextIn = data;
            long left = length;
            do
            {
                uint chunk = (uint)Math.Min(left, int.MaxValue);
                _z->AvailIn = chunk;
                left -= chunk;
                while (true)
                {
                    long room = limit > 0 ? Math.Min(64 * 1024, limit - output.Length + 1) : 64 * 1024;
                    output.Reserve(Math.Max(room, 1));
                    _z->NextOut = output.Ptr + output.Length;
                    _z->AvailOut = (uint)Math.Min(output.Capacity - output.Length, limit > 0 ? limit - output.Length + 1 : int.MaxValue);
                    uint before = _z->AvailOut;
                    int rc = Zlib.Inflate(_z, Zlib.SyncFlush);
                    output.Length += before - _z->AvailOut;
                    if (limit > 0 && output.Length > limit)
                    {
                        return Result.TooBig;
                    }
                    if (output.Length > MessageReader.MaxMessageBytes)
                    {
                        return Result.TooBig;
                    }
                    if (rc == Zlib.StreamEnd)
                    {
                        // A block with BFINAL set (RFC 7692 §7.2.3.4): the deflate stream ends, and what follows (at
                        // least the 0x00 before the removed tail, then the tail itself) starts a new one.
                        Zlib.InflateReset2(_z, -15);
                        continue;
                    }
                    if (rc != Zlib.Ok && rc != Zlib.BufError)
                    {
                        return Result.Invalid;
                    }
                    if (_z->AvailIn == 0 && _z->AvailOut != 0)
                    {
                        break;
                    }
                    if (rc == Zlib.BufError && _z->AvailOut != 0)
                    {
                        break;
                    }
                }
            }
            while (left > 0);
            return Result.Ok;
        }

        public void Dispose()
        {
            Release();
            GC.SuppressFinalize(this);
        }

        private void EnsureStream()
        {
            if (_z != null)
            {
                return;
            }
            var z = (Zlib.ZStream*)NativeMemory.AllocZeroed((nuint)sizeof(Zlib.ZStream));
            int rc = Zlib.InflateInit2(z, -15);
            if (rc != Zlib.Ok)
            {
                NativeMemory.Free(z);
                throw new OutOfMemoryException($"inflateInit2 failed ({rc})");
            }
            _z = z;
        }

        private void Release()
        {
            if (_z != null)
            {
                Zlib.InflateEnd(_z);
                NativeMemory.Free(_z);
                _z = null;
            }
        }
    }
}
