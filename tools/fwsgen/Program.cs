using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text;

namespace Fwsgen
{
    /// <summary>
    /// fwsgen: reads libfiberws.dll (IL from a plain dotnet build) and libfiberws.xml, and writes fiberws.h and _ffi.py.
    /// Exit codes: 0 success (or, with --check, files up to date); 1 validation errors or stale files; 2 bad usage.
    /// </summary>
    internal static class Program
    {
        private const string Usage =
            "usage: fwsgen --assembly libfiberws.dll --xml libfiberws.xml --header include/fiberws.h\n" +
            "              --python bindings/python/fiberws/_ffi.py [--preamble FILE] [--check]\n" +
            "  --check     write nothing; exit 1 and print a diff if a file differs from what would be generated\n" +
            "  --preamble  C comment put after the banner (default: header-preamble.txt next to fwsgen.csproj, if any)";

        private static readonly UTF8Encoding s_utf8 = new(encoderShouldEmitUTF8Identifier: false);

        public static int Main(string[] args)
        {
            try
            {
                return Run(args);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or BadImageFormatException or System.Xml.XmlException)
            {
                Console.Error.WriteLine("fwsgen: error: " + e.Message);
                return 1;
            }
        }

        private static int Run(string[] args)
        {
            string? assembly = null, xml = null, header = null, python = null, preamblePath = null;
            bool check = false;
            for (int i = 0; i < args.Length; i++)
            {
                string a = args[i];
                string? Next() => i + 1 < args.Length ? args[++i] : null;
                switch (a)
                {
                    case "--assembly": assembly = Next(); break;
                    case "--xml": xml = Next(); break;
                    case "--header": header = Next(); break;
                    case "--python": python = Next(); break;
                    case "--preamble": preamblePath = Next(); break;
                    case "--check": check = true; break;
                    case "-h":
                    case "--help":
                        Console.WriteLine(Usage);
                        return 0;
                    default:
                        Console.Error.WriteLine("fwsgen: unknown argument '" + a + "'\n" + Usage);
                        return 2;
                }
            }
            if (assembly is null || xml is null || header is null || python is null)
            {
                Console.Error.WriteLine("fwsgen: --assembly, --xml, --header and --python are required\n" + Usage);
                return 2;
            }
            foreach (string input in new[] { assembly, xml })
            {
                if (!File.Exists(input))
                {
                    Console.Error.WriteLine("fwsgen: error: " + input + " does not exist (build src/Managed/Fiberws first)");
                    return 1;
                }
            }

            preamblePath ??= DefaultPreamble();
            string? preamble = null;
            if (preamblePath is not null)
            {
                if (!File.Exists(preamblePath))
                {
                    Console.Error.WriteLine("fwsgen: error: preamble " + preamblePath + " does not exist");
                    return 1;
                }
                preamble = File.ReadAllText(preamblePath);
            }

            ApiModel model;
            using (FileStream fs = File.OpenRead(assembly))
            using (var pe = new PEReader(fs))
            {
                if (!pe.HasMetadata)
                {
                    Console.Error.WriteLine("fwsgen: error: " + assembly + " is not a .NET assembly");
                    return 1;
                }
                MetadataReader md = pe.GetMetadataReader();
                var builder = new ModelBuilder(md, DocFile.Load(xml));
                model = builder.Build();
                foreach (string w in builder.Warnings)
                {
                    Console.Error.WriteLine("fwsgen: warning: " + w);
                }
                if (builder.Errors.Count > 0)
                {
                    foreach (string e in builder.Errors)
                    {
                        Console.Error.WriteLine("fwsgen: error: " + e);
                    }
                    Console.Error.WriteLine("fwsgen: " + builder.Errors.Count + " error(s); nothing written");
                    return 1;
                }
            }

            var outputs = new List<(string Path, string Text)>
            {
                (header, new HeaderWriter(model, preamble).Write()),
                (python, new PythonWriter(model).Write()),
            };

            int exit = 0;
            foreach ((string path, string text) in outputs)
            {
                string? current = File.Exists(path) ? File.ReadAllText(path) : null;
                if (current == text)
                {
                    Console.WriteLine("fwsgen: " + path + " is up to date");
                    continue;
                }
                if (check)
                {
                    Console.WriteLine("fwsgen: " + path + (current is null ? " does not exist" : " is stale") + "; regenerate it with fwsgen");
                    Console.Write(TextDiff.Unified(current ?? "", text, path + " (on disk)", path + " (generated)"));
                    exit = 1;
                    continue;
                }
                string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
                if (dir is not null)
                {
                    Directory.CreateDirectory(dir);
                }
                File.WriteAllText(path, text, s_utf8);
                Console.WriteLine("fwsgen: wrote " + path);
            }
            return exit;
        }

        /// <summary>header-preamble.txt in the directory of fwsgen.csproj, found upwards from the tool's binary.</summary>
        private static string? DefaultPreamble()
        {
            for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                if (File.Exists(Path.Combine(d.FullName, "fwsgen.csproj")))
                {
                    string p = Path.Combine(d.FullName, "header-preamble.txt");
                    return File.Exists(p) ? p : null;
                }
            }
            return null;
        }
    }
}
