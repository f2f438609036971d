using System.Collections.Generic;

namespace Fiberws.WebSockets
{
    /// <summary>Topic subscriptions of the event API (publish/subscribe). Loop thread only.</summary>
    internal sealed class Topics
    {
        private readonly Dictionary<string, HashSet<EventConn>> _subscribers = new(System.StringComparer.Ordinal);

        public bool Subscribe(string topic, EventConn conn)
        {
            if (!_subscribers.TryGetValue(topic, out HashSet<EventConn>? set))
            {
                set = new HashSet<EventConn>();
                _subscribers[topic] = set;
            }
            return set.Add(conn);
        }

        public bool Unsubscribe(string topic, EventConn conn)
        {
            if (!_subscribers.TryGetValue(topic, out HashSet<EventConn>? set) || !set.Remove(conn))
            {
                return false;
            }
            if (set.Count == 0)
            {
                _subscribers.Remove(topic);
            }
            return true;
        }

        public int Count(string topic) => _subscribers.TryGetValue(topic, out HashSet<EventConn>? set) ? set.Count : 0;

        /// <summary>The subscribers of a topic, copied so that callbacks may subscribe and unsubscribe meanwhile.</summary>
        public EventConn[] Snapshot(string topic)
        {
            if (!_subscribers.TryGetValue(topic, out HashSet<EventConn>? set))
            {
                return [];
            }
            var copy = new EventConn[set.Count];
            set.CopyTo(copy);
            return copy;
        }
    }
}
