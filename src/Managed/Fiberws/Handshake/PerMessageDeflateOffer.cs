using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Fiberws.Handshake
{
    /// <summary>What server and client agreed for permessage-deflate (RFC 7692 §7.1).</summary>
    public sealed class DeflateParameters
    {
        /// <summary>The server resets its compression context after each message.</summary>
        public bool ServerNoContextTakeover { get; init; }

        /// <summary>The client resets its compression context after each message (so may our inflater).</summary>
        public bool ClientNoContextTakeover { get; init; }

        /// <summary>The LZ77 window the server compresses with (9-15).</summary>
        public int ServerMaxWindowBits { get; init; } = 15;

        /// <summary>The window the client compresses with (8-15); our inflater always uses 15, which decodes them all.</summary>
        public int ClientMaxWindowBits { get; init; } = 15;

        /// <summary>The Sec-WebSocket-Extensions value of the response.</summary>
        public string ResponseHeader { get; init; } = string.Empty;
    }

    /// <summary>The server's permessage-deflate preferences (from the route config).</summary>
    public sealed class DeflateSettings
    {
        /// <summary>Ask to reset our own context after each message (less memory, less compression).</summary>
        public bool ServerNoContextTakeover { get; init; }

        /// <summary>The largest window the server wants to compress with (9-15).</summary>
        public int ServerMaxWindowBits { get; init; } = 15;
    }

    /// <summary>
    /// Negotiation of permessage-deflate (RFC 7692 §5 and §7.1): parses every offer in Sec-WebSocket-Extensions
    /// (several offers, parameters with or without values, quoted values), accepts the first acceptable one and
    /// builds the response. A malformed or unacceptable offer is declined, never a reason to fail the handshake.
    /// Stateless and thread-safe.
    /// </summary>
    public static class PerMessageDeflateOffer
    {
        public const string Name = "permessage-deflate";

        /// <summary>Returns the agreed parameters, or null when no offer is acceptable (the extension is then not used).</summary>
        public static DeflateParameters? Negotiate(IEnumerable<string> headerValues, DeflateSettings settings)
        {
            foreach (string header in headerValues)
            {
                foreach (List<KeyValuePair<string, string?>> offer in ParseOffers(header))
                {
                    if (offer.Count == 0 || !string.Equals(offer[0].Key, Name, StringComparison.OrdinalIgnoreCase))
                    {
                        continue;
                    }
                    DeflateParameters? accepted = TryAccept(offer, settings);
                    if (accepted != null)
                    {
                        return accepted;
                    }
                }
            }
            return null;
        }

        private static DeflateParameters? TryAccept(List<KeyValuePair<string, string?>> offer, DeflateSettings settings)
        {
            bool serverNoContext = false, clientNoContext = false;
            int? serverBits = null;
            bool clientBitsOffered = false;
            int? clientBits = null;
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            for (int i = 1; i < offer.Count; i++)
            {
                (string name, string? value) = (offer[i].Key, offer[i].Value);
                if (!seen.Add(name))
                {
                    return null; // a parameter twice: decline this offer (§7.1)
                }
                switch (name.ToLowerInvariant())
                {
                    case "server_no_context_takeover":
                        if (value != null)
                        {
                            return null;
                        }
                        serverNoContext = true;
                        break;
                    case "client_no_context_takeover":
                        if (value != null)
                        {
                            return null;
                        }
                        clientNoContext = true;
                        break;
                    case "server_max_window_bits":
                        if (!TryBits(value, out int sb))
                        {
                            return null;
                        }
                        serverBits = sb;
                        break;
                    case "client_max_window_bits":
                        clientBitsOffered = true;
                        if (value != null)
                        {
                            if (!TryBits(value, out int cb))
                            {
                                return null;
                            }
                            clientBits = cb;
                        }
                        break;
                    default:
                        return null; // unknown parameter: decline
                }
            }
            // zlib cannot make a raw deflate stream with an 8-bit window (it uses 9): decline rather than break the limit.
            int ourBits = Math.Min(settings.ServerMaxWindowBits, serverBits ?? 15);
            if (ourBits < 9)
            {
                return null;
            }
            bool noContext = serverNoContext || settings.ServerNoContextTakeover;
            var response = new StringBuilder(Name);
            if (noContext)
            {
                response.Append("; server_no_context_takeover");
            }
            if (clientNoContext)
            {
                response.Append("; client_no_context_takeover");
            }
            if (serverBits != null || ourBits < 15)
            {
                response.Append("; server_max_window_bits=").Append(ourBits.ToString(CultureInfo.InvariantCulture));
            }
            if (clientBits != null)
            {
                response.Append("; client_max_window_bits=").Append(clientBits.Value.ToString(CultureInfo.InvariantCulture));
            }
            _ = clientBitsOffered; // offered without a value: we may leave it out, and the client then uses 15 (§7.1.2.2)
            return new DeflateParameters
            {
                ServerNoContextTakeover = noContext,
                ClientNoContextTakeover = clientNoContext,
                ServerMaxWindowBits = ourBits,
                ClientMaxWindowBits = clientBits ?? 15,
                ResponseHeader = response.ToString(),
            };
        }

        private static bool TryBits(string? value, out int bits)
        {
            bits = 0;
            return value != null && value.Length is 1 or 2 && value[0] != '0' &&
                   int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out bits) && bits >= 8 && bits <= 15;
        }

        /// <summary>
        /// Splits an extension list (RFC 6455 §9.1 / RFC 7230 lists): offers separated by ',', parameters by ';',
        /// values as tokens or quoted strings. A malformed offer is returned empty so callers skip it.
        /// </summary>
        internal static List<List<KeyValuePair<string, string?>>> ParseOffers(string header)
        {
            var offers = new List<List<KeyValuePair<string, string?>>>();
            var current = new List<KeyValuePair<string, string?>>();
            bool broken = false;
            int i = 0;
            while (i <= header.Length)
            {
                SkipSpace(header, ref i);
                if (i >= header.Length)
                {
                    break;
                }
                string name = ReadToken(header, ref i);
                string? value = null;
                SkipSpace(header, ref i);
                if (i < header.Length && header[i] == '=')
                {
                    i++;
                    SkipSpace(header, ref i);
                    if (i < header.Length && header[i] == '"')
                    {
                        value = ReadQuoted(header, ref i, ref broken);
                    }
                    else
                    {
                        value = ReadToken(header, ref i);
                        if (value.Length == 0)
                        {
                            broken = true;
                        }
                    }
                    SkipSpace(header, ref i);
                }
                if (name.Length == 0 || (current.Count == 0 && value != null))
                {
                    broken = true;
                }
                current.Add(new KeyValuePair<string, string?>(name, value));
                if (i < header.Length && header[i] == ';')
                {
                    i++;
                    continue;
                }
                if (i < header.Length && header[i] != ',')
                {
                    broken = true;
                    // skip to the next offer
                    while (i < header.Length && header[i] != ',')
                    {
                        i++;
                    }
                }
                offers.Add(broken ? new List<KeyValuePair<string, string?>>() : current);
                current = new List<KeyValuePair<string, string?>>();
                broken = false;
                i++;
            }
            return offers;
        }

        private static void SkipSpace(string s, ref int i)
        {
            while (i < s.Length && (s[i] == ' ' || s[i] == '\t'))
            {
                i++;
            }
        }

        private static string ReadToken(string s, ref int i)
        {
            int start = i;
            while (i < s.Length && IsTokenChar(s[i]))
            {
                i++;
            }
            return s.Substring(start, i - start);
        }

        private static string ReadQuoted(string s, ref int i, ref bool broken)
        {
            var sb = new StringBuilder();
            i++; // opening quote
            while (i < s.Length && s[i] != '"')
            {
                if (s[i] == '\\' && i + 1 < s.Length)
                {
                    i++;
                }
                sb.Append(s[i]);
                i++;
            }
            if (i >= s.Length)
            {
                broken = true;
                return sb.ToString();
            }
            i++; // closing quote
            string value = sb.ToString();
            // RFC 6455 §9.1: a quoted value must still be a token once unquoted.
            foreach (char c in value)
            {
                if (!IsTokenChar(c))
                {
                    broken = true;
                }
            }
            return value;
        }

        private static bool IsTokenChar(char c) =>
            c < 0x7F && c > 0x20 && "()<>@,;:\\\"/[]?={} \t".IndexOf(c) < 0;
    }
}
