using System.Collections.Generic;
using System.Threading;

namespace Fiberws.Server
{
    /// <summary>Why a request did not become a WebSocket connection (fws_app_stats counts each).</summary>
    public enum RefusalReason
    {
        /// <summary>The request head was malformed or too large (400, 414, 431, 505).</summary>
        BadRequest = 0,
        /// <summary>A WebSocket route got an invalid upgrade (400: bad key, version, method...).</summary>
        BadHandshake = 1,
        /// <summary>A WebSocket route got a plain request or an unsupported version (426).</summary>
        UpgradeRequired = 2,
        /// <summary>The Origin is not allowed (403).</summary>
        Forbidden = 3,
        /// <summary>No route matched (404, 405).</summary>
        NotFound = 4,
        /// <summary>A middleware or filter answered with a status of its own, or failed (500).</summary>
        Middleware = 5,
        /// <summary>The head did not arrive within the header-read or handshake timeout.</summary>
        Timeout = 6,
        /// <summary>The connection cap was reached (503).</summary>
        TooManyConnections = 7,
    }

    /// <summary>A snapshot of an app's counters (fws_app_stats). Counters only grow, except the open counts.</summary>
    public readonly struct AppStats
    {
        /// <summary>Connections open now: WebSocket connections plus HTTP connections not (yet) upgraded.</summary>
        public long ConnectionsOpen { get; init; }
        /// <summary>WebSocket connections open now (both APIs).</summary>
        public long WebSocketsOpen { get; init; }
        /// <summary>TCP connections accepted since the start.</summary>
        public long ConnectionsAccepted { get; init; }
        /// <summary>Successful upgrades since the start.</summary>
        public long WebSocketsOpened { get; init; }
        /// <summary>Whole messages received (after reassembly and decompression).</summary>
        public long MessagesIn { get; init; }
        /// <summary>Whole messages sent (a publish counts once per subscriber).</summary>
        public long MessagesOut { get; init; }
        /// <summary>Payload bytes of the messages received (uncompressed).</summary>
        public long BytesIn { get; init; }
        /// <summary>Payload bytes of the messages sent (uncompressed).</summary>
        public long BytesOut { get; init; }
        /// <summary>Requests refused, by <see cref="RefusalReason"/>.</summary>
        public IReadOnlyList<long> Refused { get; init; }
    }

    /// <summary>
    /// Message and byte counters of one thread for one app. Each thread that moves messages (the loop, handler
    /// threads, application threads that write) increments its own, with plain adds; a snapshot sums them all.
    /// </summary>
    internal sealed class TrafficCounters
    {
        [System.ThreadStatic] private static TrafficCounters? t_current;

        private readonly App _app;
        public long MessagesIn;
        public long MessagesOut;
        public long BytesIn;
        public long BytesOut;

        private TrafficCounters(App app) => _app = app;

        /// <summary>The calling thread's counters for app (created and registered on first use).</summary>
        public static TrafficCounters For(App app)
        {
            TrafficCounters? c = t_current;
            if (c != null && c._app == app)
            {
                return c;
            }
            c = new TrafficCounters(app);
            app.RegisterCounters(c);
            t_current = c;
            return c;
        }

        public void Received(long bytes)
        {
            MessagesIn++;
            BytesIn += bytes;
        }

        public void Sent(long bytes)
        {
            MessagesOut++;
            BytesOut += bytes;
        }

        public static void Add(List<TrafficCounters> all, out long messagesIn, out long messagesOut, out long bytesIn, out long bytesOut)
        {
            messagesIn = messagesOut = bytesIn = bytesOut = 0;
            foreach (TrafficCounters c in all)
            {
                messagesIn += Volatile.Read(ref c.MessagesIn);
                messagesOut += Volatile.Read(ref c.MessagesOut);
                bytesIn += Volatile.Read(ref c.BytesIn);
                bytesOut += Volatile.Read(ref c.BytesOut);
            }
        }
    }
}
