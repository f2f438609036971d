using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Text;

namespace Fiberws.Http
{
    /// <summary>Why a request head was rejected; each maps to a status code.</summary>
    public enum RejectReason
    {
        None = 0,
        MalformedRequestLine,
        UnsupportedVersion,
        InvalidTarget,
        HeadTooLarge,
        RequestLineTooLong,
        TooManyHeaders,
        MalformedHeader,
        ObsoleteLineFolding,
        InvalidHeaderValue,
        BareCarriageReturn,
        MissingHost,
        DuplicateHost,
        InvalidContentLength,
        ContentLengthAndTransferEncoding,
    }

    public enum ParseStatus
    {
        Incomplete,
        Complete,
        Rejected,
    }

    /// <summary>
    /// An HTTP/1.1 request-head parser (RFC 9112 §2-5). Stateless: it is given everything received so far and
    /// either finds a complete head, asks for more, or rejects the input. It owns no buffer. Bare LF line ends are
    /// accepted (RFC 9112 §2.2); obsolete line folding, whitespace before a colon, control characters, bare CR,
    /// missing or repeated Host and conflicting framing headers are rejected.
    /// </summary>
    public static class HttpParser
    {
        public const int MaxHeaders = 100;

        public static ParseStatus TryParse(ReadOnlySpan<byte> input, int maxHeadBytes, out HttpRequest? request, out int consumed, out RejectReason reason)
        {
            request = null;
            consumed = 0;
            reason = RejectReason.None;
            // RFC 9112 §2.2: ignore at least one empty line before the request line (left over by some clients).
            int skip = 0;
            for (int lines = 0; lines < 2 && skip < input.Length; lines++)
            {
                if (input[skip] == '\n')
                {
                    skip++;
                }
                else if (input[skip] == '\r' && skip + 1 < input.Length && input[skip + 1] == '\n')
                {
                    skip += 2;
                }
                else
                {
                    break;
                }
            }
            if (skip > 0)
            {
                ParseStatus status = TryParseHead(input.Slice(skip), maxHeadBytes, out request, out consumed, out reason);
                if (status == ParseStatus.Complete)
                {
                    consumed += skip;
                }
                return status;
            }
            return TryParseHead(input, maxHeadBytes, out request, out consumed, out reason);
        }

        private static ParseStatus TryParseHead(ReadOnlySpan<byte> input, int maxHeadBytes, out HttpRequest? request, out int consumed, out RejectReason reason)
        {
            request = null;
            consumed = 0;
            reason = RejectReason.None;
            int headEnd = FindHeadEnd(input, out int terminatorLength);
            bool tooLarge = headEnd < 0 ? input.Length >= maxHeadBytes : headEnd + terminatorLength > maxHeadBytes;
            if (headEnd < 0 || tooLarge)
            {
                // The request line is judged as soon as it is complete, before the size of the head: garbage is refused
                // early, and the verdict does not depend on how the bytes were split into reads.
                int firstLine = input.Slice(0, Math.Min(input.Length, maxHeadBytes)).IndexOf((byte)'\n');
                if (firstLine >= 0)
                {
                    RejectReason early = ParseRequestLine(TrimCr(input.Slice(0, firstLine)), out _, out _, out _, out _);
                    if (early != RejectReason.None)
                    {
                        reason = early;
                        return ParseStatus.Rejected;
                    }
                }
                if (tooLarge)
                {
                    reason = firstLine < 0 ? RejectReason.RequestLineTooLong : RejectReason.HeadTooLarge;
                    return ParseStatus.Rejected;
                }
                return ParseStatus.Incomplete;
            }
            reason = Parse(input.Slice(0, headEnd), out request);
            if (reason != RejectReason.None)
            {
                request = null;
                return ParseStatus.Rejected;
            }
            consumed = headEnd + terminatorLength;
            return ParseStatus.Complete;
        }

        /// <summary>The HTTP status for a rejection.</summary>
        public static int StatusFor(RejectReason reason) => reason switch
        {
            RejectReason.HeadTooLarge or RejectReason.TooManyHeaders => 431,
            RejectReason.RequestLineTooLong => 414,
            RejectReason.UnsupportedVersion => 505,
            _ => 400,
        };

