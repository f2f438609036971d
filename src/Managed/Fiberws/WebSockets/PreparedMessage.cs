using System;
using System.Text.Unicode;
using Fiberws.Protocol;

namespace Fiberws.WebSockets
{
    /// <summary>
    /// A message encoded once and sent to many connections (gorilla's PreparedMessage, WritePreparedMessage): the
    /// frame bytes are built at creation and written as they are. Immutable and thread-safe.
    /// </summary>
    public sealed unsafe class PreparedMessage
    {
        public PreparedMessage(MessageType type, ReadOnlySpan<byte> data)
        {
            if (type is not (MessageType.TextMessage or MessageType.BinaryMessage or MessageType.PingMessage or MessageType.PongMessage))
            {
                throw new FwsException(ResultCode.ErrInvalidArgument, $"a prepared message is text, binary, ping or pong, not type {(int)type}");
            }
            if (type == MessageType.TextMessage && !Utf8.IsValid(data))
            {
                throw new FwsException(ResultCode.ErrInvalidArgument, "text message is not valid UTF-8");
            }
            if (type is MessageType.PingMessage or MessageType.PongMessage && data.Length > 125)
            {
                throw new FwsException(ResultCode.ErrInvalidArgument, "a control frame carries at most 125 bytes");
            }
            Type = type;
            PayloadLength = data.Length;
            byte* header = stackalloc byte[FrameHeader.MaxServerHeader];
            int headerLength = FrameHeader.Write(header, (int)type, fin: true, rsv1: false, data.Length);
            Frame = new byte[headerLength + data.Length];
            new ReadOnlySpan<byte>(header, headerLength).CopyTo(Frame);
            data.CopyTo(Frame.AsSpan(headerLength));
        }

        public MessageType Type { get; }

        public int PayloadLength { get; }

        /// <summary>The complete frame as it goes on the wire.</summary>
        internal byte[] Frame { get; }
    }

    /// <summary>
    /// A pool of write buffers shared by connections (Fiber's WriteBufferPool): with one, a connection holds a write
    /// buffer only while a write is in progress, so idle connections hold none. Must be thread-safe.
    /// </summary>
    public interface IWriteBufferPool
    {
        /// <summary>Returns a buffer of at least <paramref name="size"/> bytes, or 0 to make the write allocate its own.</summary>
        nint Get(int size);

        /// <summary>Takes back a buffer that <see cref="Get"/> returned.</summary>
        void Put(nint buffer, int size);
    }
}
