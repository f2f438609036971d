using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
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
    /// An app's message and byte counters. Spread over a few cache-line-sized stripes picked by thread, so that
    /// threads counting at the same time rarely touch the same line; each add is one atomic instruction on an
    /// uncontended line. A snapshot sums the stripes.
    /// </summary>
    internal sealed class TrafficCounters
    {
        private const int StripeCount = 16;

        [StructLayout(LayoutKind.Explicit, Size = 64)]
        private struct Stripe
        {
            [FieldOffset(0)] public long MessagesIn;
            [FieldOffset(8)] public long MessagesOut;
            [FieldOffset(16)] public long BytesIn;
            [FieldOffset(24)] public long BytesOut;
        }

        private readonly Stripe[] _stripes = new Stripe[StripeCount];

        private ref Stripe Mine => ref _stripes[Environment.CurrentManagedThreadId & (StripeCount - 1)];

        /// <summary>A whole message received.</summary>
        public void Received(long bytes) => Received(bytes, messageEnds: true);

        /// <summary>Part of a message received (streaming reads); messageEnds on its last piece.</summary>
        public void Received(long bytes, bool messageEnds)
        {
            ref Stripe s = ref Mine;
            Interlocked.Add(ref s.BytesIn, bytes);
            if (messageEnds)
            {
                Interlocked.Increment(ref s.MessagesIn);
            }
        }

        /// <summary>count whole messages of bytes each sent (a publish counts once per subscriber).</summary>
        public void Sent(long bytes, long count = 1)
        {
            ref Stripe s = ref Mine;
            Interlocked.Add(ref s.BytesOut, bytes * count);
            Interlocked.Add(ref s.MessagesOut, count);
        }

        /// <summary>A fragment of a message sent piece by piece; messageEnds on the final one.</summary>
        public void SentPart(long bytes, bool messageEnds)
        {
            ref Stripe s = ref Mine;
            Interlocked.Add(ref s.BytesOut, bytes);
            if (messageEnds)
            {
                Interlocked.Increment(ref s.MessagesOut);
            }
        }

        public void Sum(out long messagesIn, out long messagesOut, out long bytesIn, out long bytesOut)
        {
            messagesIn = messagesOut = bytesIn = bytesOut = 0;
            for (int i = 0; i < StripeCount; i++)
            {
                messagesIn += Interlocked.Read(ref _stripes[i].MessagesIn);
                messagesOut += Interlocked.Read(ref _stripes[i].MessagesOut);
                bytesIn += Interlocked.Read(ref _stripes[i].BytesIn);
                bytesOut += Interlocked.Read(ref _stripes[i].BytesOut);
            }
        }
    }
}
