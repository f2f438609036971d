using System;
using System.Collections.Generic;
using System.Text;

namespace Fwsgen
{
    /// <summary>A small unified diff (LCS over lines, 3 lines of context) for --check.</summary>
    internal static class TextDiff
    {
        private const int Context = 3;
        private const long MaxCells = 16_000_000;

        public static string Unified(string oldText, string newText, string oldName, string newName)
        {
            string[] a = Lines(oldText);
            string[] b = Lines(newText);
            var sb = new StringBuilder();
            sb.Append("--- ").Append(oldName).Append('\n');
            sb.Append("+++ ").Append(newName).Append('\n');

            // Common prefix and suffix keep the LCS table small.
            int pre = 0;
            while (pre < a.Length && pre < b.Length && a[pre] == b[pre])
            {
                pre++;
            }
            int suf = 0;
            while (suf < a.Length - pre && suf < b.Length - pre && a[a.Length - 1 - suf] == b[b.Length - 1 - suf])
            {
                suf++;
            }
            int n = a.Length - pre - suf;
            int m = b.Length - pre - suf;

            // Edit script: ' ' keep, '-' delete from a, '+' insert from b, with indexes into a and b.
            var ops = new List<(char Op, int A, int B)>();
            for (int i = 0; i < pre; i++)
            {
                ops.Add((' ', i, i));
            }
            if ((long)(n + 1) * (m + 1) <= MaxCells)
            {
                var lcs = new int[n + 1, m + 1];
                for (int i = n - 1; i >= 0; i--)
                {
                    for (int j = m - 1; j >= 0; j--)
                    {
                        lcs[i, j] = a[pre + i] == b[pre + j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
                    }
                }
                int x = 0, y = 0;
                while (x < n || y < m)
                {
                    if (x < n && y < m && a[pre + x] == b[pre + y])
                    {
                        ops.Add((' ', pre + x, pre + y));
                        x++;
                        y++;
                    }
                    else if (x < n && (y == m || lcs[x + 1, y] >= lcs[x, y + 1]))
                    {
                        ops.Add(('-', pre + x, pre + y));
                        x++;
                    }
                    else
                    {
                        ops.Add(('+', pre + x, pre + y));
                        y++;
                    }
                }
            }
            else
            {
                for (int i = 0; i < n; i++)
                {
                    ops.Add(('-', pre + i, pre));
                }
                for (int j = 0; j < m; j++)
                {
                    ops.Add(('+', pre + n, pre + j));
                }
            }
            for (int i = 0; i < suf; i++)
            {
                ops.Add((' ', a.Length - suf + i, b.Length - suf + i));
            }

            // Group changes into hunks with context.
            int k = 0;
            while (k < ops.Count)
            {
                if (ops[k].Op == ' ')
                {
                    k++;
                    continue;
                }
                int start = Math.Max(0, k - Context);
                int end = k;
                int lastChange = k;
                while (end < ops.Count)
                {
                    if (ops[end].Op != ' ')
                    {
                        lastChange = end;
                    }
                    else if (end - lastChange > 2 * Context)
                    {
                        break;
                    }
                    end++;
                }
                end = Math.Min(ops.Count, lastChange + Context + 1);
                int aStart = ops[start].A, bStart = ops[start].B, aCount = 0, bCount = 0;
                var body = new StringBuilder();
                for (int i = start; i < end; i++)
                {
                    (char op, int ai, int bi) = ops[i];
                    string text = op == '+' ? b[bi] : a[ai];
                    body.Append(op).Append(text).Append('\n');
                    if (op != '+')
                    {
                        aCount++;
                    }
                    if (op != '-')
                    {
                        bCount++;
                    }
                }
                sb.Append("@@ -").Append(aStart + 1).Append(',').Append(aCount)
                  .Append(" +").Append(bStart + 1).Append(',').Append(bCount).Append(" @@\n");
                sb.Append(body);
                k = end;
            }
            return sb.ToString();
        }

        private static string[] Lines(string text)
        {
            if (text.Length == 0)
            {
                return Array.Empty<string>();
            }
            string t = text.EndsWith('\n') ? text.Substring(0, text.Length - 1) : text;
            return t.Split('\n');
        }
    }
}
