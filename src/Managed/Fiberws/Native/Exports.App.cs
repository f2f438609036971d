using System;
using System.Runtime.InteropServices;
using Fiberws.Server;
using Fiberws.WebSockets;

namespace Fiberws.Native
{
    /// <summary>Creating, configuring, running and stopping an app.</summary>
    [CGroup("Applications", Order = 0)]
    internal static unsafe class ExportsApp
    {
        /// <summary>
        /// Fills config with the defaults and sets config->struct_size. Call it before changing fields.
        /// </summary>
        /// <param name="config">The caller's struct to fill; NULL is ignored.</param>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_app_config_init")]
        public static void AppConfigInit(FwsAppConfig* config)
        {
            if (config != null)
            {
                *config = Abi.DefaultAppConfig();
            }
        }

        /// <summary>
        /// Fills config with the defaults (Fiber's websocket.Config defaults) and sets config->struct_size.
        /// </summary>
        /// <param name="config">The caller's struct to fill; NULL is ignored.</param>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_ws_config_init")]
        public static void WsConfigInit(FwsWsConfig* config)
        {
            if (config != null)
            {
                *config = Abi.DefaultWsConfig();
            }
        }

        /// <summary>Creates an app (Fiber's fiber.New()).</summary>
        /// <param name="config">Server-wide settings, or NULL for the defaults. Read during the call only.</param>
        /// <param name="app_out">
        /// Receives the new app (NULL on failure). Owned by the caller: release it with fws_app_free.
        /// </param>
        /// <returns>
        /// FWS_OK; FWS_ERR_INVALID_ARGUMENT for NULL app_out, a bad config->struct_size or a field out of range.
        /// </returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_app_new")]
        public static int AppNew([C("const fws_app_config*")] FwsAppConfig* config, FwsApp** app_out)
        {
            try
            {
                Abi.NotNull(app_out, "app_out");
                *app_out = null;
                FwsAppConfig c = Abi.ReadVersioned(config, Abi.DefaultAppConfig(), "config");
                var app = new App(Abi.ToOptions(c));
                *app_out = (FwsApp*)Handles.Apps.Add(app);
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Shuts the app down if it is running (closing connections with 1001, waiting up to 5 s for handlers; a
        /// blocked fws_app_listen returns) and releases it. The handle is invalid afterwards. NULL is a no-op.
        /// </summary>
        /// <returns>
        /// FWS_OK; FWS_ERR_INVALID_ARGUMENT for a handle that is not a live app (e.g. freed twice);
        /// FWS_ERR_INVALID_STATE when called from one of the app's own callbacks.
        /// </returns>
        /// <remarks>
        /// Thread-safety: any thread except the app's own (its middleware, filters, HTTP and WebSocket handlers, event
        /// callbacks).
        /// </remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_app_free")]
        public static int AppFree(FwsApp* app)
        {
            try
            {
                if (app == null)
                {
                    return 0;
                }
                App a = Handles.Apps.Get((nint)app, "app");
                if (a.IsServingThread)
                {
                    return LastError.Set(ResultCode.ErrInvalidState, "fws_app_free cannot be called from the app's own handler or middleware");
                }
                a.Shutdown(TimeSpan.FromSeconds(5));
                Handles.Apps.Remove((nint)app);
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Registers a middleware for every path under prefix ("/ws" matches "/ws" and "/ws/anything", "/" matches
        /// all), like Fiber's app.Use(prefix, fn). Middleware and routes run in the order they were added. The
        /// middleware returns FWS_NEXT (0) to pass the request on, or an HTTP status (e.g. 426) to answer with it.
        /// </summary>
        /// <param name="prefix">Path prefix starting with '/'; copied.</param>
        /// <param name="fn">
        /// Runs on the event loop thread for each matching request; must not block long. Its ctx is lent for that call
        /// only.
        /// </param>
        /// <param name="user">
        /// Passed to fn unchanged, never dereferenced; it must stay valid as long as fn may run (until fws_app_free).
        /// </param>
        /// <returns>
        /// FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad app, NULL fn or a bad prefix; FWS_ERR_INVALID_STATE once the app
        /// was started. On failure fn is never called.
        /// </returns>
        /// <remarks>
        /// Thread-safety: before fws_app_start / fws_app_listen, from one thread at a time (configuration calls are not
        /// synchronised).
        /// </remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_app_use")]
        public static int AppUse(FwsApp* app, [C("const char*")] byte* prefix,
            [CCallback("fws_middleware_fn", "user", "ctx")] delegate* unmanaged<void*, FwsCtx*, int> fn, void* user)
        {
            try
            {
                App a = Handles.Apps.Get((nint)app, "app");
                string p = Abi.Str(prefix, "prefix");
                Abi.NotNull(fn, "fn");
                nint u = (nint)user;
                a.Use(p, ctx => Abi.CallWithCtx(fn, u, ctx));
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Serves plain HTTP GET and HEAD requests on a route, like Fiber's app.Get(pattern, handler): a small page, a
        /// health check or an API next to the WebSocket routes. The handler runs on the event loop thread (keep it
        /// short), reads the request with the fws_ctx_* getters and answers with fws_ctx_send. Routes and middleware
        /// are tried in registration order.
        /// </summary>
        /// <param name="pattern">Route pattern in Fiber's syntax; copied.</param>
        /// <param name="handler">
        /// Returns 0, or non-zero for a failure (the client then gets 500). Its ctx is lent for that call only.
        /// </param>
        /// <param name="user">
        /// Passed to handler unchanged, never dereferenced; it must stay valid until fws_app_free.
        /// </param>
        /// <returns>
        /// FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad app, NULL handler or a bad pattern; FWS_ERR_INVALID_STATE once
        /// the app was started.
        /// </returns>
        /// <remarks>
        /// Thread-safety: before fws_app_start / fws_app_listen, from one thread at a time (configuration calls are not
        /// synchronised).
        /// </remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_app_get")]
        public static int AppGet(FwsApp* app, [C("const char*")] byte* pattern,
            [CCallback("fws_http_fn", "user", "ctx")] delegate* unmanaged<void*, FwsCtx*, int> handler, void* user)
        {
            try
            {
                App a = Handles.Apps.Get((nint)app, "app");
                string p = Abi.Str(pattern, "pattern");
                Abi.NotNull(handler, "handler");
                nint u = (nint)user;
                a.Get(p, ctx =>
                {
                    int rc = Abi.CallWithCtx(handler, u, ctx);
                    if (rc != 0)
                    {
                        throw new FwsException(ResultCode.ErrInternal, $"handler returned {rc}");
                    }
                });
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Serves WebSocket connections on a GET route, like Fiber's app.Get(pattern, websocket.New(handler, config)).
        /// The pattern uses Fiber's syntax: "/ws/:id", optional ":id?", wildcards "*" and "+". For each accepted
        /// connection, handler runs once on a thread of its own and typically loops fws_conn_read_message /
        /// fws_conn_write_message until one fails. When it returns 0 the server completes the closing handshake (1000)
        /// if the handler did not close; a non-zero return is a failure: the recover handler runs, then the connection
        /// closes with 1011.
        /// </summary>
        /// <param name="pattern">Route pattern; copied.</param>
        /// <param name="handler">The connection handler; its conn is lent until it returns.</param>
        /// <param name="config">
        /// Route settings or NULL for the defaults; read during the call only (strings are copied). Its callbacks,
        /// their user pointers and the write_buffer_pool functions are kept: they must stay valid until fws_app_free.
        /// </param>
        /// <param name="user">
        /// Passed to handler unchanged, never dereferenced; it must stay valid until fws_app_free.
        /// </param>
        /// <returns>
        /// FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad app, NULL handler, a bad pattern or config; FWS_ERR_INVALID_STATE
        /// once the app was started. On failure handler is never called.
        /// </returns>
        /// <remarks>
        /// Thread-safety: before fws_app_start / fws_app_listen, from one thread at a time (configuration calls are not
        /// synchronised).
        /// </remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_app_websocket")]
        public static int AppWebSocket(FwsApp* app, [C("const char*")] byte* pattern,
            [CCallback("fws_handler_fn", "user", "conn")] delegate* unmanaged<void*, FwsConn*, int> handler,
            [C("const fws_ws_config*")] FwsWsConfig* config, void* user)
        {
            try
            {
                App a = Handles.Apps.Get((nint)app, "app");
                string p = Abi.Str(pattern, "pattern");
                Abi.NotNull(handler, "handler");
                FwsWsConfig c = Abi.ReadVersioned(config, Abi.DefaultWsConfig(), "config");
                WebSocketConfig wsConfig = Abi.ToConfig(c);
                nint u = (nint)user;
                a.WebSocket(p, conn =>
                {
                    nint h = Handles.Conns.Add(conn);
                    int rc;
                    try
                    {
                        rc = handler((void*)u, (FwsConn*)h);
                    }
                    finally
                    {
                        Handles.Conns.Remove(h);
                    }
                    if (rc != 0)
                    {
                        throw new FwsException(ResultCode.ErrInternal, $"handler returned {rc}");
                    }
                }, wsConfig);
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Serves on addr and blocks until fws_app_shutdown or fws_app_free is called from another thread (Fiber's
        /// app.Listen). addr (read during the call) is ":3000" (all interfaces, IPv4 and IPv6), "127.0.0.1:8080",
        /// "[::1]:8080" or "localhost:8080".
        /// </summary>
        /// <returns>
        /// FWS_OK after a shutdown; FWS_ERR_INVALID_ARGUMENT for a bad app or addr; FWS_ERR_IO when the address cannot
        /// be bound (the app then cannot be started again); FWS_ERR_INVALID_STATE if it was already started or shut
        /// down.
        /// </returns>
        /// <remarks>Thread-safety: any thread, once configuration is done; it blocks that thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_app_listen")]
        public static int AppListen(FwsApp* app, [C("const char*")] byte* addr)
        {
            try
            {
                App a = Handles.Apps.Get((nint)app, "app");
                a.Listen(Abi.Str(addr, "addr"));
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Starts serving on addr (read during the call; see fws_app_listen) in the background and returns at once.
        /// Port 0 picks a free port.
        /// </summary>
        /// <param name="port_out">Receives the bound port; may be NULL.</param>
        /// <returns>
        /// FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad app or addr; FWS_ERR_IO when the address cannot be bound (the app
        /// then cannot be started again); FWS_ERR_INVALID_STATE if it was already started or shut down.
        /// </returns>
        /// <remarks>Thread-safety: any thread, once configuration is done.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_app_start")]
        public static int AppStart(FwsApp* app, [C("const char*")] byte* addr, int* port_out)
        {
            try
            {
                App a = Handles.Apps.Get((nint)app, "app");
                int port = a.Start(Abi.Str(addr, "addr"));
                if (port_out != null)
                {
                    *port_out = port;
                }
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Serves TLS (wss:// and https://) on addr and blocks until fws_app_shutdown or fws_app_free is called from
        /// another thread. cert_file is a PEM file with the server certificate followed by any intermediate
        /// certificates; key_file its private key as unencrypted PEM; both are read during the call. TLS 1.2 and 1.3
        /// through the system's OpenSSL (libssl.so.3, or 1.1), loaded on first use; ALPN selects http/1.1 when the
        /// client offers it.
        /// </summary>
        /// <returns>
        /// FWS_OK after a shutdown; FWS_ERR_INVALID_ARGUMENT for a bad app or addr, or when a file is missing,
        /// unreadable or the key does not match the certificate (fws_last_error() quotes OpenSSL); FWS_ERR_IO when the
        /// address cannot be bound or OpenSSL is not installed; FWS_ERR_INVALID_STATE if it was already started or shut
        /// down.
        /// </returns>
        /// <remarks>Thread-safety: any thread, once configuration is done; it blocks that thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_app_listen_tls")]
        public static int AppListenTls(FwsApp* app, [C("const char*")] byte* addr, [C("const char*")] byte* cert_file,
                                       [C("const char*")] byte* key_file)
        {
            try
            {
                App a = Handles.Apps.Get((nint)app, "app");
                a.ListenTls(Abi.Str(addr, "addr"), Abi.Str(cert_file, "cert_file"), Abi.Str(key_file, "key_file"));
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Starts serving TLS on addr in the background (see fws_app_listen_tls) and returns at once.
        /// </summary>
        /// <param name="port_out">Receives the bound port; may be NULL.</param>
        /// <returns>
        /// As fws_app_listen_tls, without blocking: FWS_OK; FWS_ERR_INVALID_ARGUMENT; FWS_ERR_IO;
        /// FWS_ERR_INVALID_STATE.
        /// </returns>
        /// <remarks>Thread-safety: any thread, once configuration is done.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_app_start_tls")]
        public static int AppStartTls(FwsApp* app, [C("const char*")] byte* addr, [C("const char*")] byte* cert_file,
                                      [C("const char*")] byte* key_file, int* port_out)
        {
            try
            {
                App a = Handles.Apps.Get((nint)app, "app");
                int port = a.StartTls(Abi.Str(addr, "addr"), Abi.Str(cert_file, "cert_file"), Abi.Str(key_file, "key_file"));
                if (port_out != null)
                {
                    *port_out = port;
                }
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Stops accepting, sends close 1001 (going away) to every connection, and waits up to timeout_ms for the
        /// handlers to return; connections still open then are cut. fws_app_listen then returns. Idempotent.
        /// </summary>
        /// <returns>
        /// FWS_OK when no handler is left running; FWS_ERR_TIMEOUT when some still were at the deadline (always when
        /// called from one of the app's own handlers, which it cannot wait for); FWS_ERR_INVALID_ARGUMENT for a bad app
        /// or a negative timeout_ms.
        /// </returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_app_shutdown")]
        public static int AppShutdown(FwsApp* app, int timeout_ms)
        {
            try
            {
                App a = Handles.Apps.Get((nint)app, "app");
                if (timeout_ms < 0)
                {
                    return LastError.Set(ResultCode.ErrInvalidArgument, "timeout_ms must be >= 0");
                }
                return a.Shutdown(TimeSpan.FromMilliseconds(timeout_ms)) ? 0 :
                    LastError.Set(ResultCode.ErrTimeout, $"{a.ConnectionCount} handler(s) still running after {timeout_ms} ms");
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }
    }
}
