using System.Collections.Generic;
using System.Text;

namespace Fwsgen
{
    internal static class TextUtil
    {
        /// <summary>Greedy word wrap; a word longer than the width gets a line of its own.</summary>
        public static List<string> Wrap(string text, int width)
        {
            var lines = new List<string>();
            var line = new StringBuilder();
            foreach (string word in text.Split(' ', System.StringSplitOptions.RemoveEmptyEntries))
            {
                if (line.Length > 0 && line.Length + 1 + word.Length > width)
                {
                    lines.Add(line.ToString());
                    line.Clear();
                }
                if (line.Length > 0)
                {
                    line.Append(' ');
                }
                line.Append(word);
            }
            if (line.Length > 0)
            {
                lines.Add(line.ToString());
            }
            return lines;
        }

        /// <summary>Lines of a list of paragraphs, wrapped to <paramref name="width"/>, a blank line between paragraphs.</summary>
        public static List<string> Paragraphs(IReadOnlyList<Para> paras, int width)
        {
            var lines = new List<string>();
            for (int i = 0; i < paras.Count; i++)
            {
                Para p = paras[i];
                if (i > 0 && !(p.ListItem && paras[i - 1].ListItem))
                {
                    lines.Add("");
                }
                if (p.Pre)
                {
                    // Code keeps its lines, indented so that it stands apart from the text.
                    foreach (string l in p.Text.Split('\n'))
                    {
                        lines.Add(l.Length == 0 ? "" : "    " + l);
                    }
                }
                else if (p.ListItem)
                {
                    List<string> wrapped = Wrap(p.Text, width - 2);
                    for (int j = 0; j < wrapped.Count; j++)
                    {
                        lines.Add(j == 0 ? wrapped[j] : "  " + wrapped[j]);
                    }
                }
                else
                {
                    lines.AddRange(Wrap(p.Text, width));
                }
            }
            return lines;
        }

        /// <summary>Joins the paragraphs into one line of flowing text (for places that cannot hold blocks).</summary>
        public static string Flatten(IReadOnlyList<Para> paras)
        {
            var parts = new List<string>();
            foreach (Para p in paras)
            {
                parts.Add(p.Pre ? DocFile.Normalize(p.Text) : p.Text);
            }
            return string.Join(" ", parts);
        }
    }
}
