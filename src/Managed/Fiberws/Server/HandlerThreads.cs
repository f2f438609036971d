using System;
using System.Collections.Generic;
using System.Threading;

namespace Fiberws.Server
{
    /// <summary>
    /// The threads that run blocking handlers. A thread whose connection ended waits a while for the next one
    /// instead of exiting, so a busy server does not create and destroy a thread per connection (thread creation
    /// dominated the handshake rate). At most <see cref="MaxIdle"/> threads wait, each for <see cref="IdleTime"/>;
    /// Stop releases them all. Thread-safety: Start and Stop from any thread.
    /// </summary>
    internal sealed class HandlerThreads
    {
        public const int MaxIdle = 256;
        public static readonly TimeSpan IdleTime = TimeSpan.FromSeconds(30);

        private readonly object _lock = new();
        private readonly List<Worker> _idle = new();
        private readonly int _stackSize;
        private bool _stopped;

        public HandlerThreads(int stackSize)
        {
            _stackSize = stackSize;
        }

        /// <summary>Runs work on a waiting thread, or on a new one.</summary>
        public void Start(Action work)
        {
            lock (_lock)
            {
                if (_idle.Count > 0)
                {
                    Worker w = _idle[_idle.Count - 1];
                    _idle.RemoveAt(_idle.Count - 1);
                    w.Assign(work);
                    return;
                }
            }
            var worker = new Worker(this, work);
            var thread = new Thread(worker.Loop, _stackSize) { IsBackground = true, Name = "fiberws-conn" };
            thread.Start();
        }

        /// <summary>Lets every waiting thread exit; threads still running handlers exit when those end.</summary>
        public void Stop()
        {
            List<Worker> idle;
            lock (_lock)
            {
                _stopped = true;
                idle = new List<Worker>(_idle);
                _idle.Clear();
            }
            foreach (Worker w in idle)
            {
                w.Assign(null);
            }
        }

        /// <summary>Parks a worker; false when it should exit instead (pool full or stopped).</summary>
        private bool Park(Worker w)
        {
            lock (_lock)
            {
                if (_stopped || _idle.Count >= MaxIdle)
                {
                    return false;
                }
                _idle.Add(w);
                return true;
            }
        }

        /// <summary>Called by a worker whose wait timed out: true when it left the idle list (and may exit).</summary>
        private bool Retire(Worker w)
        {
            lock (_lock)
            {
                return _idle.Remove(w);
            }
        }

        private sealed class Worker(HandlerThreads pool, Action first)
        {
            private Action? _next = first;
            private bool _assigned = true;

            public void Assign(Action? work)
            {
                lock (this)
                {
                    _next = work;
                    _assigned = true;
                    Monitor.Pulse(this);
                }
            }

            public void Loop()
            {
                try
                {
                    Transport.ThreadSignals.BlockHostSignals();
                    Serve();
                }
                finally
                {
                    Native.LastError.ReleaseThread(); // the thread's fws_last_error buffer goes with it
                }
            }

            private void Serve()
            {
                while (true)
                {
                    Action? work;
                    lock (this)
                    {
                        work = _next;
                        _next = null;
                        _assigned = false;
                    }
                    if (work == null)
                    {
                        return; // released by Stop
                    }
                    try
                    {
                        work();
                    }
                    catch (Exception)
                    {
                        // Conn.Run reports its own failures; nothing may escape a thread (it would end the process).
                    }
                    if (!pool.Park(this))
                    {
                        return;
                    }
                    lock (this)
                    {
                        while (!_assigned)
                        {
                            if (!Monitor.Wait(this, IdleTime) && !_assigned)
                            {
                                if (pool.Retire(this))
                                {
                                    return;
                                }
                                // Start popped this worker just now: its work is on the way.
                            }
                        }
                    }
                }
            }
        }
    }
}
