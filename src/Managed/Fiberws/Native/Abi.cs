using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using Fiberws.Server;
using Fiberws.WebSockets;

namespace Fiberws.Native
{
    /// <summary>A C fws_buffer_pool seen as the managed IWriteBufferPool.</summary>
    internal sealed unsafe class NativeBufferPool(FwsBufferPool pool) : IWriteBufferPool
    {
        public nint Get(int size) => (nint)pool.Get(pool.User, (nuint)size);

        public void Put(nint buffer, int size) => pool.Put(pool.User, (void*)buffer, (nuint)size);
    }

    /// <summary>Argument checks and conversions shared by the exports. Everything here throws FwsException/ArgumentException, which the exports turn into codes.</summary>
    internal static unsafe class Abi
    {
        public static string Str(byte* s, string parameter)
        {
            if (s == null)
            {
                throw new FwsException(ResultCode.ErrInvalidArgument, $"{parameter} is NULL");
            }
            ReadOnlySpan<byte> bytes = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(s);
            if (!System.Text.Unicode.Utf8.IsValid(bytes))
            {
                // Never rewrite a caller's text (PtrToStringUTF8 would turn bad bytes into U+FFFD silently).
                throw new FwsException(ResultCode.ErrInvalidArgument, $"{parameter} is not valid UTF-8");
            }
            return System.Text.Encoding.UTF8.GetString(bytes);
        }

        /// <summary>Checks a (data, len) message payload from C: no NULL with a length, nothing over the 2 GiB cap.</summary>
        public static void CheckPayload(byte* data, nuint len)
        {
            if (data == null && len != 0)
            {
                throw new FwsException(ResultCode.ErrInvalidArgument, "data is NULL but len is not 0");
            }
            if (len > (nuint)Protocol.MessageReader.MaxMessageBytes)
            {
                throw new FwsException(ResultCode.ErrInvalidArgument,
                    $"len {len} is larger than the largest message ({Protocol.MessageReader.MaxMessageBytes} bytes)");
            }
        }

        public static void NotNull(void* p, string parameter)
        {
            if (p == null)
            {
                throw new FwsException(ResultCode.ErrInvalidArgument, $"{parameter} is NULL");
            }
        }

        /// <summary>Copies a caller's versioned config struct over the defaults, honouring its struct_size.</summary>
        public static T ReadVersioned<T>(T* config, T defaults, string parameter)
            where T : unmanaged
        {
            if (config == null)
            {
                return defaults;
            }
            uint size = *(uint*)config;
            if (size < sizeof(uint) || size > (uint)sizeof(T))
            {
                throw new FwsException(ResultCode.ErrInvalidArgument,
                    $"{parameter}->struct_size is {size}; expected 4..{sizeof(T)} (call the *_config_init function first)");
            }
            T result = defaults;
            Buffer.MemoryCopy(config, &result, sizeof(T), size);
            return result;
        }

        public static List<string> StringArray(byte** items, nuint count, string parameter)
        {
            var list = new List<string>();
            if (count == 0)
            {
                return list;
            }
            if (items == null)
            {
                throw new FwsException(ResultCode.ErrInvalidArgument, $"{parameter} is NULL but its count is {count}");
            }
            if (count > 1024)
            {
                throw new FwsException(ResultCode.ErrInvalidArgument, $"{parameter} has {count} entries; at most 1024");
            }
            for (nuint i = 0; i < count; i++)
            {
                list.Add(Str(items[i], $"{parameter}[{i}]"));
            }
            return list;
        }

        /// <summary>Calls a C callback with a fws_ctx handle that is valid for the call only.</summary>
        public static int CallWithCtx(delegate* unmanaged<void*, FwsCtx*, int> fn, nint user, Ctx ctx)
        {
            nint h = Handles.Ctxs.Add(ctx);
            try
            {
                return fn((void*)user, (FwsCtx*)h);
            }
            finally
            {
                Handles.Ctxs.Remove(h);
            }
        }

