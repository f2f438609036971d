using System;
using Fiberws.Handshake;
using Fiberws.Protocol;
using Fiberws.Protocol.Compression;

namespace Fiberws.WebSockets
{
    /// <summary>
    /// The sending half of permessage-deflate for one connection: whether to compress a message (enabled, above the
    /// threshold), with which deflater (its own with context takeover; the thread's shared one without), and the
    /// buffer the compressed bytes go to. Used under the connection's write lock (or on the loop thread).
    /// </summary>
    internal sealed unsafe class OutgoingCompression : IDisposable
    {
        private readonly DeflateParameters _parameters;
        private MessageDeflater? _own;
        private NativeBuffer _output;

        public OutgoingCompression(DeflateParameters parameters, int level, int threshold)
        {
            _parameters = parameters;
            Level = level;
            Threshold = threshold;
        }

        /// <summary>EnableWriteCompression: compress outgoing messages (default true once negotiated).</summary>
        public bool Enabled { get; set; } = true;

        /// <summary>zlib level 1 (fastest) to 9 (smallest).</summary>
        public int Level { get; private set; }

        /// <summary>Messages shorter than this many bytes go uncompressed (as Node's ws does).</summary>
        public int Threshold { get; }

        public void SetLevel(int level)
        {
            if (level < 1 || level > 9)
            {
                throw new FwsException(ResultCode.ErrInvalidArgument, $"compression level must be 1..9, not {level}");
            }
            if (level != Level)
            {
                // Our context only shapes our own output, so starting a fresh deflater is invisible to the peer.
                _own?.Dispose();
                _own = null;
                Level = level;
            }
        }

        /// <summary>Compresses a data message when worthwhile; the result stays valid until the next call.</summary>
        public bool TryCompress(byte* data, long length, out byte* compressed, out long compressedLength)
        {
            compressed = null;
            compressedLength = 0;
            if (!Enabled || length < Threshold)
            {
                return false;
            }
            MessageDeflater deflater = _parameters.ServerNoContextTakeover
                ? MessageDeflater.Shared(Level, _parameters.ServerMaxWindowBits)
                : _own ??= new MessageDeflater(Level, _parameters.ServerMaxWindowBits, noContextTakeover: false);
            _output.ShrinkIfOversized();
            _output.Length = 0;
            deflater.Compress(data, length, ref _output);
            compressed = _output.Ptr;
            compressedLength = _output.Length;
            return true;
        }

        public void Dispose()
        {
            _own?.Dispose();
            _own = null;
            _output.Free();
        }
    }
}
