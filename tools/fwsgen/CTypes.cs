using System.Collections.Generic;
using System.Reflection.Metadata;
using System.Text;

namespace Fwsgen
{
    /// <summary>A C scalar type. Size 0 means "pointer-sized" (intptr_t, size_t, ...), never equal to a fixed size.</summary>
    internal sealed record CScalar(string Name, int Size, char Kind, string Py)
    {
        // Kind: 'v' void, 'i' signed integer, 'u' unsigned integer, 'c' plain char, 'f' floating point.
        public bool IsVoid => Kind == 'v';
        public bool IsFloat => Kind == 'f';
    }

    /// <summary>A mapped type: its C spelling and the ctypes expression that matches it.</summary>
    internal sealed class CType
    {
        public CType(string c, string py)
        {
            C = c;
            Py = py;
        }

        /// <summary>C spelling, e.g. <c>const char*</c>, <c>fws_app**</c>, <c>fws_handler_fn</c>.</summary>
        public string C { get; }

        /// <summary>ctypes expression, e.g. <c>ctypes.c_char_p</c>; <c>None</c> for void.</summary>
        public string Py { get; }

        /// <summary>The C name of the CEnum the IL type was (the C type is its underlying integer).</summary>
        public string? EnumName { get; init; }

        public bool IsVoid => C == "void";

        /// <summary>"type name" with the enum hint, e.g. <c>int32_t /* fws_message_type */ type</c>.</summary>
        public string Declare(string name)
        {
            string hint = EnumName is null ? "" : " /* " + EnumName + " */";
            return C + hint + " " + name;
        }

        public string ReturnSpelling => EnumName is null ? C : C + " /* " + EnumName + " */";
    }

    internal static class CTypes
    {
        private static readonly Dictionary<string, CScalar> s_scalars = new()
        {
            ["void"] = new CScalar("void", 0, 'v', "None"),
            ["int8_t"] = new CScalar("int8_t", 1, 'i', "ctypes.c_int8"),
            ["uint8_t"] = new CScalar("uint8_t", 1, 'u', "ctypes.c_uint8"),
            ["int16_t"] = new CScalar("int16_t", 2, 'i', "ctypes.c_int16"),
            ["uint16_t"] = new CScalar("uint16_t", 2, 'u', "ctypes.c_uint16"),
            ["int32_t"] = new CScalar("int32_t", 4, 'i', "ctypes.c_int32"),
            ["uint32_t"] = new CScalar("uint32_t", 4, 'u', "ctypes.c_uint32"),
            ["int64_t"] = new CScalar("int64_t", 8, 'i', "ctypes.c_int64"),
            ["uint64_t"] = new CScalar("uint64_t", 8, 'u', "ctypes.c_uint64"),
            ["intptr_t"] = new CScalar("intptr_t", 0, 'i', "ctypes.c_ssize_t"),
            ["uintptr_t"] = new CScalar("uintptr_t", 0, 'u', "ctypes.c_size_t"),
            ["ptrdiff_t"] = new CScalar("ptrdiff_t", 0, 'i', "ctypes.c_ssize_t"),
            ["size_t"] = new CScalar("size_t", 0, 'u', "ctypes.c_size_t"),
            ["float"] = new CScalar("float", 4, 'f', "ctypes.c_float"),
            ["double"] = new CScalar("double", 8, 'f', "ctypes.c_double"),
            ["char"] = new CScalar("char", 1, 'c', "ctypes.c_char"),
            ["signed char"] = new CScalar("signed char", 1, 'i', "ctypes.c_byte"),
            ["unsigned char"] = new CScalar("unsigned char", 1, 'u', "ctypes.c_ubyte"),
        };

        public static CScalar? Scalar(string name) => s_scalars.TryGetValue(name, out CScalar? s) ? s : null;