        public static FwsAppConfig DefaultAppConfig()
        {
            var d = new AppOptions();
            return new FwsAppConfig
            {
                StructSize = (uint)sizeof(FwsAppConfig),
                MaxHeaderBytes = d.MaxHeaderBytes,
                HeaderReadTimeoutMs = (int)d.HeaderReadTimeout.TotalMilliseconds,
                HandlerStackKib = d.HandlerStackSize / 1024,
                CloseTimeoutMs = (int)d.CloseTimeout.TotalMilliseconds,
                MaxConnections = d.MaxConnections,
            };
        }

        public static FwsWsConfig DefaultWsConfig() => new()
        {
            StructSize = (uint)sizeof(FwsWsConfig),
            ReadLimit = WebSocketConfig.DefaultReadLimit,
            MaxBackpressure = WebSocketConfig.DefaultMaxBackpressure,
            CloseOnBackpressureLimit = 1,
            SendPingsAutomatically = 1,
            CompressionLevel = 1,
            CompressionThreshold = 64,
            ServerMaxWindowBits = 15,
            MaxFramesPerMessage = WebSocketConfig.DefaultMaxFramesPerMessage,
        };

        public static AppOptions ToOptions(in FwsAppConfig c)
        {
            if (c.HeaderReadTimeoutMs < 0 || c.CloseTimeoutMs < 0 || c.HandlerStackKib <= 0 || c.MaxConnections < 0)
            {
                throw new FwsException(ResultCode.ErrInvalidArgument, "timeouts and max_connections must be >= 0 and handler_stack_kib > 0");
            }
            return new AppOptions
            {
                MaxHeaderBytes = c.MaxHeaderBytes,
                HeaderReadTimeout = TimeSpan.FromMilliseconds(c.HeaderReadTimeoutMs),
                HandlerStackSize = checked(c.HandlerStackKib * 1024),
                CloseTimeout = TimeSpan.FromMilliseconds(c.CloseTimeoutMs),
                MaxConnections = c.MaxConnections,
            };
        }

        public static WebSocketConfig ToConfig(in FwsWsConfig c)
        {
            if (c.HandshakeTimeoutMs < 0 || c.IdleTimeoutMs < 0 || c.PingIntervalMs < 0 || c.PongTimeoutMs < 0 || c.MaxFramesPerMessage < 0)
            {
                throw new FwsException(ResultCode.ErrInvalidArgument,
                    "handshake_timeout_ms, idle_timeout_ms, ping_interval_ms, pong_timeout_ms and max_frames_per_message must be >= 0");
            }
            var config = new WebSocketConfig
            {
                ReadLimit = c.ReadLimit,
                ReadBufferSize = c.ReadBufferSize,
                WriteBufferSize = c.WriteBufferSize,
                Subprotocols = StringArray(c.Subprotocols, c.SubprotocolsCount, "config->subprotocols"),
                Origins = StringArray(c.Origins, c.OriginsCount, "config->origins"),
                HandshakeTimeout = TimeSpan.FromMilliseconds(c.HandshakeTimeoutMs),
                EnableCompression = c.EnableCompression != 0,
                MaxBackpressure = c.MaxBackpressure,
                CloseOnBackpressureLimit = c.CloseOnBackpressureLimit != 0,
                SendPingsAutomatically = c.SendPingsAutomatically != 0,
                IdleTimeout = TimeSpan.FromMilliseconds(Math.Max(0, c.IdleTimeoutMs)),
                CompressionLevel = c.CompressionLevel,
                CompressionThreshold = c.CompressionThreshold,
                ServerNoContextTakeover = c.ServerNoContextTakeover != 0,
                ServerMaxWindowBits = c.ServerMaxWindowBits,
                MaxFramesPerMessage = c.MaxFramesPerMessage,
                PingInterval = TimeSpan.FromMilliseconds(c.PingIntervalMs),
                PongTimeout = TimeSpan.FromMilliseconds(c.PongTimeoutMs),
            };
            if (c.WriteBufferPool != null)
            {
                FwsBufferPool pool = ReadVersioned(c.WriteBufferPool, default(FwsBufferPool), "config->write_buffer_pool");
                if (pool.Get == null || pool.Put == null)
                {
                    throw new FwsException(ResultCode.ErrInvalidArgument, "config->write_buffer_pool needs both get and put");
                }
                config.WriteBufferPool = new NativeBufferPool(pool);
            }
            if (c.Filter != null)
            {
                delegate* unmanaged<void*, FwsCtx*, int> filter = c.Filter;
                nint user = (nint)c.FilterUser;
                config.Filter = ctx =>
                {
                    int verdict = CallWithCtx(filter, user, ctx);
                    if (verdict < 0)
                    {
                        throw new FwsException(ResultCode.ErrInternal, $"filter returned {verdict}");
                    }
                    return verdict > 0;
                };
            }
            if (c.RecoverHandler != null)
            {
                delegate* unmanaged<void*, FwsConn*, byte*, void> recover = c.RecoverHandler;
                nint user = (nint)c.RecoverUser;
                config.RecoverHandler = (conn, error) =>
                {
                    byte[] message = System.Text.Encoding.UTF8.GetBytes(error.Message + "\0");
                    nint h = Handles.Conns.Add(conn);
                    try
                    {
                        fixed (byte* m = message)
                        {
                            recover((void*)user, (FwsConn*)h, m);
                        }
                    }
                    finally
                    {
                        Handles.Conns.Remove(h);
                    }
                };
            }
            return config;
        }
    
