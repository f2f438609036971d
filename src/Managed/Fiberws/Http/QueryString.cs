using System;
using System.Collections.Generic;
using System.Text;

namespace Fiberws.Http
{
    /// <summary>application/x-www-form-urlencoded query strings and percent-decoding.</summary>
    internal static class QueryString
    {
        public static List<KeyValuePair<string, string>> Parse(string query)
        {
            var result = new List<KeyValuePair<string, string>>();
            foreach (string pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                int eq = pair.IndexOf('=');
                string key = eq < 0 ? pair : pair.Substring(0, eq);
                string value = eq < 0 ? string.Empty : pair.Substring(eq + 1);
                result.Add(new KeyValuePair<string, string>(Decode(key, plusIsSpace: true), Decode(value, plusIsSpace: true)));
            }
            return result;
        }

        /// <summary>Percent-decodes UTF-8; malformed escapes are kept as they are.</summary>
        public static string Decode(string s, bool plusIsSpace)
        {
            if (s.IndexOf('%') < 0 && (!plusIsSpace || s.IndexOf('+') < 0))
            {
                return s;
            }
            byte[] raw = Encoding.UTF8.GetBytes(s);
            int w = 0;
            for (int r = 0; r < raw.Length; r++)
            {
                byte c = raw[r];
                if (c == '%' && r + 2 < raw.Length && IsHex((char)raw[r + 1]) && IsHex((char)raw[r + 2]))
                {
                    raw[w++] = (byte)(HexValue((char)raw[r + 1]) * 16 + HexValue((char)raw[r + 2]));
                    r += 2;
                }
                else
                {
                    raw[w++] = c == '+' && plusIsSpace ? (byte)' ' : c;
                }
            }
            return Encoding.UTF8.GetString(raw, 0, w);
        }

        private static bool IsHex(char c) => char.IsAsciiHexDigit(c);

        private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    }

    /// <summary>The Cookie request header (RFC 6265 §5.4): "a=b; c=d".</summary>
    internal static class Cookies
    {
        public static List<KeyValuePair<string, string>> Parse(HttpRequest request)
        {
            var result = new List<KeyValuePair<string, string>>();
            foreach (KeyValuePair<string, string> h in request.Headers)
            {
                if (!string.Equals(h.Key, "Cookie", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }
                foreach (string part in h.Value.Split(';'))
                {
                    string p = part.Trim();
                    int eq = p.IndexOf('=');
                    if (eq <= 0)
                    {
                        continue;
                    }
                    string value = p.Substring(eq + 1).Trim();
                    if (value.Length >= 2 && value[0] == '"' && value[^1] == '"')
                    {
                        value = value.Substring(1, value.Length - 2);
                    }
                    result.Add(new KeyValuePair<string, string>(p.Substring(0, eq).Trim(), value));
                }
            }
            return result;
        }
    }
}
