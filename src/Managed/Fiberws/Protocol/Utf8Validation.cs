using System;
using System.Text.Unicode;

namespace Fiberws.Protocol
{
    /// <summary>
    /// Incremental UTF-8 validation for text messages that arrive in pieces (fragments, partial reads).
    /// A chunk is checked as soon as it arrives (fail fast, RFC 6455 §8.1): everything but a trailing incomplete
    /// sequence is validated with the vectorised <see cref="Utf8.IsValid(ReadOnlySpan{byte})"/>, and the trailing
    /// bytes must be a valid prefix of some code point.
    /// </summary>
    internal static class Utf8Validation
    {
        /// <summary>
        /// Validates <paramref name="data"/>, which starts at a code point boundary. Returns false when the bytes can
        /// never become valid UTF-8. On success, <paramref name="pending"/> is the count of trailing bytes that form an
        /// incomplete (but so far valid) sequence; they must be validated again once more bytes follow.
        /// </summary>
        public static bool Validate(ReadOnlySpan<byte> data, out int pending)
        {
            pending = 0;
            int end = data.Length;
            // Find the start of a trailing incomplete sequence, looking back at most 3 bytes.
            for (int back = 1; back <= 3 && back <= end; back++)
            {
                byte b = data[end - back];
                if ((b & 0xC0) == 0x80)
                {
                    continue; // continuation byte: keep looking for the lead
                }
                int need = SequenceLength(b);
                if (need > back)
                {
                    pending = back;
                }
                break;
            }
            if (!Utf8.IsValid(data.Slice(0, end - pending)))
            {
                return false;
            }
            return pending == 0 || IsValidPrefix(data.Slice(end - pending));
        }

        private static int SequenceLength(byte lead) => lead switch
        {
            < 0x80 => 1,
            >= 0xC2 and <= 0xDF => 2,
            >= 0xE0 and <= 0xEF => 3,
            >= 0xF0 and <= 0xF4 => 4,
            _ => 0, // never valid as a lead: makes need <= back, so the full check rejects it
        };

        /// <summary>True when these 1-3 bytes can begin a valid UTF-8 sequence (RFC 3629 table, incl. surrogates/overlongs).</summary>
        private static bool IsValidPrefix(ReadOnlySpan<byte> p)
        {
            byte lead = p[0];
            if (p.Length >= 2)
            {
                byte second = p[1];
                bool ok = lead switch
                {
                    0xE0 => second >= 0xA0 && second <= 0xBF,
                    0xED => second >= 0x80 && second <= 0x9F,
                    0xF0 => second >= 0x90 && second <= 0xBF,
                    0xF4 => second >= 0x80 && second <= 0x8F,
                    _ => (second & 0xC0) == 0x80,
                };
                if (!ok)
                {
                    return false;
                }
            }
            if (p.Length >= 3 && (p[2] & 0xC0) != 0x80)
            {
                return false;
            }
            return SequenceLength(lead) > p.Length;
        }
    }

    /// <summary>
    /// Incremental UTF-8 validation over chunks that are not kept together (streamed messages): up to three bytes of
    /// an unfinished code point are carried from one chunk to the next.
    /// </summary>
    internal struct Utf8Stream
    {
        private uint _carry;   // up to 3 pending bytes, little-endian
        private int _carryLength;

        public void Reset()
        {
            _carry = 0;
            _carryLength = 0;
        }

        /// <summary>True while nothing invalid has been seen; <paramref name="final"/> also requires no unfinished code point.</summary>
        public bool Append(ReadOnlySpan<byte> chunk, bool final)
        {
            if (_carryLength > 0 && !chunk.IsEmpty)
            {
                Span<byte> joined = stackalloc byte[8];
                for (int i = 0; i < _carryLength; i++)
                {
                    joined[i] = (byte)(_carry >> (8 * i));
                }
                int take = Math.Min(4, chunk.Length);
                chunk.Slice(0, take).CopyTo(joined.Slice(_carryLength));
                int total = _carryLength + take;
                if (!Utf8Validation.Validate(joined.Slice(0, total), out int pending))
                {
                    return false;
                }
                // Bytes of the chunk that the joined check covered completely can be skipped.
                int covered = total - pending - _carryLength;
                if (covered < 0)
                {
                    // Still inside the same unfinished code point (the chunk was 1-2 bytes long).
                    StoreCarry(joined.Slice(0, total));
                    return !final;
                }
                _carryLength = 0;
                chunk = chunk.Slice(covered);
            }
            if (!chunk.IsEmpty)
            {
                if (!Utf8Validation.Validate(chunk, out int pending))
                {
                    return false;
                }
                StoreCarry(chunk.Slice(chunk.Length - pending));
            }
            return !final || _carryLength == 0;
        }

        private void StoreCarry(ReadOnlySpan<byte> bytes)
        {
            _carry = 0;
            _carryLength = bytes.Length;
            for (int i = 0; i < bytes.Length; i++)
            {
                _carry |= (uint)bytes[i] << (8 * i);
            }
        }
    }
}
