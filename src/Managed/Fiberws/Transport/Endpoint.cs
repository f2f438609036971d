using System;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Fiberws.Transport
{
    /// <summary>Listen addresses as Fiber takes them (":3000", "127.0.0.1:8080", "[::1]:0", "localhost:80") and sockaddr encoding.</summary>
    internal static unsafe class Endpoint
    {
        public const int MaxSockAddr = 28;

        /// <summary>Parses a listen address. An empty host means every interface (IPv6 dual-stack).</summary>
        public static IPEndPoint Parse(string address)
        {
            ArgumentNullException.ThrowIfNull(address);
            string s = address.Trim();
            string host;
            string port;
            if (s.StartsWith('['))
            {
                int close = s.IndexOf(']');
                if (close < 0 || close + 1 >= s.Length || s[close + 1] != ':')
                {
                    throw new ArgumentException($"invalid listen address '{address}': expected [ipv6]:port");
                }
                host = s.Substring(1, close - 1);
                port = s.Substring(close + 2);
            }
            else
            {
                int colon = s.LastIndexOf(':');
                if (colon < 0)
                {
                    throw new ArgumentException($"invalid listen address '{address}': expected host:port or :port");
                }
                host = s.Substring(0, colon);
                port = s.Substring(colon + 1);
                if (host.Contains(':'))
                {
                    throw new ArgumentException($"invalid listen address '{address}': put an IPv6 host in brackets");
                }
            }
            if (!ushort.TryParse(port, out ushort portNumber))
            {
                throw new ArgumentException($"invalid listen address '{address}': port must be 0-65535");
            }
            IPAddress ip;
            if (host.Length == 0 || host == "*")
            {
                ip = IPAddress.IPv6Any;
            }
            else if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
            {
                ip = IPAddress.Loopback;
            }
            else if (!IPAddress.TryParse(host, out ip!))
            {
                throw new ArgumentException($"invalid listen address '{address}': host must be an IP address or localhost");
            }
            return new IPEndPoint(ip, portNumber);
        }

        /// <summary>Writes the sockaddr for an endpoint; returns its length.</summary>
        public static uint Encode(IPEndPoint ep, byte* buffer)
        {
            new Span<byte>(buffer, MaxSockAddr).Clear();
            if (ep.AddressFamily == AddressFamily.InterNetwork)
            {
                *(ushort*)buffer = Libc.AF_INET;
                BinaryPrimitives.WriteUInt16BigEndian(new Span<byte>(buffer + 2, 2), (ushort)ep.Port);
                ep.Address.TryWriteBytes(new Span<byte>(buffer + 4, 4), out _);
                return 16;
            }
            *(ushort*)buffer = Libc.AF_INET6;
            BinaryPrimitives.WriteUInt16BigEndian(new Span<byte>(buffer + 2, 2), (ushort)ep.Port);
            ep.Address.TryWriteBytes(new Span<byte>(buffer + 8, 16), out _);
            *(uint*)(buffer + 24) = (uint)ep.Address.ScopeId;
            return 28;
        }

        /// <summary>Decodes a sockaddr; IPv4-mapped IPv6 addresses come back as IPv4.</summary>
        public static IPEndPoint? Decode(byte* buffer, uint length)
        {
            ushort family = *(ushort*)buffer;
            int port = BinaryPrimitives.ReadUInt16BigEndian(new ReadOnlySpan<byte>(buffer + 2, 2));
            if (family == Libc.AF_INET && length >= 16)
            {
                return new IPEndPoint(new IPAddress(new ReadOnlySpan<byte>(buffer + 4, 4)), port);
            }
            if (family == Libc.AF_INET6 && length >= 24)
            {
                var ip = new IPAddress(new ReadOnlySpan<byte>(buffer + 8, 16));
                return new IPEndPoint(ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip, port);
            }
            return null;
        }

        public static IPEndPoint? Local(int fd)
        {
            byte* buf = stackalloc byte[MaxSockAddr];
            uint len = MaxSockAddr;
            return Libc.GetSockName(fd, buf, &len) == 0 ? Decode(buf, len) : null;
        }

        public static IPEndPoint? Remote(int fd)
        {
            byte* buf = stackalloc byte[MaxSockAddr];
            uint len = MaxSockAddr;
            return Libc.GetPeerName(fd, buf, &len) == 0 ? Decode(buf, len) : null;
        }
    }
}