        /// <summary>A non-zero return from an event callback is a failure: it goes to the recover path (then 1011).</summary>
        private static void CheckCallback(int rc, string name)
        {
            if (rc != 0)
            {
                ThrowCallbackFailed(rc, name);
            }
        }

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        private static void ThrowCallbackFailed(int rc, string name) =>
            throw new FwsException(ResultCode.ErrInternal, $"{name} returned {rc}");

        /// <summary>Wraps the C callbacks of an event route. The connection's handle lives from on_open to the end of on_close.</summary>
        public static WebSocketEvents ToEvents(FwsWsEvents e, nint user)
        {
            delegate* unmanaged<void*, FwsConn*, int> onOpen = e.OnOpen;
            delegate* unmanaged<void*, FwsConn*, int, byte*, nuint, int> onMessage = e.OnMessage;
            delegate* unmanaged<void*, FwsConn*, int> onDrain = e.OnDrain;
            delegate* unmanaged<void*, FwsConn*, int, byte*, nuint, void> onClose = e.OnClose;
            var events = new WebSocketEvents
            {
                OnOpen = c =>
                {
                    c.BindingHandle = Handles.Conns.Add(c);
                    if (onOpen != null)
                    {
                        CheckCallback(onOpen((void*)user, (FwsConn*)c.BindingHandle), "on_open");
                    }
                },
                OnClose = (c, code, reason) =>
                {
                    try
                    {
                        if (onClose != null)
                        {
                            fixed (byte* r = reason)
                            {
                                onClose((void*)user, (FwsConn*)c.BindingHandle, code, r, (nuint)reason.Length);
                            }
                        }
                    }
                    finally
                    {
                        Handles.Conns.Remove(c.BindingHandle);
                    }
                },
            };
            if (onMessage != null)
            {
                events.OnMessage = (c, type, data) =>
                {
                    fixed (byte* p = data)
                    {
                        CheckCallback(onMessage((void*)user, (FwsConn*)c.BindingHandle, (int)type, p, (nuint)data.Length), "on_message");
                    }
                };
            }
            if (onDrain != null)
            {
                events.OnDrain = c => CheckCallback(onDrain((void*)user, (FwsConn*)c.BindingHandle), "on_drain");
            }
            return events;
        }
    }
}
