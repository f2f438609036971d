using System.Runtime.InteropServices;

namespace Fiberws.Protocol.Compression
{
    /// <summary>
    /// The raw deflate calls of the .NET runtime's own zlib shim (System.IO.Compression.Native, linked statically into
    /// NativeAOT images), used directly because permessage-deflate needs what DeflateStream does not offer: window
    /// bits, sync and full flushes on a long-lived stream, and an inflate that can stop at a size limit.
    /// </summary>
    internal static unsafe class Zlib
    {
        private const string Lib = "libSystem.IO.Compression.Native";

        public const int Ok = 0;
        public const int StreamEnd = 1;
        public const int BufError = -5;
        public const int NoFlush = 0;
        public const int SyncFlush = 2;
        public const int FullFlush = 3;
        public const int Deflated = 8;
        public const int DefaultStrategy = 0;

        /// <summary>The runtime's PAL_ZStream: the z_stream fields a caller needs, the rest hidden behind internalState.</summary>
        [StructLayout(LayoutKind.Sequential)]
        public struct ZStream
        {
            public byte* NextIn;
            public byte* NextOut;
            public byte* Msg;
            public void* InternalState;
            public uint AvailIn;
            public uint AvailOut;
        }

        [DllImport(Lib, EntryPoint = "CompressionNative_DeflateInit2_")]
        public static extern int DeflateInit2(ZStream* stream, int level, int method, int windowBits, int memLevel, int strategy);

        [DllImport(Lib, EntryPoint = "CompressionNative_Deflate")]
        public static extern int Deflate(ZStream* stream, int flush);

        [DllImport(Lib, EntryPoint = "CompressionNative_DeflateEnd")]
        public static extern int DeflateEnd(ZStream* stream);

        [DllImport(Lib, EntryPoint = "CompressionNative_InflateInit2_")]
        public static extern int InflateInit2(ZStream* stream, int windowBits);

        [DllImport(Lib, EntryPoint = "CompressionNative_Inflate")]
        public static extern int Inflate(ZStream* stream, int flush);

        [DllImport(Lib, EntryPoint = "CompressionNative_InflateEnd")]
        public static extern int InflateEnd(ZStream* stream);

        [DllImport(Lib, EntryPoint = "CompressionNative_InflateReset2_")]
        public static extern int InflateReset2(ZStream* stream, int windowBits);
    }
}
