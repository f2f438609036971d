using System;
using System.Runtime.InteropServices;
using Fiberws.WebSockets;

namespace Fiberws.Native
{
    /// <summary>gorilla's Conn surface beyond ReadMessage/WriteMessage: streaming, deadlines, control handlers, prepared messages.</summary>
    [CGroup("Streaming, deadlines, control handlers and prepared messages", Order = 4)]
    internal static unsafe class ExportsStream
    {
        private static Conn Blocking(FwsConn* conn, string function)
        {
            return Handles.Conns.Get((nint)conn, "conn") as Conn ??
                throw new FwsException(ResultCode.ErrInvalidState, $"{function} is for blocking handlers (fws_app_websocket), not event-API connections");
        }

        /// <summary>
        /// Starts reading the next message piece by piece (NextReader), without buffering it whole. Control frames are
        /// handled on the way as by fws_conn_read_message. An earlier message not read to its end is skipped.
        /// </summary>
        /// <param name="type_out">Receives FWS_TEXT_MESSAGE or FWS_BINARY_MESSAGE. Must not be NULL.</param>
        /// <returns>
        /// FWS_OK; the read failures of fws_conn_read_message (FWS_ERR_CLOSED, FWS_ERR_PROTOCOL, FWS_ERR_READ_LIMIT,
        /// FWS_ERR_TIMEOUT, FWS_ERR_INTERNAL, FWS_ERR_BUSY); FWS_ERR_INVALID_STATE on an event-API connection;
        /// FWS_ERR_INVALID_ARGUMENT.
        /// </returns>
        /// <remarks>Thread-safety: one reading thread at a time, as fws_conn_read_message.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_next_reader")]
        public static int ConnNextReader(FwsConn* conn, int* type_out)
        {
            try
            {
                Conn c = Blocking(conn, "fws_conn_next_reader");
                Abi.NotNull(type_out, "type_out");
                ResultCode rc = c.TryNextReader(out MessageType type);
                *type_out = (int)type;
                return LastError.FromConn(rc);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// The next piece of the message opened by fws_conn_next_reader, as it arrived (at most one frame's worth).
        /// Text is validated as UTF-8 across pieces.
        /// </summary>
        /// <param name="data_out">
        /// Receives the piece, not NUL-terminated. Lent: valid until the next read call on this conn or until the
        /// handler returns.
        /// </param>
        /// <param name="len_out">Receives its length (may be 0).</param>
        /// <returns>
        /// FWS_OK; FWS_END_OF_MESSAGE when the message is complete (or none is open); the read failures of
        /// fws_conn_read_message (FWS_ERR_CLOSED, FWS_ERR_PROTOCOL, FWS_ERR_READ_LIMIT, FWS_ERR_TIMEOUT,
        /// FWS_ERR_INTERNAL, FWS_ERR_BUSY); FWS_ERR_INVALID_STATE on an event-API connection; FWS_ERR_INVALID_ARGUMENT.
        /// </returns>
        /// <remarks>Thread-safety: one reading thread at a time, as fws_conn_read_message.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_read_chunk")]
        public static int ConnReadChunk(FwsConn* conn, [C("const uint8_t**")] byte** data_out, nuint* len_out)
        {
            try
            {
                Conn c = Blocking(conn, "fws_conn_read_chunk");
                Abi.NotNull(data_out, "data_out");
                Abi.NotNull(len_out, "len_out");
                ResultCode rc = c.TryReadChunk(out byte* data, out int length);
                *data_out = data;
                *len_out = (nuint)length;
                return LastError.FromConn(rc);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// JoinMessages: reads the next count messages and returns them as one buffer, each followed by term (e.g.
        /// "\n").
        /// </summary>
        /// <param name="term">
        /// Terminator bytes (at most 4096), read during the call only; may be NULL when term_len is 0.
        /// </param>
        /// <param name="data_out">
        /// Receives the joined bytes. Lent: valid until the next read call on this conn or until the handler returns.
        /// </param>
        /// <param name="len_out">Receives their length.</param>
        /// <returns>
        /// FWS_OK; the read failures of fws_conn_read_message (FWS_ERR_CLOSED, FWS_ERR_PROTOCOL, FWS_ERR_READ_LIMIT,
        /// FWS_ERR_TIMEOUT, FWS_ERR_INTERNAL, FWS_ERR_BUSY), the messages read before it being lost;
        /// FWS_ERR_INVALID_STATE on an event-API connection; FWS_ERR_INVALID_ARGUMENT for count outside 1..1000000,
        /// term_len over 4096 or a NULL pointer.
        /// </returns>
        /// <remarks>Thread-safety: one reading thread at a time, as fws_conn_read_message.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_join_messages")]
        public static int ConnJoinMessages(FwsConn* conn, nuint count, [C("const uint8_t*")] byte* term, nuint term_len,
            [C("const uint8_t**")] byte** data_out, nuint* len_out)
        {
            try
            {
                Conn c = Blocking(conn, "fws_conn_join_messages");
                Abi.NotNull(data_out, "data_out");
                Abi.NotNull(len_out, "len_out");
                if ((term == null && term_len > 0) || term_len > 4096 || count == 0 || count > 1_000_000)
                {
                    return LastError.Set(ResultCode.ErrInvalidArgument, "count must be 1..1000000 and term at most 4096 bytes (non-NULL if term_len > 0)");
                }
                ResultCode rc = c.TryJoinMessages((int)count, new ReadOnlySpan<byte>(term, (int)term_len), out byte* data, out long length);
                *data_out = data;
                *len_out = (nuint)length;
                return LastError.FromConn(rc);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Opens a message to be written in pieces (NextWriter): each fws_conn_write_fragment sends one frame, and
        /// fws_conn_close_writer sends the final one. Other data writes, and another next_writer, wait until it is
        /// closed; control frames don't.
        /// </summary>
        /// <param name="type">FWS_TEXT_MESSAGE or FWS_BINARY_MESSAGE.</param>
        /// <returns>
        /// FWS_OK; FWS_ERR_CLOSE_SENT or FWS_ERR_CLOSED after close; FWS_ERR_INVALID_ARGUMENT for a bad conn or another
        /// type; FWS_ERR_INVALID_STATE on an event-API connection.
        /// </returns>
        /// <remarks>Thread-safety: any thread; the pieces of one message should come from one thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_next_writer")]
        public static int ConnNextWriter(FwsConn* conn, int type)
        {
            try
            {
                return LastError.FromConn(Blocking(conn, "fws_conn_next_writer").TryNextWriter((MessageType)type));
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Sends the next piece of the open message as one frame (text: UTF-8, validated across pieces).
        /// </summary>
        /// <param name="data">Sent or copied before the call returns.</param>
        /// <returns>
        /// FWS_OK; FWS_ERR_INVALID_STATE when no writer is open (or on an event-API connection);
        /// FWS_ERR_INVALID_ARGUMENT for text that is not UTF-8 or NULL data with len above 0; FWS_ERR_CLOSE_SENT;
        /// FWS_ERR_CLOSED; FWS_ERR_TIMEOUT (write deadline).
        /// </returns>
        /// <remarks>
        /// Thread-safety: any thread (serialised with other writes); normally the thread that called
        /// fws_conn_next_writer.
        /// </remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_write_fragment")]
        public static int ConnWriteFragment(FwsConn* conn, [C("const uint8_t*")] byte* data, nuint len)
        {
            try
            {
                Conn c = Blocking(conn, "fws_conn_write_fragment");
                if (len > (nuint)Protocol.MessageReader.MaxMessageBytes)
                {
                    return LastError.Set(ResultCode.ErrInvalidArgument, $"len {len} is too large");
                }
                return LastError.FromConn(c.TryWriteFragment(data, (long)len));
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>Ends the open message with a final frame.</summary>
        /// <returns>
        /// FWS_OK; FWS_ERR_INVALID_STATE when no writer is open (or on an event-API connection);
        /// FWS_ERR_INVALID_ARGUMENT when text stops inside a UTF-8 sequence (the writer stays open);
        /// FWS_ERR_CLOSE_SENT; FWS_ERR_CLOSED; FWS_ERR_TIMEOUT.
        /// </returns>
        /// <remarks>
        /// Thread-safety: any thread (serialised with other writes); normally the thread that called
        /// fws_conn_next_writer.
        /// </remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_close_writer")]
        public static int ConnCloseWriter(FwsConn* conn)
        {
            try
            {
                return LastError.FromConn(Blocking(conn, "fws_conn_close_writer").TryCloseWriter());
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// SetReadDeadline: a read still blocked timeout_ms from now fails with FWS_ERR_TIMEOUT, after which the
        /// connection cannot be read any more (as in gorilla). 0 clears the deadline.
        /// </summary>
        /// <returns>
        /// FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad conn or a negative timeout_ms; FWS_ERR_INVALID_STATE on an
        /// event-API connection.
        /// </returns>
        /// <remarks>Thread-safety: the reading thread, between reads.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_set_read_deadline")]
        public static int ConnSetReadDeadline(FwsConn* conn, long timeout_ms)
        {
            try
            {
                Conn c = Blocking(conn, "fws_conn_set_read_deadline");
                if (timeout_ms < 0)
                {
                    return LastError.Set(ResultCode.ErrInvalidArgument, "timeout_ms must be >= 0");
                }
                c.SetReadDeadline(TimeSpan.FromMilliseconds(timeout_ms));
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// SetWriteDeadline: a write still blocked timeout_ms from now (a peer that does not read) fails with
        /// FWS_ERR_TIMEOUT and the connection is then broken for writes. 0 clears the deadline.
        /// </summary>
        /// <returns>
        /// FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad conn or a negative timeout_ms; FWS_ERR_INVALID_STATE on an
        /// event-API connection.
        /// </returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_set_write_deadline")]
        public static int ConnSetWriteDeadline(FwsConn* conn, long timeout_ms)
        {
            try
            {
                Conn c = Blocking(conn, "fws_conn_set_write_deadline");
                if (timeout_ms < 0)
                {
                    return LastError.Set(ResultCode.ErrInvalidArgument, "timeout_ms must be >= 0");
                }
                c.SetWriteDeadline(TimeSpan.FromMilliseconds(timeout_ms));
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// SetPingHandler: fn runs for each ping, with its payload (lent for the call); a non-zero return fails the
        /// read (FWS_ERR_INTERNAL). NULL restores the default, which answers with a pong. fn and user are kept until
        /// replaced or the connection ends.
        /// </summary>
        /// <returns>
        /// FWS_OK; FWS_ERR_INVALID_STATE on an event-API connection; FWS_ERR_INVALID_ARGUMENT for a bad conn.
        /// </returns>
        /// <remarks>Thread-safety: the reading thread, between reads; fn then runs on it, inside reads.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_set_ping_handler")]
        public static int ConnSetPingHandler(FwsConn* conn,
            [CCallback("fws_control_fn", "user", "conn", "data:const uint8_t*", "len")] delegate* unmanaged<void*, FwsConn*, byte*, nuint, int> fn, void* user)
        {
            try
            {
                Conn c = Blocking(conn, "fws_conn_set_ping_handler");
                c.PingHandler = fn == null ? null : ControlHandler(fn, (nint)user, (nint)conn);
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// SetPongHandler: fn runs for each pong. NULL restores the default (nothing). Same contract as the ping
        /// handler.
        /// </summary>
        /// <returns>
        /// FWS_OK; FWS_ERR_INVALID_STATE on an event-API connection; FWS_ERR_INVALID_ARGUMENT for a bad conn.
        /// </returns>
        /// <remarks>Thread-safety: the reading thread, between reads; fn then runs on it, inside reads.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_set_pong_handler")]
        public static int ConnSetPongHandler(FwsConn* conn,
            [CCallback("fws_control_fn", "user", "conn", "data:const uint8_t*", "len")] delegate* unmanaged<void*, FwsConn*, byte*, nuint, int> fn, void* user)
        {
            try
            {
                Conn c = Blocking(conn, "fws_conn_set_pong_handler");
                c.PongHandler = fn == null ? null : ControlHandler(fn, (nint)user, (nint)conn);
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// SetCloseHandler: fn runs when the peer's close frame arrives, with its code and reason (lent for the call,
        /// not NUL-terminated); its return value is ignored. It replaces the default, which echoes the code: send your
        /// own close with fws_conn_close if wanted. The read then fails with FWS_ERR_CLOSED as usual. NULL restores the
        /// default.
        /// </summary>
        /// <returns>
        /// FWS_OK; FWS_ERR_INVALID_STATE on an event-API connection; FWS_ERR_INVALID_ARGUMENT for a bad conn.
        /// </returns>
        /// <remarks>Thread-safety: the reading thread, between reads; fn then runs on it, inside reads.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_set_close_handler")]
        public static int ConnSetCloseHandler(FwsConn* conn,
            [CCallback("fws_close_handler_fn", "user", "conn", "code", "text:const uint8_t*", "len")] delegate* unmanaged<void*, FwsConn*, int, byte*, nuint, int> fn,
            void* user)
        {
            try
            {
                Conn c = Blocking(conn, "fws_conn_set_close_handler");
                if (fn == null)
                {
                    c.CloseHandler = null;
                    return 0;
                }
                nint u = (nint)user;
                nint h = (nint)conn;
                c.CloseHandler = (_, code, text) =>
                {
                    byte[] bytes = System.Text.Encoding.UTF8.GetBytes(text);
                    fixed (byte* t = bytes)
                    {
                        return fn((void*)u, (FwsConn*)h, code, t, (nuint)bytes.Length) == 0 ? ResultCode.Ok : ResultCode.ErrInternal;
                    }
                };
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        private static ControlFrameHandler ControlHandler(delegate* unmanaged<void*, FwsConn*, byte*, nuint, int> fn, nint user, nint conn)
        {
            return (_, payload) =>
            {
                fixed (byte* p = payload)
                {
                    return fn((void*)user, (FwsConn*)conn, p, (nuint)payload.Length) == 0 ? ResultCode.Ok : ResultCode.ErrInternal;
                }
            };
        }

        /// <summary>
        /// Frames a message once so it can be sent to many connections, of any app (NewPreparedMessage). type is text,
        /// binary, ping or pong. data is copied.
        /// </summary>
        /// <param name="message_out">
        /// Receives the message (NULL on failure). Owned by the caller: release it with fws_prepared_message_free.
        /// </param>
        /// <returns>
        /// FWS_OK; FWS_ERR_INVALID_ARGUMENT for NULL message_out, another type, text that is not UTF-8, a ping or pong
        /// over 125 bytes, or NULL data with len above 0.
        /// </returns>
        /// <remarks>
        /// Thread-safety: any thread; the message is immutable and may be sent from several threads at once.
        /// </remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_prepared_message_new")]
        public static int PreparedMessageNew(int type, [C("const uint8_t*")] byte* data, nuint len, FwsPreparedMessage** message_out)
        {
            try
            {
                Abi.NotNull(message_out, "message_out");
                *message_out = null;
                if ((data == null && len != 0) || len > (nuint)Protocol.MessageReader.MaxMessageBytes)
                {
                    return LastError.Set(ResultCode.ErrInvalidArgument, "data is NULL with len > 0, or len is too large");
                }
                var message = new PreparedMessage((MessageType)type, new ReadOnlySpan<byte>(data, (int)len));
                *message_out = (FwsPreparedMessage*)Handles.Prepared.Add(message);
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Releases a prepared message. Writes already started or queued with it finish normally. NULL is a no-op.
        /// </summary>
        /// <returns>
        /// FWS_OK; FWS_ERR_INVALID_ARGUMENT for a handle that is not a live prepared message (e.g. freed twice).
        /// </returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_prepared_message_free")]
        public static int PreparedMessageFree(FwsPreparedMessage* message)
        {
            try
            {
                if (message == null)
                {
                    return 0;
                }
                Handles.Prepared.Get((nint)message, "message");
                Handles.Prepared.Remove((nint)message);
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Sends a prepared message (WritePreparedMessage) on a blocking or event-API connection. message is not kept:
        /// it may be freed as soon as the call returns.
        /// </summary>
        /// <returns>
        /// FWS_OK; FWS_ERR_CLOSE_SENT; FWS_ERR_CLOSED; FWS_ERR_TIMEOUT (write deadline); FWS_ERR_BACKPRESSURE (event
        /// API, on the loop thread); FWS_ERR_INVALID_ARGUMENT for a bad conn or message.
        /// </returns>
        /// <remarks>
        /// Thread-safety: any thread; writes are serialised (event API: queued when called off the loop).
        /// </remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_write_prepared")]
        public static int ConnWritePrepared(FwsConn* conn, FwsPreparedMessage* message)
        {
            try
            {
                WebSocketConnection c = Handles.Conns.Get((nint)conn, "conn");
                PreparedMessage m = Handles.Prepared.Get((nint)message, "message");
                return LastError.FromConn(c.TryWritePrepared(m));
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>The peer's address (RemoteAddr).</summary>
        /// <param name="value_out">
        /// Receives "ip:port" ("[ip]:port" for IPv6) as NUL-terminated UTF-8, "" when unknown. Lent: valid until conn
        /// ends (its handler, or on_close, returns).
        /// </param>
        /// <param name="len_out">Receives the length in bytes; may be NULL.</param>
        /// <returns>FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad conn or NULL value_out.</returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_remote_addr")]
        public static int ConnRemoteAddr(FwsConn* conn, [C("const char**")] byte** value_out, nuint* len_out)
        {
            try
            {
                WebSocketConnection c = Handles.Conns.Get((nint)conn, "conn");
                return Lending.Value(c.Context, "remoteaddr", c.RemoteAddr?.ToString() ?? string.Empty, value_out, len_out);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>The server's address of this connection (LocalAddr).</summary>
        /// <param name="value_out">
        /// Receives "ip:port" as NUL-terminated UTF-8, "" when unknown. Lent: valid until conn ends (its handler, or
        /// on_close, returns).
        /// </param>
        /// <param name="len_out">Receives the length in bytes; may be NULL.</param>
        /// <returns>FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad conn or NULL value_out.</returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_local_addr")]
        public static int ConnLocalAddr(FwsConn* conn, [C("const char**")] byte** value_out, nuint* len_out)
        {
            try
            {
                WebSocketConnection c = Handles.Conns.Get((nint)conn, "conn");
                return Lending.Value(c.Context, "localaddr", c.LocalAddr?.ToString() ?? string.Empty, value_out, len_out);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }
    
        /// <summary>
        /// EnableWriteCompression: with permessage-deflate negotiated, compress outgoing messages (1, the default) or
        /// not (0). No effect when the extension was not negotiated.
        /// </summary>
        /// <returns>FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad conn.</returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_enable_write_compression")]
        public static int ConnEnableWriteCompression(FwsConn* conn, byte enable)
        {
            try
            {
                Handles.Conns.Get((nint)conn, "conn").EnableWriteCompression(enable != 0);
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// SetCompressionLevel: the zlib level (1 fastest .. 9 smallest) for later messages. No effect without the
        /// extension.
        /// </summary>
        /// <returns>FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad conn or a level outside 1..9.</returns>
        /// <remarks>
        /// Thread-safety: not while another thread writes on this conn: call it from the writing thread, between writes
        /// (event API: the loop thread).
        /// </remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_set_compression_level")]
        public static int ConnSetCompressionLevel(FwsConn* conn, int level)
        {
            try
            {
                Handles.Conns.Get((nint)conn, "conn").SetCompressionLevel(level);
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// The negotiated extensions, as sent in the 101 response's Sec-WebSocket-Extensions (e.g. "permessage-deflate;
        /// client_no_context_takeover").
        /// </summary>
        /// <param name="value_out">
        /// Receives NUL-terminated UTF-8, "" when none. Lent: valid until conn ends (its handler, or on_close,
        /// returns).
        /// </param>
        /// <param name="len_out">Receives the length in bytes; may be NULL.</param>
        /// <returns>FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad conn or NULL value_out.</returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_extensions")]
        public static int ConnExtensions(FwsConn* conn, [C("const char**")] byte** value_out, nuint* len_out)
        {
            try
            {
                WebSocketConnection c = Handles.Conns.Get((nint)conn, "conn");
                return Lending.Value(c.Context, "extensions", c.Extensions, value_out, len_out);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }
    }
}
