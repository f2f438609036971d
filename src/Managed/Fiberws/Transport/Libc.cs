using System;
using System.Runtime.InteropServices;

namespace Fiberws.Transport
{
    /// <summary>
    /// The libc calls the transport uses, bound directly at link time under NativeAOT (DirectPInvoke). Only
    /// blittable signatures: no marshalling stubs on the hot path. Linux x86-64/arm64 layouts.
    /// </summary>
    internal static unsafe partial class Libc
    {
        private const string Lib = "libc";

        public const int AF_INET = 2;
        public const int AF_INET6 = 10;
        public const int SOCK_STREAM = 1;
        public const int SOCK_NONBLOCK = 0x800;
        public const int SOCK_CLOEXEC = 0x80000;
        public const int SOL_SOCKET = 1;
        public const int SO_REUSEADDR = 2;
        public const int SO_RCVTIMEO = 20;
        public const int SO_SNDTIMEO = 21;
        public const int IPPROTO_TCP = 6;
        public const int IPPROTO_IPV6 = 41;
        public const int TCP_NODELAY = 1;
        public const int IPV6_V6ONLY = 26;
        public const int SHUT_RD = 0;
        public const int SHUT_WR = 1;
        public const int SHUT_RDWR = 2;
        public const int MSG_DONTWAIT = 0x40;
        public const int MSG_NOSIGNAL = 0x4000;
        public const int F_GETFL = 3;
        public const int F_SETFL = 4;
        public const int O_NONBLOCK = 0x800;
        public const int EPOLL_CLOEXEC = 0x80000;
        public const int EPOLL_CTL_ADD = 1;
        public const int EPOLL_CTL_DEL = 2;
        public const int EPOLL_CTL_MOD = 3;
        public const uint EPOLLIN = 0x001;
        public const uint EPOLLOUT = 0x004;
        public const uint EPOLLERR = 0x008;
        public const uint EPOLLHUP = 0x010;
        public const uint EPOLLRDHUP = 0x2000;
        public const int EFD_CLOEXEC = 0x80000;
        public const int EFD_NONBLOCK = 0x800;

        public const int EINTR = 4;
        public const int EBADF = 9;
        public const int EPROTO = 71;
        public const int EAGAIN = 11;
        public const int EPIPE = 32;
        public const int ECONNABORTED = 103;
        public const int ECONNRESET = 104;
        public const int EINPROGRESS = 115;

