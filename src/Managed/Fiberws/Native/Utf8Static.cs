using System.Runtime.InteropServices;
using System.Text;

namespace Fiberws.Native
{
    /// <summary>NUL-terminated UTF-8 strings in native memory that live as long as the process (static text for C).</summary>
    internal static unsafe class Utf8Static
    {
        public static byte* Make(string text)
        {
            int n = Encoding.UTF8.GetByteCount(text);
            byte* p = (byte*)NativeMemory.Alloc((nuint)n + 1);
            Encoding.UTF8.GetBytes(text, new System.Span<byte>(p, n));
            p[n] = 0;
            return p;
        }
    }
}
