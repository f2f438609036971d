using System;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Fiberws.Protocol
{
    /// <summary>What <see cref="MessageReader.Feed"/> stopped on.</summary>
    internal enum ReadStatus
    {
        /// <summary>All input was consumed; more bytes are needed.</summary>
        NeedMore,
        /// <summary>A complete data message is in <see cref="MessageReader.Message"/>.</summary>
        Message,
        /// <summary>A complete control frame is in <see cref="MessageReader.Control"/>.</summary>
        Control,
        /// <summary>Streaming mode: a piece of the current message is in <see cref="MessageReader.Message"/> (possibly empty).</summary>
        Chunk,
        /// <summary>The peer broke the protocol; <see cref="MessageReader.ErrorCode"/> is the close code to send.</summary>
        Error,
    }

    /// <summary>
    /// The frame decoder and message assembler of one connection, with no I/O of its own ("sans-IO"): the owner
    /// feeds it bytes in pieces of any size and it reports complete messages and control frames. It enforces
    /// RFC 6455 §5 (masking, reserved bits, opcodes, control frame rules, fragmentation), validates text as
    /// UTF-8 as it arrives, and applies the read limit before buffering a frame's payload.
    /// The message bytes live in native memory and stay put until the next message starts (lent to C).
    /// Thread-safety: none; one reader at a time.
    /// </summary>
    internal sealed unsafe class MessageReader : IDisposable
    {
        /// <summary>Room for the longest client frame header (14 bytes), kept inline in the reader.</summary>
        [System.Runtime.CompilerServices.InlineArray(FrameHeader.MaxClientHeader)]
        private struct HeaderBytes
        {
            private byte _first;

            public Span<byte> AsSpan() => System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref _first, FrameHeader.MaxClientHeader);
        }

        /// <summary>The hard cap on one message, whatever the read limit: a lent buffer is indexed by int.</summary>
        public const long MaxMessageBytes = int.MaxValue - 4096;

        private HeaderBytes _header;          // the frame header being gathered (inline: no array per connection)
        private byte[]? _control;             // control frame payload, allocated at the first control frame
        private int _headerHave;
        private bool _inPayload;
        private long _payloadLeft;
        private uint _maskKey;
        private int _maskOffset;
        private int _frameOpcode;
        private bool _frameFin;

        private NativeBuffer _message;
        private byte* _external;       // a message decoded in place in the caller's buffer (fast path)
        private long _externalLength;
        private int _messageOpcode; // 0 when no message is in progress
        private bool _messageDone;
        private int _messageFrames;
        private long _utf8Checked;

        private bool _messageCompressed;
        private NativeBuffer _inflated;
        private long _streamed;        // streaming mode: bytes of the current message delivered so far
        private bool _chunkFinal;
        private Utf8Stream _utf8Stream;
        private int _controlOpcode;
        private int _controlLength;

        /// <summary>Largest message, after reassembly; 0 = no limit.</summary>
        public long ReadLimit { get; set; }

        /// <summary>Most frames one message may span; 0 = no limit.</summary>
        public int MaxFrames { get; set; }

        /// <summary>
        /// Streaming mode (NextReader): data frames are not assembled; each piece of payload is reported as a
        /// <see cref="ReadStatus.Chunk"/> in <see cref="Message"/> as soon as it arrives, so memory stays bounded
        /// whatever the message size. Switch only between messages.
        /// </summary>
        public bool Streaming { get; set; }

        /// <summary>Streaming mode: the last chunk reported ends its message.</summary>
        public bool ChunkIsFinal => _chunkFinal;

        /// <summary>
        /// The permessage-deflate inflater when the extension was negotiated (RSV1 then marks a compressed message);
        /// null otherwise, and RSV1 is a protocol error.
        /// </summary>
        public Compression.MessageInflater? Inflater { get; set; }

        private bool AllowRsv1 => Inflater != null;

        public int ErrorCode { get; private set; }

        public string ErrorReason { get; private set; } = string.Empty;

        /// <summary>The opcode of the completed message (Text or Binary).</summary>
        public int MessageOpcode => _messageOpcode;

        public byte* MessagePointer => _external != null ? _external : _messageCompressed ? _inflated.Ptr : _message.Ptr;

        public long MessageLength => _external != null ? _externalLength : _messageCompressed ? _inflated.Length : _message.Length;

        public ReadOnlySpan<byte> Message => new(MessagePointer, checked((int)MessageLength));

        public int ControlOpcode => _controlOpcode;

        public ReadOnlySpan<byte> Control => _control == null ? default : new(_control, 0, _controlLength);

        /// <summary>True between a message's first frame and its last.</summary>
        public bool InMessage => _messageOpcode != 0 && !_messageDone;

        /// <summary>Bytes currently held for messages (for memory accounting and shrinking).</summary>
        public long BufferCapacity => _message.Capacity;

        /// <summary>
        /// Like <see cref="Feed"/>, but a whole unfragmented data frame found in the input is unmasked in place and
        /// reported without copying: <see cref="Message"/> then points into <paramref name="input"/>, valid as long as
        /// the caller leaves those bytes alone (until its next read into that buffer).
        /// </summary>
        public ReadStatus FeedInPlace(Span<byte> input, out int consumed)
        {
            _external = null;
            if (!Streaming && !_inPayload && _headerHave == 0 && !InMessage && input.Length >= 6)
            {
                fixed (byte* p = input)
                {
                    ReadStatus fast = TryWholeFrame(p, input.Length, out consumed);
                    if (consumed > 0)
                    {
                        return fast;
                    }
                }
            }
            return Feed(input, out consumed);
        }

        /// <summary>The fast path: one complete, final, masked text/binary frame at the start of the input.</summary>
        private ReadStatus TryWholeFrame(byte* p, int available, out int consumed)
        {
            consumed = 0;
            byte b0 = p[0];
            byte b1 = p[1];
            int opcode = b0 & 0x0F;
            bool compressed = (b0 & FrameHeader.Rsv1Bit) != 0 && AllowRsv1;
            if ((b0 & 0xB0) != FrameHeader.FinBit || ((b0 & FrameHeader.Rsv1Bit) != 0 && !compressed) ||
                (opcode != Opcode.Text && opcode != Opcode.Binary) || (b1 & FrameHeader.MaskBit) == 0)
            {
                return ReadStatus.NeedMore; // anything unusual takes the general path, which reports errors
            }
            int len7 = b1 & 0x7F;
            int headerLength = len7 < 126 ? 6 : len7 == 126 ? 8 : 14;
            if (available < headerLength)
            {
                return ReadStatus.NeedMore;
            }
            long length = len7 < 126 ? len7 : len7 == 126 ? BinaryPrimitives.ReadUInt16BigEndian(new ReadOnlySpan<byte>(p + 2, 2)) :
                (long)Math.Min(BinaryPrimitives.ReadUInt64BigEndian(new ReadOnlySpan<byte>(p + 2, 8)), long.MaxValue);
            if (length > available - headerLength || (ReadLimit > 0 && length > ReadLimit))
            {
                return ReadStatus.NeedMore;
            }
            uint key = BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(p + headerLength - 4, 4));
            byte* payload = p + headerLength;
            Masking.Apply(payload, payload, length, key, 0);
            consumed = headerLength + (int)length;
            _messageOpcode = opcode;
            _messageDone = true;
            _message.Length = 0;
            _messageCompressed = compressed;
            if (compressed)
            {
                return InflateMessage(payload, length);
            }
            if (opcode == Opcode.Text && !System.Text.Unicode.Utf8.IsValid(new ReadOnlySpan<byte>(payload, (int)length)))
            {
                return Fail(1007, "text message is not valid UTF-8");
            }
            _external = payload;
            _externalLength = length;
            return ReadStatus.Message;
        }

        /// <summary>Consumes input until a message or control frame completes, an error occurs, or the input runs out.</summary>
        public ReadStatus Feed(ReadOnlySpan<byte> input, out int consumed)
        {
            _external = null;
            int pos = 0;
            try
            {
                while (true)
                {
                    if (!_inPayload)
                    {
                        ReadStatus status = ReadHeader(input, ref pos);
                        if (status != ReadStatus.NeedMore || !_inPayload)
                        {
                            if (status == ReadStatus.NeedMore && pos < input.Length)
                            {
                                continue; // a zero-length frame finished silently (e.g. empty continuation)
                            }
                            return status;
                        }
                        continue;
                    }
                    if (pos == input.Length)
                    {
                        return ReadStatus.NeedMore;
                    }
                    int take = (int)Math.Min(_payloadLeft, input.Length - pos);
                    fixed (byte* src = &input[pos])
                    {
                        if (Opcode.IsControl(_frameOpcode))
                        {
                            _control ??= new byte[125];
                            fixed (byte* dst = &_control[_controlLength])
                            {
                                _maskOffset = Masking.Apply(src, dst, take, _maskKey, _maskOffset);
                            }
                            _controlLength += take;
                        }
                        else
                        {
                            if (Streaming && !_messageCompressed)
                            {
                                _message.Length = 0; // each chunk replaces the previous one
                            }
                            _message.Reserve(take);
                            _maskOffset = Masking.Apply(src, _message.Ptr + _message.Length, take, _maskKey, _maskOffset);
                            _message.Length += take;
                        }
                    }
                    pos += take;
                    _payloadLeft -= take;
                    if (Streaming && !_messageCompressed && !Opcode.IsControl(_frameOpcode))
                    {
                        return StreamChunk(take);
                    }
                    ReadStatus after = AfterPayload();
                    if (after != ReadStatus.NeedMore)
                    {
                        return after;
                    }
                }
            }
            finally
            {
                consumed = pos;
            }
        }

        /// <summary>
        /// When the decoder is inside a large data frame payload, returns where the owner may receive the next bytes
        /// directly (skipping a copy through its read buffer); then call <see cref="CommitDirect"/>.
        /// </summary>
        public bool TryGetDirectTarget(int minimum, out byte* target, out int length)
        {
            if (Streaming || !_inPayload || Opcode.IsControl(_frameOpcode) || _payloadLeft < Math.Max(minimum, 1))
            {
                target = null;
                length = 0;
                return false;
            }
            // Reserving the whole payload commits no memory yet: pages are touched only as bytes arrive.
            _message.Reserve(_payloadLeft);
            length = (int)Math.Min(_payloadLeft, _message.Capacity - _message.Length);
            target = _message.Ptr + _message.Length;
            return true;
        }

        /// <summary>Accounts for <paramref name="count"/> bytes received at the direct target.</summary>
        public ReadStatus CommitDirect(int count)
        {
            byte* p = _message.Ptr + _message.Length;
            _maskOffset = Masking.Apply(p, p, count, _maskKey, _maskOffset);
            _message.Length += count;
            _payloadLeft -= count;
            return AfterPayload();
        }

        public void Dispose()
        {
            _message.Free();
            _inflated.Free();
            Inflater?.Dispose();
        }

        private ReadStatus ReadHeader(ReadOnlySpan<byte> input, ref int pos)
        {
            // Gather the two fixed bytes, then the rest of this header (extended length and mask key).
            while (_headerHave < 2)
            {
                if (pos == input.Length)
                {
                    return ReadStatus.NeedMore;
                }
                _header[_headerHave++] = input[pos++];
                if (_headerHave == 1)
                {
                    ReadStatus early = CheckFirstByte(_header[0]);
                    if (early != ReadStatus.NeedMore)
                    {
                        return early;
                    }
                }
            }
            byte b1 = _header[1];
            if ((b1 & FrameHeader.MaskBit) == 0)
            {
                return Fail(1002, "client frame is not masked");
            }
            int len7 = b1 & 0x7F;
            if (Opcode.IsControl(_frameOpcode) && len7 > 125)
            {
                return Fail(1002, "control frame payload longer than 125 bytes");
            }
            int need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
            while (_headerHave < need)
            {
                if (pos == input.Length)
                {
                    return ReadStatus.NeedMore;
                }
                int copy = Math.Min(need - _headerHave, input.Length - pos);
                input.Slice(pos, copy).CopyTo(_header.AsSpan().Slice(_headerHave));
                _headerHave += copy;
                pos += copy;
            }
            long length = len7;
            if (len7 == 126)
            {
                length = BinaryPrimitives.ReadUInt16BigEndian(_header.AsSpan().Slice(2));
            }
            else if (len7 == 127)
            {
                ulong l = BinaryPrimitives.ReadUInt64BigEndian(_header.AsSpan().Slice(2));
                if (l > long.MaxValue)
                {
                    return Fail(1002, "frame length has the most significant bit set");
                }
                length = (long)l;
            }
            _maskKey = BinaryPrimitives.ReadUInt32LittleEndian(_header.AsSpan().Slice(need - 4));
            _maskOffset = 0;
            _headerHave = 0;
            return StartFrame(length);
        }

        private ReadStatus CheckFirstByte(byte b0)
        {
            _frameFin = (b0 & FrameHeader.FinBit) != 0;
            _frameOpcode = b0 & 0x0F;
            bool rsv1 = (b0 & FrameHeader.Rsv1Bit) != 0;
            if ((b0 & 0x30) != 0 || (rsv1 && !AllowRsv1))
            {
                return Fail(1002, "reserved bits set without a negotiated extension");
            }
            if (rsv1 && (Opcode.IsControl(_frameOpcode) || _frameOpcode == Opcode.Continuation))
            {
                return Fail(1002, "RSV1 is only allowed on the first frame of a data message");
            }
            if (!Opcode.IsKnown(_frameOpcode))
            {
                return Fail(1002, $"unknown opcode {_frameOpcode}");
            }
            if (Opcode.IsControl(_frameOpcode))
            {
                if (!_frameFin)
                {
                    return Fail(1002, "fragmented control frame");
                }
                return ReadStatus.NeedMore;
            }
            if (_frameOpcode == Opcode.Continuation)
            {
                if (!InMessage)
                {
                    return Fail(1002, "continuation frame without a message in progress");
                }
            }
            else if (InMessage)
            {
                return Fail(1002, "new data frame while a fragmented message is in progress");
            }
            return ReadStatus.NeedMore;
        }

        private ReadStatus StartFrame(long length)
        {
            _payloadLeft = length;
            _inPayload = true;
            if (Opcode.IsControl(_frameOpcode))
            {
                _controlOpcode = _frameOpcode;
                _controlLength = 0;
            }
            else
            {
                if (_frameOpcode != Opcode.Continuation)
                {
                    // A new message: the previous one (already handed out) is dropped here, not before. A buffer that
                    // grew for one big message is given back once messages are small again.
                    _message.ShrinkIfOversized();
                    _inflated.ShrinkIfOversized();
                    _messageOpcode = _frameOpcode;
                    _messageDone = false;
                    _message.Length = 0;
                    _messageCompressed = (_header[0] & FrameHeader.Rsv1Bit) != 0;
                    _messageFrames = 0;
                    _utf8Checked = 0;
                    _streamed = 0;
                    _utf8Stream.Reset();
                }
                long soFar = Streaming ? _streamed : _message.Length;
                if (Streaming && !_messageCompressed)
                {
                    if (ReadLimit > 0 && length > ReadLimit - soFar)
                    {
                        return Fail(1009, $"message exceeds the read limit of {ReadLimit} bytes");
                    }
                    if (++_messageFrames > MaxFrames && MaxFrames > 0)
                    {
                        return Fail(1009, $"message spans more than {MaxFrames} frames");
                    }
                    if (length == 0)
                    {
                        _inPayload = false;
                        _message.Length = 0;
                        return _frameFin ? StreamChunk(0) : ReadStatus.NeedMore;
                    }
                    return ReadStatus.NeedMore;
                }
                if (length > MaxMessageBytes - _message.Length)
                {
                    return Fail(1009, $"message exceeds {MaxMessageBytes} bytes, the most one message can hold");
                }
                // A compressed message is bounded too: its compressed size by the limit plus deflate's worst-case growth.
                long limit = ReadLimit > 0 && _messageCompressed ? ReadLimit + ReadLimit / 64 + 1024 : ReadLimit;
                if (limit > 0 && length > limit - _message.Length)
                {
                    return Fail(1009, $"message exceeds the read limit of {ReadLimit} bytes");
                }
                if (++_messageFrames > MaxFrames && MaxFrames > 0)
                {
                    return Fail(1009, $"message spans more than {MaxFrames} frames");
                }
            }
            return AfterPayload();
        }

        private ReadStatus AfterPayload()
        {
            bool control = Opcode.IsControl(_frameOpcode);
            if (!control && _messageOpcode == Opcode.Text && !_messageCompressed && _message.Length > _utf8Checked)
            {
                var fresh = new ReadOnlySpan<byte>(_message.Ptr + _utf8Checked, (int)(_message.Length - _utf8Checked));
                if (!Utf8Validation.Validate(fresh, out int pending))
                {
                    return Fail(1007, "text message is not valid UTF-8");
                }
                _utf8Checked = _message.Length - pending;
            }
            if (_payloadLeft > 0)
            {
                return ReadStatus.NeedMore;
            }
            _inPayload = false;
            if (control)
            {
                return ReadStatus.Control;
            }
            if (!_frameFin)
            {
                return ReadStatus.NeedMore;
            }
            _messageDone = true;
            if (_messageCompressed)
            {
                ReadStatus inflated = InflateMessage(_message.Ptr, _message.Length);
                if (inflated != ReadStatus.Message || !Streaming)
                {
                    return inflated;
                }
                _chunkFinal = true; // streaming a compressed message: it arrives as one final chunk
                return ReadStatus.Chunk;
            }
            if (_messageOpcode == Opcode.Text && _utf8Checked != _message.Length)
            {
                return Fail(1007, "text message ends inside a UTF-8 sequence");
            }
            return ReadStatus.Message;
        }

        /// <summary>Streaming mode: reports the chunk just copied into the message buffer.</summary>
        private ReadStatus StreamChunk(int length)
        {
            _streamed += length;
            bool frameDone = _payloadLeft == 0;
            if (frameDone)
            {
                _inPayload = false;
            }
            _chunkFinal = frameDone && _frameFin;
            if (_messageOpcode == Opcode.Text && !_utf8Stream.Append(new ReadOnlySpan<byte>(_message.Ptr, length), _chunkFinal))
            {
                return Fail(1007, "text message is not valid UTF-8");
            }
            if (_chunkFinal)
            {
                _messageDone = true;
            }
            return ReadStatus.Chunk;
        }

        /// <summary>Inflates a complete compressed message into the inflate buffer, within the read limit.</summary>
        private ReadStatus InflateMessage(byte* data, long length)
        {
            if (length == 0)
            {
                // Not a valid compressed form (that is at least 0x00), but unambiguous: an empty message. Inflating
                // nothing would leave the stream half-way through a block header.
                _inflated.Length = 0;
                _messageCompressed = true;
                _external = null;
                return ReadStatus.Message;
            }
            Compression.MessageInflater.Result result = Inflater!.Inflate(data, length, ReadLimit, ref _inflated);
            if (result == Compression.MessageInflater.Result.TooBig)
            {
                return Fail(1009, ReadLimit > 0 ? $"message inflates past the read limit of {ReadLimit} bytes" : "message inflates past 2 GiB");
            }
            if (result == Compression.MessageInflater.Result.Invalid)
            {
                return Fail(1007, "compressed message is not valid deflate data");
            }
            if (_messageOpcode == Opcode.Text && !System.Text.Unicode.Utf8.IsValid(new ReadOnlySpan<byte>(_inflated.Ptr, (int)_inflated.Length)))
            {
                return Fail(1007, "text message is not valid UTF-8");
            }
            _messageCompressed = true;
            _external = null;
            return ReadStatus.Message;
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private ReadStatus Fail(int code, string reason)
        {
            ErrorCode = code;
            ErrorReason = reason;
            return ReadStatus.Error;
        }
    }
}
