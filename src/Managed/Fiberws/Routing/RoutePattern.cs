using System;
using System.Collections.Generic;
using Fiberws.Http;

namespace Fiberws.Routing
{
    /// <summary>
    /// A route path in Fiber's syntax: literal segments, ":name" parameters, ":name?" optional parameters,
    /// "*" (any rest, possibly empty, slashes included) and "+" (like "*" but not empty). Wildcards are
    /// reachable as "*1", "*2", ... ("*" is an alias of "*1"), and "+1", "+2", ... ("+" = "+1"), as in Fiber.
    /// Matching ignores case and a trailing slash (Fiber's defaults: CaseSensitive and StrictRouting off).
    /// Parameter values are percent-decoded. Immutable and thread-safe.
    /// </summary>
    public sealed class RoutePattern
    {
        private enum Kind { Literal, Param, OptionalParam, Star, Plus }

        private readonly (Kind Kind, string Text)[] _segments;

        public RoutePattern(string pattern)
        {
            ArgumentNullException.ThrowIfNull(pattern);
            if (!pattern.StartsWith('/'))
            {
                throw new ArgumentException($"route pattern '{pattern}' must start with '/'");
            }
            Pattern = pattern;
            var segments = new List<(Kind, string)>();
            int stars = 0;
            int pluses = 0;
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (string seg in Split(pattern))
            {
                if (seg == "*")
                {
                    segments.Add((Kind.Star, "*" + (++stars)));
                }
                else if (seg == "+")
                {
                    segments.Add((Kind.Plus, "+" + (++pluses)));
                }
                else if (seg.StartsWith(':'))
                {
                    bool optional = seg.EndsWith('?');
                    string name = seg.Substring(1, seg.Length - (optional ? 2 : 1));
                    if (name.Length == 0 || name.IndexOfAny([':', '*', '+', '?']) >= 0)
                    {
                        throw new ArgumentException($"route pattern '{pattern}': invalid parameter '{seg}'");
                    }
                    if (!names.Add(name))
                    {
                        throw new ArgumentException($"route pattern '{pattern}': parameter '{name}' appears twice");
                    }
                    segments.Add((optional ? Kind.OptionalParam : Kind.Param, name));
                }
                else
                {
                    if (seg.IndexOfAny(['*', '+', ':']) >= 0)
                    {
                        throw new ArgumentException($"route pattern '{pattern}': '*', '+' and ':' must be whole segments");
                    }
                    segments.Add((Kind.Literal, seg));
                }
            }
            _segments = segments.ToArray();
        }

        public string Pattern { get; }

        /// <summary>Matches a request path (not decoded); on success returns the parameters, else null.</summary>
        public List<KeyValuePair<string, string>>? Match(string path)
        {
            string[] parts = Split(path);
            var bound = new List<KeyValuePair<string, string>>();
            return MatchFrom(0, parts, 0, bound) ? bound : null;
        }

        /// <summary>True when this pattern would match the path under some method (used for 405).</summary>
        public bool Matches(string path) => Match(path) != null;

        private bool MatchFrom(int pi, string[] parts, int si, List<KeyValuePair<string, string>> bound)
        {
            if (pi == _segments.Length)
            {
                return si == parts.Length;
            }
            (Kind kind, string text) = _segments[pi];
            int mark = bound.Count;
            switch (kind)
            {
                case Kind.Literal:
                    return si < parts.Length && string.Equals(parts[si], text, StringComparison.OrdinalIgnoreCase) &&
                           MatchFrom(pi + 1, parts, si + 1, bound);
                case Kind.Param:
                case Kind.OptionalParam:
                    if (si < parts.Length && parts[si].Length > 0)
                    {
                        bound.Add(new(text, QueryString.Decode(parts[si], plusIsSpace: false)));
                        if (MatchFrom(pi + 1, parts, si + 1, bound))
                        {
                            return true;
                        }
                        bound.RemoveRange(mark, bound.Count - mark);
                    }
                    if (kind == Kind.OptionalParam)
                    {
                        bound.Add(new(text, string.Empty));
                        if (MatchFrom(pi + 1, parts, si, bound))
                        {
                            return true;
                        }
                        bound.RemoveRange(mark, bound.Count - mark);
                    }
                    return false;
                default:
                    int min = kind == Kind.Plus ? si + 1 : si;
                    for (int end = parts.Length; end >= min; end--)
                    {
                        string value = string.Join('/', parts, si, end - si);
                        if (kind == Kind.Plus && value.Length == 0)
                        {
                            continue;
                        }
                        bound.Add(new(text, QueryString.Decode(value, plusIsSpace: false)));
                        if (MatchFrom(pi + 1, parts, end, bound))
                        {
                            return true;
                        }
                        bound.RemoveRange(mark, bound.Count - mark);
                    }
                    return false;
            }
        }

        private static string[] Split(string path)
        {
            string trimmed = path.Trim('/');
            return trimmed.Length == 0 ? [] : trimmed.Split('/');
        }

        /// <summary>Looks a parameter up by name, with Fiber's aliases ("*" = "*1", "+" = "+1").</summary>
        public static string? Lookup(IReadOnlyList<KeyValuePair<string, string>> parameters, string name)
        {
            if (name == "*" || name == "+")
            {
                name += "1";
            }
            foreach (KeyValuePair<string, string> kv in parameters)
            {
                if (string.Equals(kv.Key, name, StringComparison.Ordinal))
                {
                    return kv.Value;
                }
            }
            return null;
        }
    }

    /// <summary>Prefix matching for Use(prefix): "/ws" matches "/ws" and "/ws/...", not "/wsx"; "/" matches all.</summary>
    public static class PrefixMatch
    {
        public static bool Matches(string prefix, string path)
        {
            string p = prefix.TrimEnd('/');
            if (p.Length == 0)
            {
                return true;
            }
            if (!path.StartsWith(p, StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
            return path.Length == p.Length || path[p.Length] == '/';
        }
    }
}