        [StructLayout(LayoutKind.Explicit, Size = 12, Pack = 4)]
        public struct EpollEvent
        {
            [FieldOffset(0)] public uint Events;
            [FieldOffset(4)] public ulong Data;
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct IoVec
        {
            public void* Base;
            public nuint Length;
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct MsgHdr
        {
            public void* Name;
            public uint NameLen;
            public IoVec* Iov;
            public nuint IovLen;
            public void* Control;
            public nuint ControlLen;
            public int Flags;
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct TimeVal
        {
            public long Sec;
            public long Usec;
        }

        [DllImport(Lib, EntryPoint = "socket", SetLastError = true)]
        public static extern int Socket(int domain, int type, int protocol);

        [DllImport(Lib, EntryPoint = "bind", SetLastError = true)]
        public static extern int Bind(int fd, byte* addr, uint len);

        [DllImport(Lib, EntryPoint = "listen", SetLastError = true)]
        public static extern int Listen(int fd, int backlog);

        [DllImport(Lib, EntryPoint = "accept4", SetLastError = true)]
        public static extern int Accept4(int fd, byte* addr, uint* len, int flags);

        [DllImport(Lib, EntryPoint = "setsockopt", SetLastError = true)]
        public static extern int SetSockOpt(int fd, int level, int name, void* value, uint len);

        [DllImport(Lib, EntryPoint = "getsockname", SetLastError = true)]
        public static extern int GetSockName(int fd, byte* addr, uint* len);

        [DllImport(Lib, EntryPoint = "getpeername", SetLastError = true)]
        public static extern int GetPeerName(int fd, byte* addr, uint* len);

        [DllImport(Lib, EntryPoint = "recv", SetLastError = true)]
        public static extern nint Recv(int fd, byte* buf, nuint len, int flags);

        [DllImport(Lib, EntryPoint = "send", SetLastError = true)]
        public static extern nint Send(int fd, byte* buf, nuint len, int flags);

        [DllImport(Lib, EntryPoint = "sendmsg", SetLastError = true)]
        public static extern nint SendMsg(int fd, MsgHdr* msg, int flags);

        [DllImport(Lib, EntryPoint = "close", SetLastError = true)]
        public static extern int Close(int fd);

        [DllImport(Lib, EntryPoint = "shutdown", SetLastError = true)]
        public static extern int Shutdown(int fd, int how);

        [DllImport(Lib, EntryPoint = "fcntl", SetLastError = true)]
        public static extern int Fcntl(int fd, int cmd, int arg);

        [DllImport(Lib, EntryPoint = "epoll_create1", SetLastError = true)]
        public static extern int EpollCreate1(int flags);

        [DllImport(Lib, EntryPoint = "epoll_ctl", SetLastError = true)]
        public static extern int EpollCtl(int epfd, int op, int fd, EpollEvent* ev);

        [DllImport(Lib, EntryPoint = "epoll_wait", SetLastError = true)]
        public static extern int EpollWait(int epfd, EpollEvent* events, int maxEvents, int timeout);

        [DllImport(Lib, EntryPoint = "eventfd", SetLastError = true)]
        public static extern int EventFd(uint initval, int flags);

        [DllImport(Lib, EntryPoint = "read", SetLastError = true)]
        public static extern nint Read(int fd, void* buf, nuint count);

        [DllImport(Lib, EntryPoint = "write", SetLastError = true)]
        public static extern nint Write(int fd, void* buf, nuint count);

        public const int FIONREAD = 0x541B;
        public const short POLLOUT = 0x004;

        [StructLayout(LayoutKind.Sequential)]
        public struct PollFd
        {
            public int Fd;
            public short Events;
            public short Revents;
        }

        [DllImport(Lib, EntryPoint = "poll", SetLastError = true)]
        public static extern int Poll(PollFd* fds, nuint count, int timeoutMs);

        [DllImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
        public static extern int Ioctl(int fd, nuint request, int* value);

        public const int SIG_BLOCK = 0;

        /// <summary>set and old are sigset_t (glibc: 1024 bits = 16 ulongs).</summary>
        [DllImport(Lib, EntryPoint = "pthread_sigmask")]
        public static extern int PthreadSigmask(int how, ulong* set, ulong* old);

        [DllImport(Lib, EntryPoint = "strerror")]
        private static extern byte* StrError(int errnum);

        public static int Errno => Marshal.GetLastPInvokeError();

        public static string Describe(int errno)
        {
            byte* s = StrError(errno);
            return s == null ? "errno " + errno : Marshal.PtrToStringUTF8((nint)s) + " (errno " + errno + ")";
        }

        public static int SetNonBlocking(int fd, bool nonBlocking)
        {
            int flags = Fcntl(fd, F_GETFL, 0);
            if (flags < 0)
            {
                return -1;
            }
            int wanted = nonBlocking ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
            return wanted == flags ? 0 : Fcntl(fd, F_SETFL, wanted);
        }

        public static int SetIntOption(int fd, int level, int name, int value)
        {
            return SetSockOpt(fd, level, name, &value, sizeof(int));
        }

        /// <summary>Sets SO_RCVTIMEO or SO_SNDTIMEO; 0 ms = block forever.</summary>
        public static int SetTimeout(int fd, int option, long milliseconds)
        {
            TimeVal tv;
            tv.Sec = milliseconds / 1000;
            tv.Usec = (milliseconds % 1000) * 1000;
            return SetSockOpt(fd, SOL_SOCKET, option, &tv, (uint)sizeof(TimeVal));
        }
    }
}
