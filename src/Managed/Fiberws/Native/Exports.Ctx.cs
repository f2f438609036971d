using System;
using System.Runtime.InteropServices;
using Fiberws.Server;

namespace Fiberws.Native
{
    /// <summary>The request seen by middleware and filters (Fiber's *fiber.Ctx).</summary>
    [CGroup("Request context (middleware and filters)", Order = 1)]
    internal static unsafe class ExportsCtx
    {
        /// <summary>
        /// In a plain HTTP route's handler (fws_app_get): sets the response, like Fiber's c.Status(status).Send(body).
        /// A later call replaces an earlier one. Without a call the route answers 200, empty.
        /// </summary>
        /// <param name="status">HTTP status, 200..599.</param>
        /// <param name="content_type">The Content-Type, e.g. "text/html; charset=utf-8"; copied; no CR or LF.</param>
        /// <param name="body">The body bytes (NULL only with len 0); copied.</param>
        /// <returns>
        /// FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad ctx, a status outside 200..599, a content type that is NULL, not
        /// UTF-8 or holds CR or LF, NULL body with len above 0, or a body over 2 GiB.
        /// </returns>
        /// <remarks>Thread-safety: inside the callback that received ctx (on the event loop thread).</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_ctx_send")]
        public static int CtxSend(FwsCtx* ctx, int status, [C("const char*")] byte* content_type, [C("const void*")] void* body, nuint len)
        {
            try
            {
                Ctx c = Handles.Ctxs.Get((nint)ctx, "ctx");
                string type = Abi.Str(content_type, "content_type");
                if (body == null && len != 0)
                {
                    return LastError.Set(ResultCode.ErrInvalidArgument, "body is NULL but len is not 0");
                }
                if (len > int.MaxValue)
                {
                    return LastError.Set(ResultCode.ErrInvalidArgument, "body is larger than 2 GiB");
                }
                c.Send(status, type, new ReadOnlySpan<byte>(body, (int)len));
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>Whether the client asked to upgrade to WebSocket (Fiber's websocket.IsWebSocketUpgrade).</summary>
        /// <returns>1 if it did, 0 if not; FWS_ERR_INVALID_ARGUMENT for a bad ctx.</returns>
        /// <remarks>Thread-safety: inside the callback that received ctx (on the event loop thread).</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_ctx_is_websocket_upgrade")]
        public static int CtxIsWebSocketUpgrade(FwsCtx* ctx)
        {
            try
            {
                return Handles.Ctxs.Get((nint)ctx, "ctx").IsWebSocketUpgrade ? 1 : 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Stores value under key (Fiber's c.Locals(key, value)), replacing an earlier value. Later middleware and the
        /// WebSocket connection read it back.
        /// </summary>
        /// <param name="key">Copied.</param>
        /// <param name="value">
        /// Stored as is; the library never dereferences or frees it: the caller keeps what it points to alive while it
        /// may be read.
        /// </param>
        /// <returns>FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad ctx or a NULL or non-UTF-8 key.</returns>
        /// <remarks>Thread-safety: inside the callback that received ctx (on the event loop thread).</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_ctx_locals_set")]
        public static int CtxLocalsSet(FwsCtx* ctx, [C("const char*")] byte* key, void* value)
        {
            try
            {
                Handles.Ctxs.Get((nint)ctx, "ctx").SetLocal(Abi.Str(key, "key"), (nint)value);
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>Reads the value stored under key (Fiber's c.Locals(key)).</summary>
        /// <param name="value_out">
        /// Receives the stored pointer as is (NULL when absent); what it points to is owned by whoever stored it.
        /// </param>
        /// <returns>
        /// FWS_OK; FWS_ERR_NOT_FOUND when the key was never set; FWS_ERR_INVALID_ARGUMENT for a bad ctx, NULL key or
        /// NULL value_out.
        /// </returns>
        /// <remarks>Thread-safety: inside the callback that received ctx (on the event loop thread).</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_ctx_locals_get")]
        public static int CtxLocalsGet(FwsCtx* ctx, [C("const char*")] byte* key, void** value_out)
        {
            try
            {
                return Lending.Local(Handles.Ctxs.Get((nint)ctx, "ctx"), key, value_out);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>A route parameter (Fiber's c.Params(name)). Empty in a middleware, which has no route.</summary>
        /// <param name="value_out">
        /// Receives NUL-terminated UTF-8, "" when absent. Lent: valid until the callback that received ctx returns.
        /// </param>
        /// <param name="len_out">Receives the length in bytes; may be NULL.</param>
        /// <returns>
        /// FWS_OK; FWS_ERR_NOT_FOUND when absent (value_out is then ""); FWS_ERR_INVALID_ARGUMENT for a bad ctx, a NULL
        /// or non-UTF-8 name, or NULL value_out.
        /// </returns>
        /// <remarks>Thread-safety: inside the callback that received ctx (on the event loop thread).</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_ctx_param")]
        public static int CtxParam(FwsCtx* ctx, [C("const char*")] byte* name, [C("const char**")] byte** value_out, nuint* len_out)
        {
            try
            {
                return Lending.Lookup(Handles.Ctxs.Get((nint)ctx, "ctx"), Lending.Param, name, value_out, len_out);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>A query parameter, decoded (Fiber's c.Query(name)). Same as fws_ctx_param otherwise.</summary>
        /// <param name="value_out">
        /// Receives NUL-terminated UTF-8, "" when absent. Lent: valid until the callback that received ctx returns.
        /// </param>
        /// <returns>
        /// FWS_OK; FWS_ERR_NOT_FOUND when absent (value_out is then ""); FWS_ERR_INVALID_ARGUMENT for a bad ctx, a NULL
        /// or non-UTF-8 name, or NULL value_out.
        /// </returns>
        /// <remarks>Thread-safety: inside the callback that received ctx (on the event loop thread).</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_ctx_query")]
        public static int CtxQuery(FwsCtx* ctx, [C("const char*")] byte* name, [C("const char**")] byte** value_out, nuint* len_out)
        {
            try
            {
                return Lending.Lookup(Handles.Ctxs.Get((nint)ctx, "ctx"), Lending.Query, name, value_out, len_out);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>A cookie's value (Fiber's c.Cookies(name)). Same as fws_ctx_param otherwise.</summary>
        /// <param name="value_out">
        /// Receives NUL-terminated UTF-8, "" when absent. Lent: valid until the callback that received ctx returns.
        /// </param>
        /// <returns>
        /// FWS_OK; FWS_ERR_NOT_FOUND when absent (value_out is then ""); FWS_ERR_INVALID_ARGUMENT for a bad ctx, a NULL
        /// or non-UTF-8 name, or NULL value_out.
        /// </returns>
        /// <remarks>Thread-safety: inside the callback that received ctx (on the event loop thread).</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_ctx_cookie")]
        public static int CtxCookie(FwsCtx* ctx, [C("const char*")] byte* name, [C("const char**")] byte** value_out, nuint* len_out)
        {
            try
            {
                return Lending.Lookup(Handles.Ctxs.Get((nint)ctx, "ctx"), Lending.Cookie, name, value_out, len_out);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// A request header, name case-insensitive, repeats joined by ", " (Fiber's c.Get(name)). Same as fws_ctx_param
        /// otherwise.
        /// </summary>
        /// <param name="value_out">
        /// Receives NUL-terminated UTF-8, "" when absent. Lent: valid until the callback that received ctx returns.
        /// </param>
        /// <returns>
        /// FWS_OK; FWS_ERR_NOT_FOUND when absent (value_out is then ""); FWS_ERR_INVALID_ARGUMENT for a bad ctx, a NULL
        /// or non-UTF-8 name, or NULL value_out.
        /// </returns>
        /// <remarks>Thread-safety: inside the callback that received ctx (on the event loop thread).</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_ctx_header")]
        public static int CtxHeader(FwsCtx* ctx, [C("const char*")] byte* name, [C("const char**")] byte** value_out, nuint* len_out)
        {
            try
            {
                return Lending.Lookup(Handles.Ctxs.Get((nint)ctx, "ctx"), Lending.Header, name, value_out, len_out);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>The request path, e.g. "/ws/123" (not decoded).</summary>
        /// <param name="value_out">
        /// Receives NUL-terminated UTF-8. Lent: valid until the callback that received ctx returns.
        /// </param>
        /// <param name="len_out">Receives the length in bytes; may be NULL.</param>
        /// <returns>FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad ctx or NULL value_out.</returns>
        /// <remarks>Thread-safety: inside the callback that received ctx (on the event loop thread).</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_ctx_path")]
        public static int CtxPath(FwsCtx* ctx, [C("const char**")] byte** value_out, nuint* len_out)
        {
            try
            {
                Ctx c = Handles.Ctxs.Get((nint)ctx, "ctx");
                return Lending.Value(c, "path", c.Path, value_out, len_out);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>The client's IP address as text.</summary>
        /// <param name="value_out">
        /// Receives NUL-terminated UTF-8 ("" when unknown). Lent: valid until the callback that received ctx returns.
        /// </param>
        /// <param name="len_out">Receives the length in bytes; may be NULL.</param>
        /// <returns>FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad ctx or NULL value_out.</returns>
        /// <remarks>Thread-safety: inside the callback that received ctx (on the event loop thread).</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_ctx_ip")]
        public static int CtxIp(FwsCtx* ctx, [C("const char**")] byte** value_out, nuint* len_out)
        {
            try
            {
                Ctx c = Handles.Ctxs.Get((nint)ctx, "ctx");
                return Lending.Value(c, "ip", c.IP, value_out, len_out);
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }
    }

    /// <summary>The lookups shared by fws_ctx_* and fws_conn_*.</summary>
    internal static unsafe class Lending
    {
        public const int Param = 0;
        public const int Query = 1;
        public const int Cookie = 2;
        public const int Header = 3;

        private static readonly string[] s_kinds = ["param", "query", "cookie", "header"];

        public static int Lookup(Ctx ctx, int kind, byte* name, byte** valueOut, nuint* lengthOut)
        {
            string n = Abi.Str(name, "name");
            Abi.NotNull(valueOut, "value_out");
            string? value = kind switch
            {
                Param => ctx.Params(n),
                Query => ctx.Query(n),
                Cookie => ctx.Cookies(n),
                _ => ctx.Headers(n),
            };
            if (value == null)
            {
                NativeStrings.For(ctx).Lend(string.Empty, string.Empty, valueOut, lengthOut);
                return LastError.Set(ResultCode.ErrNotFound, $"no {s_kinds[kind]} named '{n}'");
            }
            NativeStrings.For(ctx).Lend(s_kinds[kind] + ":" + n, value, valueOut, lengthOut);
            return 0;
        }

        public static int Value(Ctx ctx, string key, string value, byte** valueOut, nuint* lengthOut)
        {
            Abi.NotNull(valueOut, "value_out");
            NativeStrings.For(ctx).Lend(key, value, valueOut, lengthOut);
            return 0;
        }

        public static int Local(Ctx ctx, byte* key, void** valueOut)
        {
            string k = Abi.Str(key, "key");
            Abi.NotNull(valueOut, "value_out");
            *valueOut = null;
            if (!ctx.TryGetLocal(k, out object? value))
            {
                return LastError.Set(ResultCode.ErrNotFound, $"no local named '{k}'");
            }
            *valueOut = value is nint p ? (void*)p : null;
            return 0;
        }
    }
}
