using System;
using System.Collections.Generic;

namespace Fiberws.Http
{
    /// <summary>
    /// A parsed HTTP/1.x request head. Header names keep their spelling; lookups ignore case. Immutable after
    /// parsing, so it can be shared by the threads of a connection.
    /// </summary>
    public sealed class HttpRequest
    {
        private List<KeyValuePair<string, string>>? _query;
        private List<KeyValuePair<string, string>>? _cookies;

        internal HttpRequest(string method, string target, int version, KeyValuePair<string, string>[] headers)
        {
            Method = method;
            Target = target;
            Version = version;
            Headers = headers;
            int q = target.IndexOf('?');
            Path = q < 0 ? target : target.Substring(0, q);
            RawQuery = q < 0 ? string.Empty : target.Substring(q + 1);
        }

        /// <summary>The method, e.g. "GET" (case-sensitive, as RFC 9110 says).</summary>
        public string Method { get; }

        /// <summary>The request target as sent ("/ws/123?v=1.0").</summary>
        public string Target { get; }

        /// <summary>The path part of the target, not percent-decoded.</summary>
        public string Path { get; }

        /// <summary>The query string without '?', not decoded.</summary>
        public string RawQuery { get; }

        /// <summary>10 for HTTP/1.0, 11 for HTTP/1.1.</summary>
        public int Version { get; }

        /// <summary>Every header line in order, duplicates included.</summary>
        public IReadOnlyList<KeyValuePair<string, string>> Headers { get; }

        /// <summary>Value of a Content-Length header (0 when absent).</summary>
        internal long ContentLength { get; set; }

        /// <summary>The request carried Transfer-Encoding: its body cannot be skipped, so the connection closes after the answer.</summary>
        internal bool HasTransferEncoding { get; set; }

        /// <summary>True when the connection may serve another request after this one.</summary>
        public bool KeepAlive
        {
            get
            {
                if (HasTransferEncoding || HasToken("Connection", "close"))
                {
                    return false;
                }
                return Version >= 11 || HasToken("Connection", "keep-alive");
            }
        }

        /// <summary>The value of a header, or null. Repeated headers are joined with ", " (RFC 9110 §5.3).</summary>
        public string? Header(string name)
        {
            string? result = null;
            foreach (KeyValuePair<string, string> h in Headers)
            {
                if (string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase))
                {
                    result = result == null ? h.Value : result + ", " + h.Value;
                }
            }
            return result;
        }

        /// <summary>How many header lines have this name.</summary>
        public int HeaderCount(string name)
        {
            int n = 0;
            foreach (KeyValuePair<string, string> h in Headers)
            {
                if (string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase))
                {
                    n++;
                }
            }
            return n;
        }

        /// <summary>True when a comma-separated header (e.g. Connection) contains the token, ignoring case.</summary>
        public bool HasToken(string name, string token)
        {
            foreach (KeyValuePair<string, string> h in Headers)
            {
                if (!string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }
                foreach (string part in h.Value.Split(','))
                {
                    if (string.Equals(part.Trim(' ', '\t'), token, StringComparison.OrdinalIgnoreCase))
                    {
                        return true;
                    }
                }
            }
            return false;
        }

        /// <summary>The first value of a query parameter, decoded; null when absent.</summary>
        public string? Query(string name) => Find(_query ??= QueryString.Parse(RawQuery), name, StringComparison.Ordinal);

        /// <summary>The value of a cookie; null when absent.</summary>
        public string? Cookie(string name) => Find(_cookies ??= Cookies.Parse(this), name, StringComparison.Ordinal);

        private static string? Find(List<KeyValuePair<string, string>> list, string name, StringComparison comparison)
        {
            foreach (KeyValuePair<string, string> kv in list)
            {
                if (string.Equals(kv.Key, name, comparison))
                {
                    return kv.Value;
                }
            }
            return null;
        }
    }
}
