using System;
using System.Runtime.InteropServices;
using Fiberws.Server;

namespace Fiberws.Native
{
    /// <summary>Logging and counters.</summary>
    [CGroup("Logging and statistics", Order = 5)]
    internal static unsafe class ExportsDiagnostics
    {
        private sealed class LogTarget(nint fn, nint user)
        {
            public void Write(LogLevel level, string message)
            {
                byte[] text = System.Text.Encoding.UTF8.GetBytes(message + "\0");
                fixed (byte* p = text)
                {
                    ((delegate* unmanaged<void*, int, byte*, void>)fn)((void*)user, (int)level, p);
                }
            }
        }

        /// <summary>
        /// Sends the library's messages of min_level (an FWS_LOG_* value) and above to fn instead of stderr. By default
        /// (and after a call with fn NULL) warnings and errors go to stderr, one line each; FWS_LOG_OFF as min_level
        /// silences everything. Process-wide: one callback for every app, kept until the next call.
        /// </summary>
        /// <param name="fn">
        /// Called with user, the level and the message (UTF-8, NUL-terminated, lent for the call only). It may run on
        /// any library thread, concurrently, and must not call back into fws_set_log_callback.
        /// </param>
        /// <param name="user">Passed to fn unchanged, never dereferenced.</param>
        /// <param name="min_level">FWS_LOG_DEBUG (0) to FWS_LOG_OFF (4); ignored when fn is NULL.</param>
        /// <returns>FWS_OK; FWS_ERR_INVALID_ARGUMENT when min_level is out of range.</returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_set_log_callback")]
        public static int SetLogCallback([CCallback("fws_log_fn", "user", "level", "message:const char*")] delegate* unmanaged<void*, int, byte*, void> fn,
                                         void* user, int min_level)
        {
            try
            {
                if (fn == null)
                {
                    Log.SetSink(null, LogLevel.Warn);
                    return 0;
                }
                if (min_level < (int)LogLevel.Debug || min_level > (int)LogLevel.Off)
                {
                    return LastError.Set(ResultCode.ErrInvalidArgument, $"min_level must be FWS_LOG_DEBUG..FWS_LOG_OFF (0..4), not {min_level}");
                }
                var target = new LogTarget((nint)fn, (nint)user);
                Log.SetSink(target.Write, (LogLevel)min_level);
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }

        /// <summary>
        /// Fills stats with the app's counters: open connections, messages and bytes in and out, and requests refused
        /// by reason. Counters of busy threads may lag by a few messages. Works before start and after shutdown too.
        /// </summary>
        /// <param name="stats">
        /// The caller's struct, written during the call only; its struct_size must be set (fields past it are not
        /// written).
        /// </param>
        /// <returns>FWS_OK; FWS_ERR_INVALID_ARGUMENT for a bad app, NULL stats or a struct_size below 8.</returns>
        /// <remarks>Thread-safety: any thread.</remarks>
        [UnmanagedCallersOnly(EntryPoint = "fws_app_stats")]
        public static int AppStats(FwsApp* app, FwsAppStats* stats)
        {
            try
            {
                App a = Handles.Apps.Get((nint)app, "app");
                Abi.NotNull(stats, "stats");
                uint size = stats->StructSize;
                if (size < 8)
                {
                    return LastError.Set(ResultCode.ErrInvalidArgument, "stats->struct_size must be set to sizeof(fws_stats)");
                }
                AppStats s = a.Stats();
                var full = new FwsAppStats
                {
                    StructSize = size,
                    ConnectionsOpen = s.ConnectionsOpen,
                    WebsocketsOpen = s.WebSocketsOpen,
                    ConnectionsAccepted = s.ConnectionsAccepted,
                    WebsocketsOpened = s.WebSocketsOpened,
                    MessagesIn = s.MessagesIn,
                    MessagesOut = s.MessagesOut,
                    BytesIn = s.BytesIn,
                    BytesOut = s.BytesOut,
                    RefusedBadRequest = s.Refused[(int)RefusalReason.BadRequest],
                    RefusedBadHandshake = s.Refused[(int)RefusalReason.BadHandshake],
                    RefusedUpgradeRequired = s.Refused[(int)RefusalReason.UpgradeRequired],
                    RefusedForbidden = s.Refused[(int)RefusalReason.Forbidden],
                    RefusedNotFound = s.Refused[(int)RefusalReason.NotFound],
                    RefusedMiddleware = s.Refused[(int)RefusalReason.Middleware],
                    RefusedTimeout = s.Refused[(int)RefusalReason.Timeout],
                    RefusedTooManyConnections = s.Refused[(int)RefusalReason.TooManyConnections],
                };
                Buffer.MemoryCopy(&full, stats, size, Math.Min(size, (uint)sizeof(FwsAppStats)));
                return 0;
            }
            catch (Exception e)
            {
                return LastError.From(e);
            }
        }
    }
}
