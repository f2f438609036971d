using System;
using System.Buffers.Binary;
using System.Text;
using System.Text.Unicode;

namespace Fiberws.Protocol
{
    /// <summary>Close frame payloads: validation of received codes and reasons, and formatting (gorilla's FormatCloseMessage).</summary>
    internal static class CloseFrame
    {
        public const int ProtocolError = 1002;
        public const int NoStatusReceived = 1005;
        public const int AbnormalClosure = 1006;
        public const int MaxReasonBytes = 123;

        /// <summary>True for a code a peer may put on the wire (RFC 6455 §7.4, IANA registry 1012-1014 included).</summary>
        public static bool IsValidWireCode(int code) =>
            (code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006) ||
            (code >= 3000 && code <= 4999);

        /// <summary>Parses a received close payload. Returns null when valid, else the reason it is not.</summary>
        public static string? Parse(ReadOnlySpan<byte> payload, out int code, out string reason)
        {
            code = NoStatusReceived;
            reason = string.Empty;
            if (payload.Length == 0)
            {
                return null;
            }
            if (payload.Length == 1)
            {
                return "close frame with a 1-byte payload";
            }
            code = BinaryPrimitives.ReadUInt16BigEndian(payload);
            if (!IsValidWireCode(code))
            {
                return $"invalid close code {code}";
            }
            ReadOnlySpan<byte> text = payload.Slice(2);
            if (!Utf8.IsValid(text))
            {
                return "close reason is not valid UTF-8";
            }
            reason = Encoding.UTF8.GetString(text);
            return null;
        }

        /// <summary>
        /// Formats a close payload into dst. Code 1005 (no status) gives an empty payload, as in gorilla.
        /// Returns the length, or -1 when dst is too small.
        /// </summary>
        public static int Format(int code, ReadOnlySpan<byte> reason, Span<byte> dst)
        {
            if (code == NoStatusReceived)
            {
                return 0;
            }
            int length = 2 + reason.Length;
            if (dst.Length < length)
            {
                return -1;
            }
            BinaryPrimitives.WriteUInt16BigEndian(dst, (ushort)code);
            reason.CopyTo(dst.Slice(2));
            return length;
        }

        /// <summary>Checks a code and reason the application wants to send. Returns null when valid.</summary>
        public static string? CheckOutgoing(int code, ReadOnlySpan<byte> reason)
        {
            if (code != NoStatusReceived && !IsValidWireCode(code))
            {
                return $"invalid close code {code}: use 1000-1003, 1007-1014 or 3000-4999 (1005 for none)";
            }
            if (code == NoStatusReceived && reason.Length > 0)
            {
                return "a close reason needs a close code";
            }
            if (reason.Length > MaxReasonBytes)
            {
                return $"close reason is {reason.Length} bytes; at most {MaxReasonBytes} fit in a control frame";
            }
            if (!Utf8.IsValid(reason))
            {
                return "close reason is not valid UTF-8";
            }
            return null;
        }

        /// <summary>Text of a close code as gorilla's CloseError prints it.</summary>
        public static string Describe(int code) => code switch
        {
            1000 => "(normal)",
            1001 => "(going away)",
            1002 => "(protocol error)",
            1003 => "(unsupported data)",
            1005 => "(no status)",
            1006 => "(abnormal closure)",
            1007 => "(invalid payload data)",
            1008 => "(policy violation)",
            1009 => "(message too big)",
            1010 => "(mandatory extension missing)",
            1011 => "(internal server error)",
            1012 => "(service restart)",
            1013 => "(try again later)",
            1015 => "(TLS handshake error)",
            _ => string.Empty,
        };
    }
}
