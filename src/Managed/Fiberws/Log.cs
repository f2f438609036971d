using System;
using System.Threading;
using Fiberws.Native;

namespace Fiberws
{
    /// <summary>Severity of a library message.</summary>
    [CEnum("fws_log_level", "FWS_LOG_")]
    public enum LogLevel
    {
        /// <summary>Per-connection detail: TLS handshake failures, dropped slow clients, idle timeouts.</summary>
        Debug = 0,
        /// <summary>Lifecycle: listening, shutting down.</summary>
        Info = 1,
        /// <summary>Something was refused or cut short, the server carries on (accept failures, connection cap reached).</summary>
        Warn = 2,
        /// <summary>A handler or callback failed, or the server cannot go on.</summary>
        Error = 3,
        /// <summary>As a minimum level: nothing is logged.</summary>
        Off = 4,
    }

    /// <summary>
    /// Where the library's messages go. By default warnings and errors are written to stderr, one line each;
    /// <see cref="SetSink"/> sends them (from the chosen level up) to the application instead. Process-wide.
    /// Thread-safety: messages may come from any library thread, concurrently; the sink must cope.
    /// </summary>
    public static class Log
    {
        private sealed record Target(Action<LogLevel, string>? Sink, LogLevel MinLevel);

        private static Target s_target = new(null, LogLevel.Warn);

        /// <summary>Sends messages of minLevel and above to sink; a null sink restores the default (stderr, warnings up).</summary>
        public static void SetSink(Action<LogLevel, string>? sink, LogLevel minLevel)
        {
            Volatile.Write(ref s_target, sink == null ? new Target(null, LogLevel.Warn) : new Target(sink, minLevel));
        }

        /// <summary>True when a message of this level would go anywhere (skip building the text otherwise).</summary>
        public static bool IsEnabled(LogLevel level) => level >= Volatile.Read(ref s_target).MinLevel && level < LogLevel.Off;

        /// <summary>Writes one message. Never throws: a failing sink is ignored.</summary>
        public static void Write(LogLevel level, string message)
        {
            Target target = Volatile.Read(ref s_target);
            if (level < target.MinLevel || level >= LogLevel.Off)
            {
                return;
            }
            try
            {
                if (target.Sink != null)
                {
                    target.Sink(level, message);
                }
                else
                {
                    WriteStderr(message);
                }
            }
            catch (Exception)
            {
                // a broken sink or a closed stderr: nothing more to do
            }
        }

        /// <summary>
        /// One line to file descriptor 2 with write(2). Not System.Console: initialising it would also install the
        /// runtime's terminal and signal handling (SIGTERM, SIGCHLD, ...) in the host process, which is not ours.
        /// </summary>
        private static unsafe void WriteStderr(string message)
        {
            byte[] line = System.Text.Encoding.UTF8.GetBytes(message + "\n");
            fixed (byte* p = line)
            {
                long done = 0;
                while (done < line.Length)
                {
                    nint n = Transport.Libc.Write(2, p + done, (nuint)(line.Length - done));
                    if (n <= 0)
                    {
                        return; // stderr closed or full: the message is dropped
                    }
                    done += n;
                }
            }
        }
    }
}
