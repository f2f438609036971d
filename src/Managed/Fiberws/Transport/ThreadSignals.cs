using System;
using System.Threading;

namespace Fiberws.Transport
{
    /// <summary>
    /// Keeps the process's asynchronous signals (SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCHLD, ...) away from the
    /// threads the library runs: its event loop, handler threads, keepalive thread and the runtime's finalizer thread
    /// block them, so the kernel delivers them to the host's threads. A host that blocks them in main and waits with
    /// sigwait (the usual pattern) then gets them even if it called into the library before blocking them; a host
    /// with handlers sees them run on its own threads. Synchronous signals (SIGSEGV, SIGFPE...) and the runtime's
    /// real-time signals are left alone: the runtime needs them.
    /// </summary>
    internal static unsafe class ThreadSignals
    {
        private static readonly int[] s_hostSignals =
        {
            1, // SIGHUP
            2, // SIGINT
            3, // SIGQUIT
            10, // SIGUSR1
            12, // SIGUSR2
            13, // SIGPIPE (the library sends with MSG_NOSIGNAL anyway)
            14, // SIGALRM
            15, // SIGTERM
            17, // SIGCHLD
            20, // SIGTSTP
            21, // SIGTTIN
            22, // SIGTTOU
            28, // SIGWINCH
        };

        private static int s_finalizerDone;

        /// <summary>Blocks the host's signals on the calling thread (one that the library owns).</summary>
        public static void BlockHostSignals()
        {
            ulong* set = stackalloc ulong[16];
            new Span<ulong>(set, 16).Clear();
            foreach (int signal in s_hostSignals)
            {
                set[(signal - 1) / 64] |= 1UL << ((signal - 1) % 64);
            }
            Libc.PthreadSigmask(Libc.SIG_BLOCK, set, null);
        }

        /// <summary>
        /// Once per process: blocks the host's signals on the runtime's finalizer thread too (it was created at the
        /// first call into the library, with whatever mask the host had then). Runs a finalizer and waits for it.
        /// </summary>
        public static void BlockOnFinalizerThread()
        {
            if (Interlocked.Exchange(ref s_finalizerDone, 1) != 0)
            {
                return;
            }
            Arm();
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        private static void Arm() => _ = new FinalizerProbe();

        private sealed class FinalizerProbe
        {
            ~FinalizerProbe() => BlockHostSignals();
        }
    }
}
