using System;
using System.Runtime.InteropServices;
using Fiberws.WebSockets;

namespace Fiberws.Native
{
    /// <summary>A WebSocket connection inside its handler (Fiber's *websocket.Conn).</summary>
    [CGroup("WebSocket connections", Order = 2)]
    internal static unsafe class ExportsConn
    {
        /// <summary>
        /// Reads the next complete message (ReadMessage). Pings met on the way are answered, a close from the peer is
        /// echoed. Blocks until a message arrives or the connection ends. Blocking connections only.
        /// </summary>
        /// <param name="type_out">Receives FWS_TEXT_MESSAGE or FWS_BINARY_MESSAGE; may be NULL.</param>
        /// <param name="data_out">
        /// Receives the payload, not NUL-terminated. Lent: valid until the next read on this conn or until the handler
        /// returns.
        /// </param>
        /// <param name="len_out">Receives the payload length.</param>
        /// <returns>
        /// FWS_OK; FWS_ERR_CLOSED when the peer closed (fws_conn_close_code() tells its code; 1006 if TCP dropped) or
        /// the connection was closed locally; FWS_ERR_PROTOCOL when the peer broke the protocol (closed with
        /// 1002/1007); FWS_ERR_READ_LIMIT when a message exceeded the read limit (closed with 1009); FWS_ERR_TIMEOUT
        /// after the read deadline; FWS_ERR_INTERNAL when a ping or pong handler failed; FWS_ERR_BUSY when another
        /// thread is reading; FWS_ERR_INVALID_STATE on an event-API connection; FWS_ERR_INVALID_ARGUMENT. Read failures
        /// are sticky.
        /// </returns>
        /// <remarks>
        /// Thread-safety: one reading thread at a time (a concurrent read gets FWS_ERR_BUSY), alongside any writers.
        /// </remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_read_message")]
        public static int ConnReadMessage(FwsConn* conn, int* type_out, [C("const uint8_t**")] byte** data_out, nuint* len_out)
        {
            try
            {
                if (Handles.Conns.Get((nint)conn, "conn") is not Conn c)
                {
                    return LastError.Set(ResultCode.ErrInvalidState, "fws_conn_read_message is for blocking handlers; event-API connections receive messages in on_message");
                }
                Abi.NotNull(data_out, "data_out");
                Abi.NotNull(len_out, "len_out");
                *data_out = null;
                *len_out = 0;
                ResultCode rc = c.TryReadMessage(out MessageType type, out byte* data, out long length);
                if (rc != ResultCode.Ok)
                {
                    return LastError.FromConn(rc);
                }
                if (type_out != null)
                {
                    *type_out = (int)type;
                }
                *data_out = data;
                *len_out = (nuint)length;
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Sends a message as one frame (WriteMessage). type is FWS_TEXT_MESSAGE (data must be UTF-8) or
        /// FWS_BINARY_MESSAGE; a control type is sent as fws_conn_write_control would. data is copied or sent before
        /// the call returns. Blocks until the kernel has taken the bytes; on an event-API connection it is
        /// fws_conn_send.
        /// </summary>
        /// <returns>
        /// FWS_OK; FWS_ERR_CLOSE_SENT after a close frame was sent; FWS_ERR_CLOSED when the connection is gone;
        /// FWS_ERR_TIMEOUT when the write deadline passed (writes are then broken); FWS_ERR_INVALID_ARGUMENT for a bad
        /// conn or type, NULL data with len above 0, or text that is not UTF-8; FWS_ERR_BACKPRESSURE (event API).
        /// </returns>
        /// <remarks>Thread-safety: any thread; writes are serialised.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_write_message")]
        public static int ConnWriteMessage(FwsConn* conn, int type, [C("const uint8_t*")] byte* data, nuint len)
        {
            try
            {
                WebSocketConnection c = Handles.Conns.Get((nint)conn, "conn");
                Abi.CheckPayload(data, len);
                ResultCode rc = c.TryWriteMessage((MessageType)type, data, (long)len);
                return LastError.FromConn(rc);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Sends a control frame (WriteControl): FWS_PING_MESSAGE, FWS_PONG_MESSAGE or FWS_CLOSE_MESSAGE with at most
        /// 125 bytes (a close payload is a 2-byte code and UTF-8 reason: see fws_format_close_message). data is copied
        /// or sent before the call returns.
        /// </summary>
        /// <param name="timeout_ms">
        /// How long to wait for a write in progress on another thread; 0 = no limit. Ignored by the event API.
        /// </param>
        /// <returns>
        /// FWS_OK; FWS_ERR_TIMEOUT when timeout_ms (or the write deadline) passed; FWS_ERR_CLOSE_SENT after a close
        /// frame (also for a second one); FWS_ERR_CLOSED; FWS_ERR_INVALID_ARGUMENT for a bad conn, another type, over
        /// 125 bytes or an invalid close payload. Event API: as fws_conn_send.
        /// </returns>
        /// <remarks>Thread-safety: any thread, also while other threads read or write.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_write_control")]
        public static int ConnWriteControl(FwsConn* conn, int type, [C("const uint8_t*")] byte* data, nuint len, int timeout_ms)
        {
            try
            {
                WebSocketConnection c = Handles.Conns.Get((nint)conn, "conn");
                if (len > 125)
                {
                    return LastError.Set(ResultCode.ErrInvalidArgument, $"control frame payload is {len} bytes; at most 125");
                }
                if (timeout_ms < 0)
                {
                    return LastError.Set(ResultCode.ErrInvalidArgument, "timeout_ms must be >= 0");
                }
                ResultCode rc = c.TryWriteControl((MessageType)type, data, (long)len, timeout_ms);
                return LastError.FromConn(rc);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Closes the connection: sends a close frame with code and reason (unless one was sent already) and wakes a
        /// read blocked on another thread, which returns FWS_ERR_CLOSED. After the handler returns, the server waits
        /// briefly for the peer's close frame and then drops TCP. Idempotent. Event API: queued when called off the
        /// loop.
        /// </summary>
        /// <param name="code">
        /// A close code (FWS_CLOSE_*; 1000-1003, 1007-1014, 3000-4999), or 1005 to send none.
        /// </param>
        /// <param name="reason">UTF-8 text of at most 123 bytes, or NULL for none; copied.</param>
        /// <returns>
        /// FWS_OK (also when already closed); FWS_ERR_INVALID_ARGUMENT for a bad conn, code or reason (a reason with
        /// 1005 included); FWS_ERR_TIMEOUT when a write blocked on a peer that does not read kept the close frame out:
        /// the connection was cut instead.
        /// </returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_close")]
        public static int ConnClose(FwsConn* conn, int code, [C("const char*")] byte* reason)
        {
            try
            {
                WebSocketConnection c = Handles.Conns.Get((nint)conn, "conn");
                string r = reason == null ? string.Empty : Abi.Str(reason, "reason");
                ResultCode rc = c.TryClose(code, r);
                return LastError.FromConn(rc);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// The close code the peer sent: 1005 if its close frame had none, 1006 if TCP dropped without one, 0 while
        /// open.
        /// </summary>
        /// <param name="code_out">Receives the code.</param>
        /// <returns>FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad conn or NULL code_out.</returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_close_code")]
        public static int ConnCloseCode(FwsConn* conn, int* code_out)
        {
            try
            {
                WebSocketConnection c = Handles.Conns.Get((nint)conn, "conn");
                Abi.NotNull(code_out, "code_out");
                *code_out = c.CloseCodeReceived;
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>The reason text of the peer's close frame.</summary>
        /// <param name="value_out">
        /// Receives NUL-terminated UTF-8, "" if none. Lent: valid until conn ends (its handler, or on_close, returns).
        /// </param>
        /// <param name="len_out">Receives the length in bytes; may be NULL.</param>
        /// <returns>FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad conn or NULL value_out.</returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_close_text")]
        public static int ConnCloseText(FwsConn* conn, [C("const char**")] byte** value_out, nuint* len_out)
        {
            try
            {
                WebSocketConnection c = Handles.Conns.Get((nint)conn, "conn");
                return Lending.Value(c.Context, "closetext", c.CloseTextReceived, value_out, len_out);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Sets the largest message accepted from now on, in bytes (SetReadLimit); 0 = no limit. A larger message
        /// closes the connection with 1009 and the read returns FWS_ERR_READ_LIMIT.
        /// </summary>
        /// <returns>FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad conn or a negative limit.</returns>
        /// <remarks>Thread-safety: the reading thread, between reads (event API: the loop thread).</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_set_read_limit")]
        public static int ConnSetReadLimit(FwsConn* conn, long limit)
        {
            try
            {
                WebSocketConnection c = Handles.Conns.Get((nint)conn, "conn");
                if (limit < 0)
                {
                    return LastError.Set(ResultCode.ErrInvalidArgument, "limit must be >= 0");
                }
                c.SetReadLimit(limit);
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Stores value under key on the connection (shared with the request's Locals), replacing an earlier value.
        /// </summary>
        /// <param name="key">Copied.</param>
        /// <param name="value">
        /// Stored as is; the library never dereferences or frees it: the caller keeps what it points to alive while it
        /// may be read.
        /// </param>
        /// <returns>FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad conn or a NULL or non-UTF-8 key.</returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_locals_set")]
        public static int ConnLocalsSet(FwsConn* conn, [C("const char*")] byte* key, void* value)
        {
            try
            {
                Handles.Conns.Get((nint)conn, "conn").SetLocal(Abi.Str(key, "key"), (nint)value);
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Reads a value set by middleware (fws_ctx_locals_set) or on the conn (Fiber's c.Locals(key)).
        /// </summary>
        /// <param name="value_out">
        /// Receives the stored pointer as is (NULL when absent); what it points to is owned by whoever stored it.
        /// </param>
        /// <returns>
        /// FWS_OK; FWS_ERR_NOT_FOUND when the key was never set; FWS_ERR_INVALID_ARGUMENT for a bad conn, NULL key or
        /// NULL value_out.
        /// </returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_locals_get")]
        public static int ConnLocalsGet(FwsConn* conn, [C("const char*")] byte* key, void** value_out)
        {
            try
            {
                return Lending.Local(Handles.Conns.Get((nint)conn, "conn").Context, key, value_out);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// A route parameter of the upgrade request (Fiber's c.Params(name)); "*" and "+" alias "*1" and "+1".
        /// </summary>
        /// <param name="value_out">
        /// Receives NUL-terminated UTF-8, "" when absent. Lent: valid until conn ends (its handler, or on_close,
        /// returns).
        /// </param>
        /// <param name="len_out">Receives the length in bytes; may be NULL.</param>
        /// <returns>
        /// FWS_OK; FWS_ERR_NOT_FOUND when absent (value_out is then ""); FWS_ERR_INVALID_ARGUMENT for a bad conn, a
        /// NULL or non-UTF-8 name, or NULL value_out.
        /// </returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_param")]
        public static int ConnParam(FwsConn* conn, [C("const char*")] byte* name, [C("const char**")] byte** value_out, nuint* len_out)
        {
            try
            {
                return Lending.Lookup(Handles.Conns.Get((nint)conn, "conn").Context, Lending.Param, name, value_out, len_out);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// A query parameter of the upgrade request, decoded (Fiber's c.Query(name)). Same as fws_conn_param otherwise.
        /// </summary>
        /// <param name="value_out">
        /// Receives NUL-terminated UTF-8, "" when absent. Lent: valid until conn ends (its handler, or on_close,
        /// returns).
        /// </param>
        /// <returns>
        /// FWS_OK; FWS_ERR_NOT_FOUND when absent (value_out is then ""); FWS_ERR_INVALID_ARGUMENT for a bad conn, a
        /// NULL or non-UTF-8 name, or NULL value_out.
        /// </returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_query")]
        public static int ConnQuery(FwsConn* conn, [C("const char*")] byte* name, [C("const char**")] byte** value_out, nuint* len_out)
        {
            try
            {
                return Lending.Lookup(Handles.Conns.Get((nint)conn, "conn").Context, Lending.Query, name, value_out, len_out);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// A cookie of the upgrade request (Fiber's c.Cookies(name)). Same as fws_conn_param otherwise.
        /// </summary>
        /// <param name="value_out">
        /// Receives NUL-terminated UTF-8, "" when absent. Lent: valid until conn ends (its handler, or on_close,
        /// returns).
        /// </param>
        /// <returns>
        /// FWS_OK; FWS_ERR_NOT_FOUND when absent (value_out is then ""); FWS_ERR_INVALID_ARGUMENT for a bad conn, a
        /// NULL or non-UTF-8 name, or NULL value_out.
        /// </returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_cookie")]
        public static int ConnCookie(FwsConn* conn, [C("const char*")] byte* name, [C("const char**")] byte** value_out, nuint* len_out)
        {
            try
            {
                return Lending.Lookup(Handles.Conns.Get((nint)conn, "conn").Context, Lending.Cookie, name, value_out, len_out);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// A header of the upgrade request, name case-insensitive (Fiber's c.Headers(name)). Same as fws_conn_param
        /// otherwise.
        /// </summary>
        /// <param name="value_out">
        /// Receives NUL-terminated UTF-8, "" when absent. Lent: valid until conn ends (its handler, or on_close,
        /// returns).
        /// </param>
        /// <returns>
        /// FWS_OK; FWS_ERR_NOT_FOUND when absent (value_out is then ""); FWS_ERR_INVALID_ARGUMENT for a bad conn, a
        /// NULL or non-UTF-8 name, or NULL value_out.
        /// </returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_header")]
        public static int ConnHeader(FwsConn* conn, [C("const char*")] byte* name, [C("const char**")] byte** value_out, nuint* len_out)
        {
            try
            {
                return Lending.Lookup(Handles.Conns.Get((nint)conn, "conn").Context, Lending.Header, name, value_out, len_out);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>The client's IP address as text (Fiber's c.IP()).</summary>
        /// <param name="value_out">
        /// Receives NUL-terminated UTF-8, "" when unknown. Lent: valid until conn ends (its handler, or on_close,
        /// returns).
        /// </param>
        /// <param name="len_out">Receives the length in bytes; may be NULL.</param>
        /// <returns>FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad conn or NULL value_out.</returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_ip")]
        public static int ConnIp(FwsConn* conn, [C("const char**")] byte** value_out, nuint* len_out)
        {
            try
            {
                WebSocketConnection c = Handles.Conns.Get((nint)conn, "conn");
                return Lending.Value(c.Context, "ip", c.IP, value_out, len_out);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>The negotiated subprotocol (Subprotocol()).</summary>
        /// <param name="value_out">
        /// Receives NUL-terminated UTF-8, "" when none. Lent: valid until conn ends (its handler, or on_close,
        /// returns).
        /// </param>
        /// <param name="len_out">Receives the length in bytes; may be NULL.</param>
        /// <returns>FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad conn or NULL value_out.</returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_subprotocol")]
        public static int ConnSubprotocol(FwsConn* conn, [C("const char**")] byte** value_out, nuint* len_out)
        {
            try
            {
                WebSocketConnection c = Handles.Conns.Get((nint)conn, "conn");
                return Lending.Value(c.Context, "subprotocol", c.Subprotocol, value_out, len_out);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }
    }
}