        /// <summary>Index of the empty line that ends the head (the end of the last header line), or -1.</summary>
        private static int FindHeadEnd(ReadOnlySpan<byte> input, out int terminatorLength)
        {
            int from = 0;
            while (true)
            {
                int lf = input.Slice(from).IndexOf((byte)'\n');
                if (lf < 0)
                {
                    terminatorLength = 0;
                    return -1;
                }
                lf += from;
                // The head ends at an empty line: "\n\n" or "\n\r\n".
                if (lf + 1 < input.Length && input[lf + 1] == '\n')
                {
                    terminatorLength = 2;
                    return lf;
                }
                if (lf + 2 < input.Length && input[lf + 1] == '\r' && input[lf + 2] == '\n')
                {
                    terminatorLength = 3;
                    return lf;
                }
                from = lf + 1;
            }
        }

        private static RejectReason Parse(ReadOnlySpan<byte> head, out HttpRequest? request)
        {
            request = null;
            // head ends with the last header line's '\n' excluded; split into lines.
            int lf = head.IndexOf((byte)'\n');
            ReadOnlySpan<byte> requestLine = TrimCr(lf < 0 ? head : head.Slice(0, lf));
            RejectReason r = ParseRequestLine(requestLine, out string method, out string target, out int version, out _);
            if (r != RejectReason.None)
            {
                return r;
            }
            var headers = new List<KeyValuePair<string, string>>(12);
            ReadOnlySpan<byte> rest = lf < 0 ? ReadOnlySpan<byte>.Empty : head.Slice(lf + 1);
            while (!rest.IsEmpty)
            {
                int next = rest.IndexOf((byte)'\n');
                ReadOnlySpan<byte> line = next < 0 ? rest : rest.Slice(0, next);
                rest = next < 0 ? ReadOnlySpan<byte>.Empty : rest.Slice(next + 1);
                line = TrimCr(line);
                if (line.IndexOf((byte)'\r') >= 0)
                {
                    return RejectReason.BareCarriageReturn;
                }
                if (line.Length > 0 && (line[0] == ' ' || line[0] == '\t'))
                {
                    return RejectReason.ObsoleteLineFolding;
                }
                int colon = line.IndexOf((byte)':');
                if (colon <= 0 || !IsToken(line.Slice(0, colon)))
                {
                    return RejectReason.MalformedHeader;
                }
                ReadOnlySpan<byte> value = line.Slice(colon + 1).Trim(" \t"u8);
                foreach (byte b in value)
                {
                    if ((b < 0x20 && b != '\t') || b == 0x7F)
                    {
                        return RejectReason.InvalidHeaderValue;
                    }
                }
                if (headers.Count == MaxHeaders)
                {
                    return RejectReason.TooManyHeaders;
                }
                headers.Add(new KeyValuePair<string, string>(HeaderNames.Get(line.Slice(0, colon)), HeaderNames.Value(value)));
            }
            var req = new HttpRequest(method, target, version, headers.ToArray()); // exact size: kept for the connection's life
            int hosts = req.HeaderCount("Host");
            if (hosts > 1)
            {
                return RejectReason.DuplicateHost;
            }
            if (hosts == 0 && version >= 11)
            {
                return RejectReason.MissingHost;
            }
            string? contentLength = null;
            foreach (KeyValuePair<string, string> h in headers)
            {
                if (string.Equals(h.Key, "Content-Length", StringComparison.OrdinalIgnoreCase))
                {
                    if (contentLength != null && contentLength != h.Value)
                    {
                        return RejectReason.InvalidContentLength;
                    }
                    contentLength = h.Value;
                }
                else if (string.Equals(h.Key, "Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
                {
                    req.HasTransferEncoding = true;
                }
            }
            if (contentLength != null)
            {
                if (req.HasTransferEncoding)
                {
                    return RejectReason.ContentLengthAndTransferEncoding;
                }
                if (contentLength.Length == 0 || contentLength.Length > 18 || !IsDigits(contentLength))
                {
                    return RejectReason.InvalidContentLength;
                }
                req.ContentLength = long.Parse(contentLength, System.Globalization.CultureInfo.InvariantCulture);
            }
            request = req;
            return RejectReason.None;
        }

        private static RejectReason ParseRequestLine(ReadOnlySpan<byte> line, out string method, out string target, out int version, out RejectReason unused)
        {
            method = target = string.Empty;
            version = 0;
            unused = RejectReason.None;
            int sp1 = line.IndexOf((byte)' ');
            if (sp1 <= 0 || !IsToken(line.Slice(0, sp1)))
            {
                return RejectReason.MalformedRequestLine;
            }
            ReadOnlySpan<byte> afterMethod = line.Slice(sp1 + 1);
            int sp2 = afterMethod.IndexOf((byte)' ');
            if (sp2 <= 0)
            {
                return RejectReason.MalformedRequestLine;
            }
            ReadOnlySpan<byte> targetBytes = afterMethod.Slice(0, sp2);
            ReadOnlySpan<byte> versionBytes = afterMethod.Slice(sp2 + 1);
            if (versionBytes.Length != 8 || !versionBytes.StartsWith("HTTP/"u8) || versionBytes[6] != '.' ||
                !char.IsAsciiDigit((char)versionBytes[5]) || !char.IsAsciiDigit((char)versionBytes[7]))
            {
                return RejectReason.MalformedRequestLine;
            }
            if (versionBytes[5] != '1' || (versionBytes[7] != '0' && versionBytes[7] != '1'))
            {
                return RejectReason.UnsupportedVersion;
            }
            if (targetBytes[0] != '/')
            {
                return RejectReason.InvalidTarget;
            }
            foreach (byte b in targetBytes)
            {
                if (b <= 0x20 || b >= 0x7F)
                {
                    return RejectReason.InvalidTarget;
                }
            }
            method = Encoding.ASCII.GetString(line.Slice(0, sp1));
            target = Encoding.ASCII.GetString(targetBytes);
            version = versionBytes[7] == '1' ? 11 : 10;
            return RejectReason.None;
        }

        private static ReadOnlySpan<byte> TrimCr(ReadOnlySpan<byte> line) =>
            line.Length > 0 && line[^1] == '\r' ? line.Slice(0, line.Length - 1) : line;

        private static bool IsDigits(string s)
        {
            foreach (char c in s)
            {
                if (!char.IsAsciiDigit(c))
                {
                    return false;
                }
            }
            return true;
        }

        /// <summary>RFC 9110 token: 1*tchar.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static bool IsToken(ReadOnlySpan<byte> s)
        {
            if (s.IsEmpty)
            {
                return false;
            }
            foreach (byte b in s)
            {
                if (!IsTChar(b))
                {
                    return false;
                }
            }
            return true;
        }

        private static bool IsTChar(byte b) =>
            (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
            b == '!' || b == '#' || b == '$' || b == '%' || b == '&' || b == '\'' || b == '*' || b == '+' ||
            b == '-' || b == '.' || b == '^' || b == '_' || b == '`' || b == '|' || b == '~';
    }

    /// <summary>Interns the common header names so parsing a handshake allocates fewer strings.</summary>
    internal static class HeaderNames
    {
        private static readonly string[] s_known =
        [
            "Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Protocol",
            "Sec-WebSocket-Extensions", "Origin", "Cookie", "User-Agent", "Accept", "Accept-Encoding",
            "Accept-Language", "Cache-Control", "Pragma", "Content-Length", "Content-Type", "Transfer-Encoding",
        ];

        private static readonly string[] s_knownValues =
        [
            "websocket", "Upgrade", "upgrade", "13", "keep-alive, Upgrade", "Keep-Alive, Upgrade", "keep-alive", "close",
            "no-cache", "permessage-deflate; client_max_window_bits", "gzip, deflate, br, zstd", "gzip, deflate, br",
            "gzip, deflate", "*/*",
        ];

        /// <summary>A header value as a string; the values every WebSocket handshake repeats are shared, not copied per connection.</summary>
        public static string Value(ReadOnlySpan<byte> value)
        {
            foreach (string known in s_knownValues)
            {
                if (known.Length == value.Length && Ascii.Equals(value, known))
                {
                    return known;
                }
            }
            return Encoding.UTF8.GetString(value);
        }

        public static string Get(ReadOnlySpan<byte> name)
        {
            foreach (string known in s_known)
            {
                if (known.Length == name.Length && Ascii.EqualsIgnoreCase(name, known))
                {
                    return known;
                }
            }
            return Encoding.ASCII.GetString(name);
        }
    }
}
