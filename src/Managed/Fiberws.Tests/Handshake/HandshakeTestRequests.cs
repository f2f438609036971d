using System;
using Fiberws.Http;

namespace Fiberws.Tests.Handshake
{
    internal static class HandshakeTestRequests
    {
        public const string Key = "dGhlIHNhbXBsZSBub25jZQ==";

        public static readonly string[] Base =
        {
            "Host: example.com",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: " + Key,
            "Sec-WebSocket-Version: 13",
        };

        /// <summary>An upgrade request: the base headers, minus those named in without, plus extra lines.</summary>
        public static HttpRequest Upgrade(string[]? without = null, string[]? extra = null, string version = "HTTP/1.1")
        {
            var text = new System.Text.StringBuilder("GET /ws " + version + "\r\n");
            foreach (string line in Base)
            {
                string name = line.Substring(0, line.IndexOf(':'));
                if (without != null && Array.IndexOf(without, name) >= 0)
                {
                    continue;
                }
                text.Append(line).Append("\r\n");
            }
            foreach (string line in extra ?? Array.Empty<string>())
            {
                text.Append(line).Append("\r\n");
            }
            text.Append("\r\n");
            return Http.HttpTestRequests.ParseComplete(text.ToString());
        }
    }
}
