using System;
using System.Runtime.InteropServices;

namespace Fiberws.Transport
{
    /// <summary>
    /// A socket file descriptor whose close waits for every thread using it. I/O paths take a reference
    /// (DangerousAddRef) around their system calls, so a close from another thread can never make them
    /// touch a reused descriptor number. Thread-safe.
    /// </summary>
    internal sealed class SocketFd : SafeHandle
    {
        public SocketFd(int fd)
            : base(new IntPtr(-1), ownsHandle: true)
        {
            SetHandle(new IntPtr(fd));
        }

        public override bool IsInvalid => handle.ToInt64() < 0;

        public int Fd => (int)handle.ToInt64();

        protected override bool ReleaseHandle()
        {
            return Libc.Close((int)handle.ToInt64()) == 0;
        }
    }
}