        /// <summary>The C scalar for an IL primitive, or null with a reason when it has none.</summary>
        public static CScalar? FromPrimitive(PrimitiveTypeCode code, out string? why)
        {
            why = null;
            switch (code)
            {
                case PrimitiveTypeCode.Void: return s_scalars["void"];
                case PrimitiveTypeCode.SByte: return s_scalars["int8_t"];
                case PrimitiveTypeCode.Byte: return s_scalars["uint8_t"];
                case PrimitiveTypeCode.Int16: return s_scalars["int16_t"];
                case PrimitiveTypeCode.UInt16: return s_scalars["uint16_t"];
                case PrimitiveTypeCode.Int32: return s_scalars["int32_t"];
                case PrimitiveTypeCode.UInt32: return s_scalars["uint32_t"];
                case PrimitiveTypeCode.Int64: return s_scalars["int64_t"];
                case PrimitiveTypeCode.UInt64: return s_scalars["uint64_t"];
                case PrimitiveTypeCode.IntPtr: return s_scalars["intptr_t"];
                case PrimitiveTypeCode.UIntPtr: return s_scalars["size_t"];
                case PrimitiveTypeCode.Single: return s_scalars["float"];
                case PrimitiveTypeCode.Double: return s_scalars["double"];
                case PrimitiveTypeCode.Boolean:
                    why = "bool is not blittable and is not allowed; use byte (uint8_t 0/1)";
                    return null;
                case PrimitiveTypeCode.Char:
                    why = "char is not allowed; use ushort, or byte* with [C(\"const char*\")] for strings";
                    return null;
                case PrimitiveTypeCode.String:
                    why = "string is not allowed; use byte* with [C(\"const char*\")] (NUL-terminated UTF-8)";
                    return null;
                default:
                    why = code + " has no C mapping";
                    return null;
            }
        }

        /// <summary>Wraps a ctypes expression in <paramref name="depth"/> POINTER(...) levels.</summary>
        public static string PyPointer(string inner, int depth)
        {
            var sb = new StringBuilder();
            for (int i = 0; i < depth; i++)
            {
                sb.Append("ctypes.POINTER(");
            }
            sb.Append(inner);
            sb.Append(')', depth);
            return sb.ToString();
        }

        /// <summary>The ctypes expression of a scalar base type under <paramref name="depth"/> pointers.</summary>
        public static string PyScalar(CScalar s, int depth)
        {
            if (s.IsVoid)
            {
                return depth == 0 ? "None" : PyPointer("ctypes.c_void_p", depth - 1);
            }
            if (s.Kind == 'c')
            {
                return depth == 0 ? "ctypes.c_char" : PyPointer("ctypes.c_char_p", depth - 1);
            }
            return PyPointer(s.Py, depth);
        }

        /// <summary>
        /// Parses a C spelling such as <c>const char* const*</c> into its base type name (qualifiers dropped) and its
        /// pointer depth. Returns null with a reason for spellings it does not understand (arrays, references, ...).
        /// </summary>
        public static (string Base, int Depth)? ParseSpelling(string spelling, out string? why)
        {
            why = null;
            int depth = 0;
            var words = new List<string>();
            foreach (string token in Tokenize(spelling))
            {
                if (token == "*")
                {
                    if (words.Count == 0)
                    {
                        why = "'*' before the type name";
                        return null;
                    }
                    depth++;
                }
                else if (token == "const" || token == "volatile")
                {
                    continue;
                }
                else if (depth > 0)
                {
                    why = "'" + token + "' after a '*'";
                    return null;
                }
                else if (!Naming.IsIdentifier(token))
                {
                    why = "unsupported token '" + token + "'";
                    return null;
                }
                else
                {
                    words.Add(token);
                }
            }
            if (words.Count == 0)
            {
                why = "no type name";
                return null;
            }
            return (string.Join(" ", words), depth);
        }

        private static IEnumerable<string> Tokenize(string spelling)
        {
            var word = new StringBuilder();
            foreach (char c in spelling)
            {
                if (char.IsAsciiLetterOrDigit(c) || c == '_')
                {
                    word.Append(c);
                    continue;
                }
                if (word.Length > 0)
                {
                    yield return word.ToString();
                    word.Clear();
                }
                if (!char.IsWhiteSpace(c))
                {
                    yield return c.ToString();
                }
            }
            if (word.Length > 0)
            {
                yield return word.ToString();
            }
        }

        /// <summary>Normalises the spacing of a C spelling: single spaces, none before '*'.</summary>
        public static string NormalizeSpelling(string spelling)
        {
            var sb = new StringBuilder();
            bool pendingSpace = false;
            foreach (char c in spelling.Trim())
            {
                if (char.IsWhiteSpace(c))
                {
                    pendingSpace = true;
                    continue;
                }
                if (pendingSpace && c != '*')
                {
                    sb.Append(' ');
                }
                pendingSpace = false;
                sb.Append(c);
            }
            return sb.ToString();
        }
    }
}
