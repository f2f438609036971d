using System;
using System.Runtime.InteropServices;
using Fiberws.Server;
using Fiberws.WebSockets;

namespace Fiberws.Native
{
    /// <summary>The event API: callbacks on the event loop, non-blocking sends with backpressure, topics.</summary>
    [CGroup("Event API (callbacks on the event loop, for many connections)", Order = 3)]
    internal static unsafe class ExportsEvents
    {
        /// <summary>
        /// Fills events with NULL callbacks and sets events->struct_size. Call it before setting callbacks.
        /// </summary>
        /// <param name="events">The caller's struct to fill; NULL is ignored.</param>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_ws_events_init")]
        public static void WsEventsInit(FwsWsEvents* events)
        {
            if (events != null)
            {
                *events = new FwsWsEvents { StructSize = (uint)sizeof(FwsWsEvents) };
            }
        }

        /// <summary>
        /// Serves WebSocket connections on a GET route with the event API, in the style of uWebSockets: no thread per
        /// connection; on_open, on_message, on_drain and on_close run on the event loop thread. Sends (fws_conn_send)
        /// never block. The route's fws_ws_config also sets max_backpressure, idle_timeout_ms and automatic pings. The
        /// same fws_conn_* getters (param, query, cookie, header, locals, ip) work on these connections;
        /// fws_conn_read_message does not (messages arrive in on_message).
        /// </summary>
        /// <param name="pattern">Route pattern (Fiber syntax); copied.</param>
        /// <param name="events">The callbacks; the struct is read during the call only. Must not be NULL.</param>
        /// <param name="config">
        /// Route settings or NULL for the defaults; read during the call only (as for fws_app_websocket).
        /// </param>
        /// <param name="user">
        /// Passed to every callback unchanged, never dereferenced; it must stay valid until fws_app_free.
        /// </param>
        /// <returns>
        /// FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad app, pattern, events or config; FWS_ERR_INVALID_STATE once the
        /// app was started. On failure no callback is ever called.
        /// </returns>
        /// <remarks>
        /// Thread-safety: before fws_app_start / fws_app_listen, from one thread at a time (configuration calls are not
        /// synchronised).
        /// </remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_app_websocket_events")]
        public static int AppWebSocketEvents(FwsApp* app, [C("const char*")] byte* pattern, [C("const fws_ws_events*")] FwsWsEvents* events,
            [C("const fws_ws_config*")] FwsWsConfig* config, void* user)
        {
            try
            {
                App a = Handles.Apps.Get((nint)app, "app");
                string p = Abi.Str(pattern, "pattern");
                Abi.NotNull(events, "events");
                FwsWsEvents e = Abi.ReadVersioned(events, new FwsWsEvents { StructSize = (uint)sizeof(FwsWsEvents) }, "events");
                WebSocketConfig wsConfig = Abi.ToConfig(Abi.ReadVersioned(config, Abi.DefaultWsConfig(), "config"));
                a.WebSocketEvents(p, Abi.ToEvents(e, (nint)user), wsConfig);
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Queues a message on an event-API connection without blocking (uWS send). Messages queued during one loop
        /// iteration go out in one write. Also works on a blocking connection, where it is fws_conn_write_message.
        /// </summary>
        /// <param name="type">FWS_TEXT_MESSAGE (UTF-8) or FWS_BINARY_MESSAGE.</param>
        /// <param name="data">Copied before the call returns.</param>
        /// <param name="buffered_out">
        /// Receives the bytes still queued for this connection (its backpressure); may be NULL.
        /// </param>
        /// <returns>
        /// FWS_OK when queued; FWS_ERR_BACKPRESSURE when more than max_backpressure bytes were already queued: the
        /// message is dropped and, with close_on_backpressure_limit, the connection is closed; FWS_ERR_CLOSE_SENT;
        /// FWS_ERR_CLOSED; FWS_ERR_INVALID_ARGUMENT for a bad conn or type, NULL data with len above 0, or text that is
        /// not UTF-8.
        /// </returns>
        /// <remarks>
        /// Thread-safety: any thread. Off the loop thread the message is copied and queued for the loop: FWS_OK then
        /// only means queued, and a later backpressure drop or close is not reported.
        /// </remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_send")]
        public static int ConnSend(FwsConn* conn, int type, [C("const uint8_t*")] byte* data, nuint len, nuint* buffered_out)
        {
            try
            {
                WebSocketConnection c = Handles.Conns.Get((nint)conn, "conn");
                Abi.CheckPayload(data, len);
                ResultCode rc = c.TryWriteMessage((MessageType)type, data, (long)len);
                if (buffered_out != null)
                {
                    *buffered_out = (nuint)Math.Max(0, c.BufferedAmount);
                }
                return LastError.FromConn(rc);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// The bytes queued on an event-API connection that the kernel has not taken yet (0 for blocking connections).
        /// </summary>
        /// <param name="amount_out">Receives the byte count.</param>
        /// <returns>FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad conn or NULL amount_out.</returns>
        /// <remarks>Thread-safety: any thread; exact only on the loop thread (inside callbacks).</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_buffered_amount")]
        public static int ConnBufferedAmount(FwsConn* conn, nuint* amount_out)
        {
            try
            {
                WebSocketConnection c = Handles.Conns.Get((nint)conn, "conn");
                Abi.NotNull(amount_out, "amount_out");
                *amount_out = (nuint)Math.Max(0, c.BufferedAmount);
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Subscribes an event-API connection to a topic (see fws_app_publish); subscribing twice is a no-op.
        /// Subscriptions end with the connection.
        /// </summary>
        /// <param name="topic">Copied.</param>
        /// <returns>
        /// FWS_OK; FWS_ERR_INVALID_STATE for a blocking connection; FWS_ERR_INVALID_ARGUMENT for a bad conn or a NULL
        /// or non-UTF-8 topic.
        /// </returns>
        /// <remarks>
        /// Thread-safety: any thread; off the loop thread it is queued and takes effect shortly after.
        /// </remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_subscribe")]
        public static int ConnSubscribe(FwsConn* conn, [C("const char*")] byte* topic)
        {
            try
            {
                if (Handles.Conns.Get((nint)conn, "conn") is not EventConn c)
                {
                    return LastError.Set(ResultCode.ErrInvalidState, "topics are for event-API connections (fws_app_websocket_events)");
                }
                c.Subscribe(Abi.Str(topic, "topic"));
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>Unsubscribes an event-API connection from a topic.</summary>
        /// <param name="topic">Copied.</param>
        /// <returns>
        /// FWS_OK; FWS_ERR_NOT_FOUND when it was not subscribed (known on the loop thread only; elsewhere FWS_OK);
        /// FWS_ERR_INVALID_STATE for a blocking connection; FWS_ERR_INVALID_ARGUMENT for a bad conn or topic.
        /// </returns>
        /// <remarks>
        /// Thread-safety: any thread; off the loop thread it is queued and takes effect shortly after.
        /// </remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_conn_unsubscribe")]
        public static int ConnUnsubscribe(FwsConn* conn, [C("const char*")] byte* topic)
        {
            try
            {
                if (Handles.Conns.Get((nint)conn, "conn") is not EventConn c)
                {
                    return LastError.Set(ResultCode.ErrInvalidState, "topics are for event-API connections (fws_app_websocket_events)");
                }
                string t = Abi.Str(topic, "topic");
                return c.Unsubscribe(t) ? 0 : LastError.Set(ResultCode.ErrNotFound, $"not subscribed to '{t}'");
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Sends a message to every connection subscribed to topic, framing it once (uWS publish). Subscribers over
        /// their max_backpressure skip it (and are disconnected with close_on_backpressure_limit).
        /// </summary>
        /// <param name="topic">Copied.</param>
        /// <param name="data">Copied before the call returns.</param>
        /// <param name="receivers_out">
        /// Receives the number of subscribers it was queued to, or -1 when called from outside the loop thread (then it
        /// is queued on the loop); may be NULL.
        /// </param>
        /// <returns>
        /// FWS_OK; FWS_ERR_INVALID_STATE before the app was started; FWS_ERR_INVALID_ARGUMENT for a bad app, NULL
        /// topic, a type other than text or binary, text that is not UTF-8, or NULL data with len above 0.
        /// </returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_app_publish")]
        public static int AppPublish(FwsApp* app, [C("const char*")] byte* topic, int type, [C("const uint8_t*")] byte* data, nuint len, int* receivers_out)
        {
            try
            {
                App a = Handles.Apps.Get((nint)app, "app");
                string t = Abi.Str(topic, "topic");
                Abi.CheckPayload(data, len);
                int n = a.Publish(t, (MessageType)type, new ReadOnlySpan<byte>(data, (int)len));
                if (receivers_out != null)
                {
                    *receivers_out = n;
                }
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }
    }
}
