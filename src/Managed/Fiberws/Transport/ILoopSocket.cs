namespace Fiberws.Transport
{
    /// <summary>A socket served by the event loop after its upgrade (the event API's connections). Loop thread only.</summary>
    internal interface ILoopSocket
    {
        int Fd { get; }

        /// <summary>epoll reported events for this socket.</summary>
        void OnEvents(uint events);

        /// <summary>Sends what was queued during this loop iteration (writes are batched per iteration).</summary>
        void Flush();

        /// <summary>Periodic check of timers (idle timeout, ping, close timeout).</summary>
        void OnTick(long now);

        /// <summary>The loop is stopping: close with 1001 and release everything.</summary>
        void OnLoopStopping();
    }
}
