using System;
using System.Collections.Generic;
using System.Text;
using Fiberws.Http;

namespace Fiberws.Handshake
{
    /// <summary>The outcome of checking an upgrade request against a route's settings.</summary>
    public sealed class HandshakeResult
    {
        /// <summary>0 when the upgrade is accepted; else the HTTP status to answer with.</summary>
        public int Status { get; init; }

        /// <summary>Why the request was refused (for logs and the response body).</summary>
        public string Error { get; init; } = string.Empty;

        /// <summary>Extra response headers for a refusal (e.g. Sec-WebSocket-Version: 13 with 426).</summary>
        public string ExtraHeaders { get; init; } = string.Empty;

        /// <summary>The computed Sec-WebSocket-Accept value.</summary>
        public string Accept { get; init; } = string.Empty;

        /// <summary>The negotiated subprotocol, or "".</summary>
        public string Subprotocol { get; init; } = string.Empty;

        /// <summary>The agreed permessage-deflate parameters, or null when the extension is not used.</summary>
        public DeflateParameters? Deflate { get; init; }
    }

    /// <summary>The server side of the RFC 6455 §4.2 opening handshake. Stateless and thread-safe.</summary>
    public static class WebSocketHandshake
    {
        private const string Guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

        /// <summary>True when the client asked to upgrade to WebSocket (Fiber's IsWebSocketUpgrade).</summary>
        public static bool IsUpgradeRequest(HttpRequest request) =>
            request.HasToken("Connection", "upgrade") && request.HasToken("Upgrade", "websocket");

        /// <summary>Checks the request; on success computes the accept key and picks the subprotocol.</summary>
        public static HandshakeResult Validate(HttpRequest request, IReadOnlyList<string> subprotocols, IReadOnlyList<string> origins,
                                               DeflateSettings? compression = null)
        {
            if (request.Header("Upgrade") == null && !request.HasToken("Connection", "upgrade"))
            {
                return Refuse(426, "this route only serves WebSocket: upgrade required", "Upgrade: websocket\r\nConnection: Upgrade\r\n");
            }
            if (!request.HasToken("Upgrade", "websocket"))
            {
                return Refuse(400, "'Upgrade' header does not contain the 'websocket' token");
            }
            if (!request.HasToken("Connection", "upgrade"))
            {
                return Refuse(400, "'Connection' header does not contain the 'upgrade' token");
            }
            if (request.Version < 11)
            {
                return Refuse(400, "WebSocket needs HTTP/1.1");
            }
            if (request.Header("Sec-WebSocket-Version")?.Trim() != "13")
            {
                return Refuse(426, "unsupported 'Sec-WebSocket-Version': only 13 is supported", "Sec-WebSocket-Version: 13\r\n");
            }
            if (request.HeaderCount("Sec-WebSocket-Key") != 1)
            {
                return Refuse(400, "'Sec-WebSocket-Key' must be present once");
            }
            string key = request.Header("Sec-WebSocket-Key")!.Trim();
            Span<byte> decoded = stackalloc byte[24];
            if (key.Length != 24 || !Convert.TryFromBase64String(key, decoded, out int n) || n != 16)
            {
                return Refuse(400, "'Sec-WebSocket-Key' is not the base64 of 16 bytes");
            }
            if (!OriginAllowed(request.Header("Origin"), origins))
            {
                return Refuse(403, "origin not allowed");
            }
            DeflateParameters? deflate = null;
            if (compression != null)
            {
                var offers = new List<string>();
                foreach (KeyValuePair<string, string> h in request.Headers)
                {
                    if (string.Equals(h.Key, "Sec-WebSocket-Extensions", StringComparison.OrdinalIgnoreCase))
                    {
                        offers.Add(h.Value);
                    }
                }
                deflate = PerMessageDeflateOffer.Negotiate(offers, compression);
            }
            return new HandshakeResult
            {
                Accept = ComputeAccept(key),
                Subprotocol = SelectSubprotocol(request, subprotocols),
                Deflate = deflate,
            };
        }

        /// <summary>Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)).</summary>
        public static string ComputeAccept(string key)
        {
            Span<byte> input = stackalloc byte[key.Length + Guid.Length];
            int n = Encoding.ASCII.GetBytes(key, input);
            n += Encoding.ASCII.GetBytes(Guid, input.Slice(n));
            Span<byte> digest = stackalloc byte[20];
            Sha1.Hash(input.Slice(0, n), digest);
            return Convert.ToBase64String(digest);
        }

        /// <summary>The first of the server's subprotocols (its order of preference) that the client offered; "" when none.</summary>
        public static string SelectSubprotocol(HttpRequest request, IReadOnlyList<string> supported)
        {
            if (supported.Count == 0)
            {
                return string.Empty;
            }
            string? offered = request.Header("Sec-WebSocket-Protocol");
            if (offered == null)
            {
                return string.Empty;
            }
            var offers = new List<string>();
            foreach (string p in offered.Split(','))
            {
                offers.Add(p.Trim(' ', '\t'));
            }
            foreach (string s in supported)
            {
                if (offers.Contains(s))
                {
                    return s;
                }
            }
            return string.Empty;
        }

        /// <summary>Empty list or "*" allows any origin; otherwise an Origin header must be present and listed.</summary>
        public static bool OriginAllowed(string? origin, IReadOnlyList<string> origins)
        {
            if (origins.Count == 0)
            {
                return true;
            }
            foreach (string allowed in origins)
            {
                if (allowed == "*" || (origin != null && string.Equals(allowed, origin.Trim(), StringComparison.OrdinalIgnoreCase)))
                {
                    return true;
                }
            }
            return false;
        }

        /// <summary>The 101 response.</summary>
        public static byte[] BuildResponse(HandshakeResult result)
        {
            string? extensions = result.Deflate?.ResponseHeader;
            var sb = new StringBuilder(160);
            sb.Append("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
            sb.Append(result.Accept).Append("\r\n");
            if (result.Subprotocol.Length > 0)
            {
                sb.Append("Sec-WebSocket-Protocol: ").Append(result.Subprotocol).Append("\r\n");
            }
            if (!string.IsNullOrEmpty(extensions))
            {
                sb.Append("Sec-WebSocket-Extensions: ").Append(extensions).Append("\r\n");
            }
            sb.Append("\r\n");
            return Encoding.ASCII.GetBytes(sb.ToString());
        }

        private static HandshakeResult Refuse(int status, string error, string extraHeaders = "") =>
            new() { Status = status, Error = error, ExtraHeaders = extraHeaders };
    }
}
