using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Xml.Linq;

namespace Fwsgen
{
    /// <summary>A paragraph of documentation: flowing text (wrapped on output) or preformatted lines.</summary>
    internal sealed record Para(string Text, bool Pre, bool ListItem = false);

    /// <summary>The documentation of one member, already converted to plain text.</summary>
    internal sealed class DocEntry
    {
        public List<Para> Summary { get; } = new();
        public List<Para> Remarks { get; } = new();
        public List<Para> Returns { get; } = new();

        /// <summary>Parameter docs keyed by the C# parameter name.</summary>
        public Dictionary<string, List<Para>> Params { get; } = new(StringComparer.Ordinal);

        public bool IsEmpty => Summary.Count == 0 && Remarks.Count == 0 && Returns.Count == 0 && Params.Count == 0;

        public static readonly DocEntry Empty = new();
    }

    /// <summary>The compiler's XML documentation file, indexed by documentation ID.</summary>
    internal sealed class DocFile
    {
        private readonly Dictionary<string, XElement> _members = new(StringComparer.Ordinal);

        /// <summary>Maps a cref (documentation ID such as <c>T:Fiberws.ResultCode</c>) to the text to print.</summary>
        public Func<string, string?> ResolveCref { get; set; } = _ => null;

        public static DocFile Load(string path)
        {
            var file = new DocFile();
            XDocument doc = XDocument.Load(path, LoadOptions.PreserveWhitespace);
            XElement? members = doc.Root?.Element("members");
            if (members is not null)
            {
                foreach (XElement member in members.Elements("member"))
                {
                    string? name = (string?)member.Attribute("name");
                    if (name is not null)
                    {
                        file._members[name] = member;
                    }
                }
            }
            return file;
        }

        public bool Contains(string id) => _members.ContainsKey(id);

        /// <summary>All documentation IDs that start with <paramref name="prefix"/>.</summary>
        public List<string> IdsStartingWith(string prefix) =>
            _members.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).OrderBy(k => k, StringComparer.Ordinal).ToList();

        public DocEntry Get(string id)
        {
            if (!_members.TryGetValue(id, out XElement? member))
            {
                return DocEntry.Empty;
            }
            var entry = new DocEntry();
            foreach (XElement section in member.Elements())
            {
                switch (section.Name.LocalName)
                {
                    case "summary":
                        entry.Summary.AddRange(Render(section));
                        break;
                    case "remarks":
                        entry.Remarks.AddRange(Render(section));
                        break;
                    case "returns":
                        entry.Returns.AddRange(Render(section));
                        break;
                    case "param":
                        string? name = (string?)section.Attribute("name");
                        if (name is not null)
                        {
                            entry.Params[name] = Render(section);
                        }
                        break;
                }
            }
            return entry;
        }

        private List<Para> Render(XElement section)
        {
            var paras = new List<Para>();
            var sb = new StringBuilder();

            void FlushText()
            {
                string text = Normalize(sb.ToString());
                if (text.Length > 0)
                {
                    paras.Add(new Para(text, false));
                }
                sb.Clear();
            }

            void Walk(XNode node)
            {
                if (node is XText text)
                {
                    sb.Append(text.Value);
                    return;
                }
                if (node is not XElement e)
                {
                    return;
                }
                switch (e.Name.LocalName)
                {
                    case "para":
                    case "br":
                        FlushText();
                        foreach (XNode child in e.Nodes())
                        {
                            Walk(child);
                        }
                        FlushText();
                        break;
                    case "code":
                        FlushText();
                        string code = Dedent(e.Value);
                        if (code.Length > 0)
                        {
                            paras.Add(new Para(code, true));
                        }
                        break;
                    case "list":
                        FlushText();
                        foreach (XElement item in e.Elements("item"))
                        {
                            string itemText = Normalize(Inline(item));
                            if (itemText.Length > 0)
                            {
                                paras.Add(new Para("- " + itemText, false, ListItem: true));
                            }
                        }
                        break;
                    default:
                        sb.Append(Inline(e));
                        break;
                }
            }

            foreach (XNode node in section.Nodes())
            {
                Walk(node);
            }
            FlushText();
            return paras;
        }

        /// <summary>The text of an inline element: <c>c</c>, <c>see</c>, <c>paramref</c> and friends.</summary>
        private string Inline(XElement e)
        {
            switch (e.Name.LocalName)
            {
                case "see":
                case "seealso":
                {
                    if (e.Nodes().Any())
                    {
                        return InlineChildren(e);
                    }
                    string? cref = (string?)e.Attribute("cref");
                    if (cref is not null)
                    {
                        return ResolveCref(cref) ?? ShortCref(cref);
                    }
                    string? langword = (string?)e.Attribute("langword");
                    if (langword is not null)
                    {
                        return langword == "null" ? "NULL" : langword;
                    }
                    return (string?)e.Attribute("href") ?? "";
                }
                case "paramref":
                    return Naming.SnakeCase((string?)e.Attribute("name") ?? "");
                case "typeparamref":
                    return (string?)e.Attribute("name") ?? "";
                default:
                    return InlineChildren(e);
            }
        }

        private string InlineChildren(XElement e)
        {
            if (e.Name.LocalName == "item" && e.Element("term") is XElement term && e.Element("description") is XElement desc)
            {
                return InlineChildren(term) + " - " + InlineChildren(desc);
            }
            var sb = new StringBuilder();
            foreach (XNode child in e.Nodes())
            {
                if (child is XText t)
                {
                    sb.Append(t.Value);
                }
                else if (child is XElement ce)
                {
                    sb.Append(Inline(ce));
                }
            }
            return sb.ToString();
        }

        /// <summary>The short name of a cref: <c>M:A.B.Method(System.Int32)</c> gives <c>Method</c>.</summary>
        public static string ShortCref(string cref)
        {
            string s = cref.Length > 2 && cref[1] == ':' ? cref.Substring(2) : cref;
            int paren = s.IndexOf('(');
            if (paren >= 0)
            {
                s = s.Substring(0, paren);
            }
            int dot = s.LastIndexOf('.');
            return dot >= 0 ? s.Substring(dot + 1) : s;
        }

        public static string Normalize(string text)
        {
            var sb = new StringBuilder(text.Length);
            bool space = false;
            foreach (char c in text)
            {
                if (char.IsWhiteSpace(c))
                {
                    space = sb.Length > 0;
                    continue;
                }
                if (space)
                {
                    sb.Append(' ');
                    space = false;
                }
                sb.Append(c);
            }
            return sb.ToString();
        }

        private static string Dedent(string text)
        {
            List<string> lines = text.Replace("\r\n", "\n").Split('\n').Select(l => l.TrimEnd()).ToList();
            while (lines.Count > 0 && lines[0].Length == 0)
            {
                lines.RemoveAt(0);
            }
            while (lines.Count > 0 && lines[^1].Length == 0)
            {
                lines.RemoveAt(lines.Count - 1);
            }
            int indent = lines.Where(l => l.Length > 0).Select(l => l.Length - l.TrimStart().Length).DefaultIfEmpty(0).Min();
            return string.Join("\n", lines.Select(l => l.Length >= indent ? l.Substring(indent) : l));
        }
    }
}
