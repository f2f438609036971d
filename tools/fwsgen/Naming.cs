using System.Collections.Generic;
using System.Text;

namespace Fwsgen
{
    internal static class Naming
    {
        /// <summary>
        /// PascalCase or camelCase to snake_case: <c>HeaderReadTimeoutMs</c> gives <c>header_read_timeout_ms</c>,
        /// <c>Utf8Len</c> gives <c>utf8_len</c>, <c>HTTPVersion</c> gives <c>http_version</c>, <c>appOut</c> gives <c>app_out</c>.
        /// An underscore goes before an upper-case letter that follows a lower-case letter or a digit, or that starts
        /// a new word after an acronym (upper followed by lower).
        /// </summary>
        public static string SnakeCase(string name)
        {
            var sb = new StringBuilder(name.Length + 8);
            for (int i = 0; i < name.Length; i++)
            {
                char c = name[i];
                if (char.IsUpper(c))
                {
                    if (i > 0 && name[i - 1] != '_')
                    {
                        char prev = name[i - 1];
                        bool nextLower = i + 1 < name.Length && char.IsLower(name[i + 1]);
                        if (char.IsLower(prev) || char.IsDigit(prev) || (char.IsUpper(prev) && nextLower))
                        {
                            sb.Append('_');
                        }
                    }
                    sb.Append(char.ToLowerInvariant(c));
                }
                else
                {
                    sb.Append(c);
                }
            }
            return sb.ToString();
        }

        public static string UpperSnakeCase(string name) => SnakeCase(name).ToUpperInvariant();

        public static bool IsIdentifier(string s)
        {
            if (s.Length == 0 || !(char.IsAsciiLetter(s[0]) || s[0] == '_'))
            {
                return false;
            }
            foreach (char c in s)
            {
                if (!(char.IsAsciiLetterOrDigit(c) || c == '_'))
                {
                    return false;
                }
            }
            return true;
        }

        /// <summary>Keywords of C99 and C++11 (including the alternative operator tokens), which a name must not be.</summary>
        public static readonly HashSet<string> Keywords = new()
        {
            "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum", "extern",
            "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return", "short", "signed",
            "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void", "volatile", "while",
            "_Bool", "_Complex", "_Imaginary",
            "alignas", "alignof", "and", "and_eq", "asm", "bitand", "bitor", "bool", "catch", "char16_t", "char32_t",
            "class", "compl", "constexpr", "const_cast", "decltype", "delete", "dynamic_cast", "explicit", "export",
            "false", "friend", "mutable", "namespace", "new", "noexcept", "not", "not_eq", "nullptr", "operator", "or",
            "or_eq", "private", "protected", "public", "reinterpret_cast", "static_assert", "static_cast", "template",
            "this", "thread_local", "throw", "true", "try", "typeid", "typename", "using", "virtual", "wchar_t", "xor",
            "xor_eq",
        };
    }
}
