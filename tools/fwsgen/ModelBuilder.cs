using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Text;

namespace Fwsgen
{
    /// <summary>Reads the marker attributes and exports of the assembly into an <see cref="ApiModel"/>.</summary>
    internal sealed class ModelBuilder
    {
        private const string UnmanagedCallersOnly = "System.Runtime.InteropServices.UnmanagedCallersOnlyAttribute";

        private enum Usage
        {
            Param,
            Return,
            Field,
            CallbackParam,
            CallbackReturn,
        }

        /// <summary>Where a type is used: <c>Where</c> for error messages, <c>UsedBy</c> for the callback comment.</summary>
        private readonly record struct Site(string Where, string UsedBy);

        private readonly MetadataReader _md;
        private readonly DocFile _docs;
        private readonly SignatureProvider _provider;
        private readonly ApiModel _model = new();
        private readonly Dictionary<TypeDefinitionHandle, HandleDef> _handles = new();
        private readonly Dictionary<TypeDefinitionHandle, StructDef> _structs = new();
        private readonly Dictionary<TypeDefinitionHandle, EnumDef> _enums = new();
        private readonly Dictionary<string, CallbackDef> _callbacks = new(StringComparer.Ordinal);
        private readonly Dictionary<string, string> _cNames = new(StringComparer.Ordinal);
        private readonly Dictionary<string, string> _crefs = new(StringComparer.Ordinal);
        private readonly HashSet<string> _typeNames = new(StringComparer.Ordinal);

        public ModelBuilder(MetadataReader md, DocFile docs)
        {
            _md = md;
            _docs = docs;
            _provider = new SignatureProvider(md);
            _docs.ResolveCref = cref => _crefs.TryGetValue(cref, out string? c) ? c : null;
        }

        public List<string> Errors { get; } = new();
        public List<string> Warnings { get; } = new();

        public ApiModel Build()
        {
            // Pass 1: names only, so that <see cref="..."/> anywhere can print the C name of anything.
            CollectCrefs();
            // Pass 2: marker types (handles, structs, enums, constants).
            foreach (TypeDefinitionHandle h in _md.TypeDefinitions)
            {
                ReadMarkerType(h);
            }
            // Pass 3: struct fields (they may refer to any marker type and define callbacks).
            foreach (StructDef s in _structs.Values.OrderBy(s => MetadataTokens.GetRowNumber(s.Handle)))
            {
                ReadStructFields(s);
            }
            OrderStructs();
            // Pass 4: exports, grouped by their class, in TypeDef then MethodDef order.
            var groups = new Dictionary<string, FunctionGroup>(StringComparer.Ordinal);
            foreach (TypeDefinitionHandle h in _md.TypeDefinitions)
            {
                ReadExports(h, groups);
            }
            // Stable: equal Order keeps TypeDef order.
            List<FunctionGroup> sorted = _model.Groups.OrderBy(g => g.Order).ToList();
            _model.Groups.Clear();
            _model.Groups.AddRange(sorted);
            return _model;
        }

        // ---------------------------------------------------------------------------------------------------------
        // Pass 1

        private void CollectCrefs()
        {
            foreach (TypeDefinitionHandle h in _md.TypeDefinitions)
            {
                TypeDefinition td = _md.GetTypeDefinition(h);
                string full = MetadataUtil.FullName(_md, h);
                CustomAttributeHandleCollection attrs = td.GetCustomAttributes();
                string? typeName = Marker(attrs, "CHandleAttribute") ?? Marker(attrs, "CStructAttribute");
                if (typeName is not null)
                {
                    _crefs["T:" + full] = typeName;
                    foreach (FieldDefinitionHandle fh in td.GetFields())
                    {
                        string field = _md.GetString(_md.GetFieldDefinition(fh).Name);
                        _crefs["F:" + full + "." + field] = typeName + "." + Naming.SnakeCase(field);
                    }
                }
                List<CustomAttributeValue<string>> cenum = MetadataUtil.Find(_md, attrs, "CEnumAttribute");
                string? constantsPrefix = Marker(attrs, "CConstantsAttribute");
                if (cenum.Count > 0)
                {
                    string name = MetadataUtil.StringArg(cenum[0], 0) ?? "";
                    string prefix = MetadataUtil.StringArg(cenum[0], 1) ?? "";
                    _crefs["T:" + full] = name;
                    constantsPrefix = prefix;
                }
                if (constantsPrefix is not null)
                {
                    foreach (FieldDefinitionHandle fh in td.GetFields())
                    {
                        FieldDefinition fd = _md.GetFieldDefinition(fh);
                        if ((fd.Attributes & FieldAttributes.Literal) != 0)
                        {
                            string field = _md.GetString(fd.Name);
                            _crefs["F:" + full + "." + field] = constantsPrefix + Naming.UpperSnakeCase(field);
                        }
                    }
                }
                foreach (MethodDefinitionHandle mh in td.GetMethods())
                {
                    MethodDefinition m = _md.GetMethodDefinition(mh);
                    string? entry = EntryPoint(m);
                    if (entry is not null)
                    {
                        _crefs[MethodDocId(h, m)] = entry;
                    }
                }
            }
        }

        private string? Marker(CustomAttributeHandleCollection attrs, string name)
        {
            List<CustomAttributeValue<string>> found = MetadataUtil.Find(_md, attrs, name);
            return found.Count > 0 ? MetadataUtil.StringArg(found[0], 0) : null;
        }

        private string? EntryPoint(MethodDefinition m)
        {
            List<CustomAttributeValue<string>> uco = MetadataUtil.Find(_md, m.GetCustomAttributes(), UnmanagedCallersOnly);
            return uco.Count > 0 ? MetadataUtil.NamedArg(uco[0], "EntryPoint") as string : null;
        }

        // ---------------------------------------------------------------------------------------------------------
        // Pass 2

        private void ReadMarkerType(TypeDefinitionHandle h)
        {
            TypeDefinition td = _md.GetTypeDefinition(h);
            CustomAttributeHandleCollection attrs = td.GetCustomAttributes();
            string full = MetadataUtil.FullName(_md, h);
            string shortName = MetadataUtil.ShortName(full);
            string baseType = MetadataUtil.FullNameOfAny(_md, td.BaseType);
            DocEntry doc = _docs.Get("T:" + full);

            var markers = new List<string>();
            foreach (string m in new[] { "CHandleAttribute", "CStructAttribute", "CEnumAttribute", "CConstantsAttribute" })
            {
                if (MetadataUtil.Has(_md, attrs, m))
                {
                    markers.Add(m);
                }
            }
            if (markers.Count == 0)
            {
                return;
            }
            if (markers.Count > 1)
            {
                Error(shortName, "has more than one of " + string.Join(", ", markers));
                return;
            }

            switch (markers[0])
            {
                case "CHandleAttribute":
                {
                    string name = Marker(attrs, "CHandleAttribute") ?? "";
                    if (baseType != "System.ValueType")
                    {
                        Error(shortName, "[CHandle] must be on a struct");
                        return;
                    }
                    if (InstanceFields(td).Any())
                    {
                        Error(shortName, "[CHandle] struct must be empty (it stands for an opaque C type)");
                    }
                    if (CheckTypeName(name, shortName, "[CHandle]"))
                    {
                        var def = new HandleDef { CName = name, ClrName = shortName, Doc = doc };
                        _handles[h] = def;
                        _model.Handles.Add(def);
                    }
                    break;
                }
                case "CStructAttribute":
                {
                    string name = Marker(attrs, "CStructAttribute") ?? "";
                    if (baseType != "System.ValueType")
                    {
                        Error(shortName, "[CStruct] must be on a struct");
                        return;
                    }
                    TypeAttributes layout = td.Attributes & TypeAttributes.LayoutMask;
                    if (layout != TypeAttributes.SequentialLayout)
                    {
                        Error(shortName, "[CStruct] struct must have LayoutKind.Sequential (got " + layout + ")");
                    }
                    TypeLayout tl = td.GetLayout();
                    if (tl.PackingSize != 0 || tl.Size != 0)
                    {
                        Error(shortName, "[CStruct] struct must not set Pack or Size (C has no portable equivalent)");
                    }
                    if (CheckTypeName(name, shortName, "[CStruct]"))
                    {
                        var def = new StructDef { CName = name, ClrName = shortName, Handle = h, Doc = doc };
                        _structs[h] = def;
                    }
                    break;
                }
                case "CEnumAttribute":
                    ReadEnum(h, td, attrs, shortName, full, baseType, doc);
                    break;
                case "CConstantsAttribute":
                    ReadConstants(td, attrs, shortName, full, doc);
                    break;
            }
        }

        private IEnumerable<FieldDefinition> InstanceFields(TypeDefinition td)
        {
            foreach (FieldDefinitionHandle fh in td.GetFields())
            {
                FieldDefinition fd = _md.GetFieldDefinition(fh);
                if ((fd.Attributes & FieldAttributes.Static) == 0)
                {
                    yield return fd;
                }
            }
        }

        private bool CheckTypeName(string name, string owner, string marker)
        {
            if (!Naming.IsIdentifier(name) || !name.StartsWith("fws_", StringComparison.Ordinal) || name.EndsWith("_t", StringComparison.Ordinal))
            {
                Error(owner, marker + " name '" + name + "' must be an identifier fws_<noun> without a _t suffix");
                return false;
            }
            _typeNames.Add(name);
            return RegisterName(name, owner);
        }

        private bool RegisterName(string cName, string owner)
        {
            if (_cNames.TryGetValue(cName, out string? other))
            {
                Error(owner, "C name '" + cName + "' is already used by " + other);
                return false;
            }
            _cNames[cName] = owner;
            return true;
        }

        private void ReadEnum(TypeDefinitionHandle h, TypeDefinition td, CustomAttributeHandleCollection attrs, string shortName,
            string full, string baseType, DocEntry doc)
        {
            CustomAttributeValue<string> attr = MetadataUtil.Find(_md, attrs, "CEnumAttribute")[0];
            string name = MetadataUtil.StringArg(attr, 0) ?? "";
            string prefix = MetadataUtil.StringArg(attr, 1) ?? "";
            if (baseType != "System.Enum")
            {
                Error(shortName, "[CEnum] must be on an enum");
                return;
            }
            if (!prefix.StartsWith("FWS_", StringComparison.Ordinal))
            {
                Error(shortName, "[CEnum] prefix '" + prefix + "' must start with FWS_");
                return;
            }
            CScalar? underlying = null;
            foreach (FieldDefinition fd in InstanceFields(td))
            {
                if (fd.DecodeSignature(_provider, null) is IlPrimitive p)
                {
                    underlying = CTypes.FromPrimitive(p.Code, out _);
                }
            }
            if (underlying is null || underlying.IsVoid || underlying.IsFloat)
            {
                Error(shortName, "cannot determine the underlying integer type of the enum");
                return;
            }
            if (!CheckTypeName(name, shortName, "[CEnum]"))
            {
                return;
            }
            var def = new EnumDef { CName = name, Prefix = prefix, ClrName = shortName, Underlying = underlying, Doc = doc };
            foreach (FieldDefinitionHandle fh in td.GetFields())
            {
                FieldDefinition fd = _md.GetFieldDefinition(fh);
                if ((fd.Attributes & FieldAttributes.Literal) == 0)
                {
                    continue;
                }
                string member = _md.GetString(fd.Name);
                object? value = ConstantValue(fd);
                long v;
                try
                {
                    v = Convert.ToInt64(value, CultureInfo.InvariantCulture);
                }
                catch (Exception)
                {
                    Error(shortName + "." + member, "enum value does not fit in int64");
                    continue;
                }
                string upper = Naming.UpperSnakeCase(member);
                string cName = prefix + upper;
                if (RegisterName(cName, shortName + "." + member))
                {
                    def.Members.Add(new EnumMember
                    {
                        ShortName = upper,
                        CName = cName,
                        Value = v,
                        Doc = _docs.Get("F:" + full + "." + member),
                    });
                }
            }
            _enums[h] = def;
            _model.Enums.Add(def);
        }

        private object? ConstantValue(FieldDefinition fd)
        {
            ConstantHandle ch = fd.GetDefaultValue();
            if (ch.IsNil)
            {
                return null;
            }
            Constant c = _md.GetConstant(ch);
            return _md.GetBlobReader(c.Value).ReadConstant(c.TypeCode);
        }

        private void ReadConstants(TypeDefinition td, CustomAttributeHandleCollection attrs, string shortName, string full, DocEntry doc)
        {
            string prefix = Marker(attrs, "CConstantsAttribute") ?? "";
            if (!prefix.StartsWith("FWS_", StringComparison.Ordinal))
            {
                Error(shortName, "[CConstants] prefix '" + prefix + "' must start with FWS_");
                return;
            }
            var def = new ConstantsDef { ClrName = shortName, Doc = doc };
            foreach (FieldDefinitionHandle fh in td.GetFields())
            {
                FieldDefinition fd = _md.GetFieldDefinition(fh);
                string field = _md.GetString(fd.Name);
                if ((fd.Attributes & FieldAttributes.Literal) == 0)
                {
                    Warnings.Add(shortName + "." + field + ": not a const field; not emitted");
                    continue;
                }
                string cName = prefix + Naming.UpperSnakeCase(field);
                object? value = ConstantValue(fd);
                (string C, string Py)? literal = Literal(value);
                if (literal is null)
                {
                    Error(shortName + "." + field, "constant of type " + (value?.GetType().Name ?? "null") + " has no C form (use an integer, floating point or string)");
                    continue;
                }
                if (RegisterName(cName, shortName + "." + field))
                {
                    def.Items.Add(new ConstantDef
                    {
                        CName = cName,
                        CValue = literal.Value.C,
                        PyValue = literal.Value.Py,
                        Doc = _docs.Get("F:" + full + "." + field),
                    });
                }
            }
            _model.Constants.Add(def);
        }

        private static (string C, string Py)? Literal(object? value)
        {
            static string Neg(string s) => s.StartsWith('-') ? "(" + s + ")" : s;
            CultureInfo inv = CultureInfo.InvariantCulture;
            switch (value)
            {
                case sbyte or byte or short or ushort or int:
                {
                    string s = Convert.ToInt64(value, inv).ToString(inv);
                    return (Neg(s), s);
                }
                case uint u:
                    return (u.ToString(inv) + "u", u.ToString(inv));
                case long l:
                    return ("INT64_C(" + l.ToString(inv) + ")", l.ToString(inv));
                case ulong ul:
                    return ("UINT64_C(" + ul.ToString(inv) + ")", ul.ToString(inv));
                case float f when float.IsFinite(f):
                {
                    string s = FloatText(f.ToString("R", inv));
                    return (Neg(s + "f"), s);
                }
                case double d when double.IsFinite(d):
                {
                    string s = FloatText(d.ToString("R", inv));
                    return (Neg(s), s);
                }
                case string str:
                    return (CString(str), PyString(str));
                default:
                    return null;
            }
        }

        private static string FloatText(string s) => s.Contains('.') || s.Contains('E') || s.Contains('e') ? s : s + ".0";

        private static string CString(string s)
        {
            var sb = new StringBuilder("\"");
            foreach (byte b in Encoding.UTF8.GetBytes(s))
            {
                if (b == '"' || b == '\\')
                {
                    sb.Append('\\').Append((char)b);
                }
                else if (b >= 0x20 && b < 0x7f && b != '?')
                {
                    sb.Append((char)b);
                }
                else
                {
                    // Octal escapes are at most three digits, so they never swallow a following character.
                    sb.Append('\\').Append(Convert.ToString(b, 8).PadLeft(3, '0'));
                }
            }
            return sb.Append('"').ToString();
        }

        private static string PyString(string s)
        {
            var sb = new StringBuilder("\"");
            foreach (char c in s)
            {
                if (c == '"' || c == '\\')
                {
                    sb.Append('\\').Append(c);
                }
                else if (c >= 0x20 && c < 0x7f)
                {
                    sb.Append(c);
                }
                else
                {
                    sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                }
            }
            return sb.Append('"').ToString();
        }

        // ---------------------------------------------------------------------------------------------------------
        // Pass 3

        private void ReadStructFields(StructDef s)
        {
            TypeDefinition td = _md.GetTypeDefinition(s.Handle);
            string full = MetadataUtil.FullName(_md, s.Handle);
            foreach (FieldDefinitionHandle fh in td.GetFields())
            {
                FieldDefinition fd = _md.GetFieldDefinition(fh);
                if ((fd.Attributes & FieldAttributes.Static) != 0)
                {
                    continue;
                }
                string field = _md.GetString(fd.Name);
                string cName = Naming.SnakeCase(field);
                var site = new Site(s.ClrName + "." + field + " (" + s.CName + "." + cName + ")", s.CName + "." + cName);
                if (field.StartsWith('<'))
                {
                    Error(site.Where, "fixed-size buffers and compiler-generated fields are not supported in a [CStruct]");
                    continue;
                }
                CheckParamName(cName, site.Where);
                CustomAttributeHandleCollection attrs = fd.GetCustomAttributes();
                IlType il = fd.DecodeSignature(_provider, null);
                CType? type = Map(il, CSpelling(attrs), CallbackAttr(attrs), Usage.Field, site);
                if (type is null)
                {
                    continue;
                }
                IlType b = il;
                while (b is IlPointer p)
                {
                    b = p.Element;
                }
                if (b is IlDefinition d && il is IlDefinition && _structs.TryGetValue(d.Handle, out StructDef? inner))
                {
                    if (inner == s)
                    {
                        Error(site.Where, "a struct cannot contain itself");
                        continue;
                    }
                    s.Embeds.Add(inner.CName);
                }
                s.Fields.Add(new FieldDef { CName = cName, Type = type, Doc = _docs.Get("F:" + full + "." + field) });
            }
            if (s.Fields.Count == 0)
            {
                Error(s.ClrName, "[CStruct] struct has no fields (an empty struct is not valid C)");
            }
        }

        /// <summary>Definition order, except a struct embedded by value is defined before the struct embedding it.</summary>
        private void OrderStructs()
        {
            List<StructDef> all = _structs.Values.OrderBy(s => MetadataTokens.GetRowNumber(s.Handle)).ToList();
            var byName = all.ToDictionary(s => s.CName, StringComparer.Ordinal);
            var done = new HashSet<string>(StringComparer.Ordinal);
            var visiting = new HashSet<string>(StringComparer.Ordinal);
            void Visit(StructDef s)
            {
                if (done.Contains(s.CName))
                {
                    return;
                }
                if (!visiting.Add(s.CName))
                {
                    Error(s.ClrName, "structs embed each other by value in a cycle");
                    return;
                }
                foreach (string e in s.Embeds)
                {
                    Visit(byName[e]);
                }
                done.Add(s.CName);
                _model.Structs.Add(s);
            }
            foreach (StructDef s in all)
            {
                Visit(s);
            }
        }

        // ---------------------------------------------------------------------------------------------------------
        // Pass 4

        private void ReadExports(TypeDefinitionHandle h, Dictionary<string, FunctionGroup> groups)
        {
            TypeDefinition td = _md.GetTypeDefinition(h);
            string full = MetadataUtil.FullName(_md, h);
            string typeShort = MetadataUtil.ShortName(full);
            FunctionGroup? group = null;
            foreach (MethodDefinitionHandle mh in td.GetMethods())
            {
                MethodDefinition m = _md.GetMethodDefinition(mh);
                string? entry = EntryPoint(m);
                if (entry is null)
                {
                    continue; // not exported (e.g. an [UnmanagedCallersOnly] callback whose address is taken)
                }
                string clrName = typeShort + "." + _md.GetString(m.Name);
                string where = entry + " (" + clrName + ")";
                if (group is null)
                {
                    List<CustomAttributeValue<string>> cgroup = MetadataUtil.Find(_md, td.GetCustomAttributes(), "CGroupAttribute");
                    string? title = cgroup.Count > 0 ? MetadataUtil.StringArg(cgroup[0], 0) : null;
                    int order = cgroup.Count > 0 && MetadataUtil.NamedArg(cgroup[0], "Order") is int o ? o : 0;
                    if (title is null)
                    {
                        Error(where, "class " + typeShort + " declares exports but has no [CGroup(\"title\")]");
                        title = "(no group)";
                    }
                    if (!groups.TryGetValue(title, out group))
                    {
                        group = new FunctionGroup { Title = title, Order = order };
                        groups[title] = group;
                        _model.Groups.Add(group);
                    }
                    else if (order != 0 && group.Order != order)
                    {
                        if (group.Order != 0)
                        {
                            Error(where, "[CGroup(\"" + title + "\")] is given two different Order values");
                        }
                        group.Order = order;
                    }
                    DocEntry classDoc = _docs.Get("T:" + full);
                    if (!classDoc.IsEmpty)
                    {
                        group.ClassDocs.Add(classDoc);
                    }
                }
                FunctionDef? f = ReadExport(h, m, entry, clrName, where);
                if (f is not null)
                {
                    group.Functions.Add(f);
                }
            }
        }

        private FunctionDef? ReadExport(TypeDefinitionHandle h, MethodDefinition m, string entry, string clrName, string where)
        {
            bool ok = true;
            if (!Naming.IsIdentifier(entry) || !entry.StartsWith("fws_", StringComparison.Ordinal))
            {
                Error(where, "EntryPoint '" + entry + "' must be an identifier starting with fws_");
                ok = false;
            }
            else if (!RegisterName(entry, clrName))
            {
                ok = false;
            }
            if ((m.Attributes & MethodAttributes.Static) == 0)
            {
                Error(where, "export must be static");
                ok = false;
            }
            if (m.GetGenericParameters().Count > 0)
            {
                Error(where, "export must not be generic");
                ok = false;
            }
            MethodSignature<IlType> sig = m.DecodeSignature(_provider, null);
            if (sig.Header.IsGeneric || sig.GenericParameterCount > 0)
            {
                ok = false;
            }

            var rows = new Dictionary<int, Parameter>();
            foreach (ParameterHandle ph in m.GetParameters())
            {
                Parameter p = _md.GetParameter(ph);
                rows[p.SequenceNumber] = p;
            }

            CType? ret;
            if (rows.TryGetValue(0, out Parameter retRow))
            {
                CustomAttributeHandleCollection attrs = retRow.GetCustomAttributes();
                ret = Map(sig.ReturnType, CSpelling(attrs), CallbackAttr(attrs), Usage.Return, new Site(where + ", return value", entry + " (result)"));
            }
            else
            {
                ret = Map(sig.ReturnType, null, null, Usage.Return, new Site(where + ", return value", entry + " (result)"));
            }
            ok &= ret is not null;

            var ps = new List<ParamDef>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < sig.ParameterTypes.Length; i++)
            {
                string pName = "arg" + i;
                CustomAttributeHandleCollection? attrs = null;
                if (rows.TryGetValue(i + 1, out Parameter row))
                {
                    pName = _md.GetString(row.Name);
                    attrs = row.GetCustomAttributes();
                }
                string cName = Naming.SnakeCase(pName);
                string pWhere = where + ", parameter '" + pName + "'";
                CheckParamName(cName, pWhere);
                if (!seen.Add(cName))
                {
                    Error(pWhere, "two parameters are both named '" + cName + "' in C");
                }
                CType? t = attrs is { } a
                    ? Map(sig.ParameterTypes[i], CSpelling(a), CallbackAttr(a), Usage.Param, new Site(pWhere, entry + " (" + cName + ")"))
                    : Map(sig.ParameterTypes[i], null, null, Usage.Param, new Site(pWhere, entry + " (" + cName + ")"));
                if (t is null)
                {
                    ok = false;
                    continue;
                }
                ps.Add(new ParamDef { CName = cName, ClrName = pName, Type = t });
            }
            if (!ok || ret is null)
            {
                return null;
            }

            string docId = MethodDocId(h, m);
            DocEntry doc = _docs.Get(docId);
            if (doc.IsEmpty)
            {
                // Fall back to a unique match by name, in case the ID is spelled differently for some type.
                string prefix = docId.Contains('(') ? docId.Substring(0, docId.IndexOf('(')) : docId;
                List<string> ids = _docs.IdsStartingWith(prefix).Where(id => id == prefix || id.StartsWith(prefix + "(", StringComparison.Ordinal)).ToList();
                if (ids.Count == 1)
                {
                    doc = _docs.Get(ids[0]);
                }
            }
            if (doc.Summary.Count == 0)
            {
                Warnings.Add(where + ": no <summary>");
            }
            foreach (string documented in doc.Params.Keys)
            {
                if (!ps.Any(p => p.ClrName == documented))
                {
                    Warnings.Add(where + ": <param name=\"" + documented + "\"> names no parameter");
                }
            }
            return new FunctionDef { CName = entry, ClrName = clrName, Return = ret, Params = ps, Doc = doc };
        }

        private void CheckParamName(string cName, string where)
        {
            if (!Naming.IsIdentifier(cName) || Naming.Keywords.Contains(cName))
            {
                Error(where, "'" + cName + "' is not usable as a C/C++ name (keyword or invalid identifier)");
            }
        }

        private string MethodDocId(TypeDefinitionHandle h, MethodDefinition m)
        {
            string id = "M:" + MetadataUtil.FullName(_md, h) + "." + _md.GetString(m.Name);
            MethodSignature<IlType> sig = m.DecodeSignature(_provider, null);
            if (sig.ParameterTypes.Length > 0)
            {
                id += "(" + string.Join(",", sig.ParameterTypes.Select(DocIdType)) + ")";
            }
            return id;
        }

        private static string DocIdType(IlType t) => t switch
        {
            IlPrimitive p => "System." + p.Code switch
            {
                PrimitiveTypeCode.Single => "Single",
                PrimitiveTypeCode.IntPtr => "IntPtr",
                PrimitiveTypeCode.UIntPtr => "UIntPtr",
                _ => p.Code.ToString(),
            },
            IlPointer p => DocIdType(p.Element) + "*",
            IlByRef r => DocIdType(r.Element) + "@",
            IlFunctionPointer => "",
            IlDefinition d => d.FullName,
            IlReference r => r.FullName,
            _ => "?",
        };

        // ---------------------------------------------------------------------------------------------------------
        // Type mapping

        private string? CSpelling(CustomAttributeHandleCollection attrs)
        {
            List<CustomAttributeValue<string>> c = MetadataUtil.Find(_md, attrs, "CAttribute");
            return c.Count > 0 ? MetadataUtil.StringArg(c[0], 0) ?? "" : null;
        }

        private CustomAttributeValue<string>? CallbackAttr(CustomAttributeHandleCollection attrs)
        {
            List<CustomAttributeValue<string>> c = MetadataUtil.Find(_md, attrs, "CCallbackAttribute");
            return c.Count > 0 ? c[0] : null;
        }

        private CType? Map(IlType il, string? spelling, CustomAttributeValue<string>? callback, Usage usage, Site site)
        {
            int depth = 0;
            IlType b = il;
            while (b is IlPointer p)
            {
                depth++;
                b = p.Element;
            }

            CScalar? scalar = null;
            string? generated = null;
            string? enumName = null;
            switch (b)
            {
                case IlByRef:
                    Error(site.Where, "ref/out/in is not allowed; use a pointer (" + il.Describe() + ")");
                    return null;
                case IlUnsupported u:
                    Error(site.Where, u.Description + " is not allowed in the C ABI");
                    return null;
                case IlReference r:
                    Error(site.Where, "type " + r.FullName + " has no C mapping (only primitives, pointers and marker types)");
                    return null;
                case IlPrimitive prim:
                    scalar = CTypes.FromPrimitive(prim.Code, out string? why);
                    if (scalar is null)
                    {
                        Error(site.Where, why ?? "unmapped type");
                        return null;
                    }
                    if (scalar.IsVoid && depth == 0 && usage is not (Usage.Return or Usage.CallbackReturn))
                    {
                        Error(site.Where, "void is only valid as a result or behind a pointer");
                        return null;
                    }
                    break;
                case IlDefinition d:
                    if (_handles.TryGetValue(d.Handle, out HandleDef? handle))
                    {
                        generated = handle.CName;
                        if (depth == 0)
                        {
                            Error(site.Where, "handle " + d.FullName + " passed by value; use a pointer (" + handle.CName + "*)");
                            return null;
                        }
                    }
                    else if (_structs.TryGetValue(d.Handle, out StructDef? st))
                    {
                        generated = st.CName;
                        if (depth == 0 && usage != Usage.Field)
                        {
                            Error(site.Where, "struct " + st.CName + " passed by value; pass a pointer");
                            return null;
                        }
                    }
                    else if (_enums.TryGetValue(d.Handle, out EnumDef? en))
                    {
                        scalar = en.Underlying;
                        enumName = en.CName;
                    }
                    else
                    {
                        Error(site.Where, "type " + d.FullName + " is not marked [CHandle], [CStruct] or [CEnum]");
                        return null;
                    }
                    break;
                case IlFunctionPointer fp:
                    if (spelling is not null)
                    {
                        Error(site.Where, "use [CCallback], not [C], on a function pointer");
                        return null;
                    }
                    if (usage is Usage.CallbackParam or Usage.CallbackReturn)
                    {
                        Error(site.Where, "a callback's parameter or result cannot itself be a function pointer");
                        return null;
                    }
                    if (callback is null)
                    {
                        Error(site.Where, "function pointer without [CCallback(\"fws_..._fn\", \"param\", ...)]");
                        return null;
                    }
                    CallbackDef? cb = DefineCallback(fp.Signature, callback.Value, site);
                    if (cb is null)
                    {
                        return null;
                    }
                    generated = cb.CName;
                    break;
                default:
                    Error(site.Where, "unmapped type " + il.Describe());
                    return null;
            }
            if (callback is not null && b is not IlFunctionPointer)
            {
                Error(site.Where, "[CCallback] on a type that is not a delegate* unmanaged<...>");
                return null;
            }

            string stars = new('*', depth);
            if (spelling is null)
            {
                return generated is not null
                    ? new CType(generated + stars, CTypes.PyPointer(generated, depth))
                    : new CType(scalar!.Name + stars, CTypes.PyScalar(scalar, depth)) { EnumName = enumName };
            }

            string attr = "[C(\"" + spelling + "\")]";
            (string Base, int Depth)? parsed = CTypes.ParseSpelling(spelling, out string? bad);
            if (parsed is null)
            {
                Error(site.Where, attr + ": " + bad);
                return null;
            }
            (string ovBase, int ovDepth) = parsed.Value;
            if (ovDepth != depth)
            {
                Error(site.Where, attr + " has pointer depth " + ovDepth + " but the IL type " + il.Describe() + " has " + depth);
                return null;
            }
            CScalar? ovScalar = CTypes.Scalar(ovBase);
            bool ovGenerated = _typeNames.Contains(ovBase) || _callbacks.ContainsKey(ovBase);
            if (ovScalar is null && !ovGenerated)
            {
                Error(site.Where, attr + ": unknown C type '" + ovBase + "' (use <stdint.h>/<stddef.h> types or fws_ types)");
                return null;
            }
            if (generated is not null || ovGenerated)
            {
                if (ovBase != generated)
                {
                    Error(site.Where, attr + " names '" + ovBase + "' but the IL type " + il.Describe() + " is " + (generated ?? scalar!.Name));
                    return null;
                }
            }
            else
            {
                bool compatible = scalar!.IsVoid || ovScalar!.IsVoid
                    ? depth > 0 || (scalar.IsVoid && ovScalar!.IsVoid)
                    : scalar.Size == ovScalar.Size && scalar.IsFloat == ovScalar.IsFloat;
                if (!compatible)
                {
                    Error(site.Where, attr + ": '" + ovBase + "' does not match the IL type " + il.Describe() + " (" + scalar.Name + ")");
                    return null;
                }
            }
            string py = ovGenerated ? CTypes.PyPointer(ovBase, depth) : CTypes.PyScalar(ovScalar!, depth);
            return new CType(CTypes.NormalizeSpelling(spelling), py) { EnumName = enumName };
        }

        private CallbackDef? DefineCallback(MethodSignature<IlType> sig, CustomAttributeValue<string> attr, Site site)
        {
            string name = MetadataUtil.StringArg(attr, 0) ?? "";
            string[] entries = MetadataUtil.StringArrayArg(attr, 1);
            string where = site.Where + ", [CCallback(\"" + name + "\")]";
            if (!Naming.IsIdentifier(name) || !name.StartsWith("fws_", StringComparison.Ordinal) || name.EndsWith("_t", StringComparison.Ordinal))
            {
                Error(where, "callback typedef name must be an identifier fws_<noun> without a _t suffix");
                return null;
            }
            SignatureCallingConvention cc = sig.Header.CallingConvention;
            if (cc is not (SignatureCallingConvention.Unmanaged or SignatureCallingConvention.CDecl))
            {
                Error(where, "must be a delegate* unmanaged<...> (C calling convention), not " + cc);
                return null;
            }
            if (entries.Length != sig.ParameterTypes.Length)
            {
                Error(where, "names " + entries.Length + " parameters but the function pointer has " + sig.ParameterTypes.Length);
                return null;
            }
            CType? ret = Map(sig.ReturnType, null, null, Usage.CallbackReturn, new Site(where + ", result", site.UsedBy));
            var ps = new List<(string, CType)>();
            bool ok = ret is not null;
            for (int i = 0; i < entries.Length; i++)
            {
                string entry = entries[i];
                int colon = entry.IndexOf(':');
                string pName = (colon < 0 ? entry : entry.Substring(0, colon)).Trim();
                string? pType = colon < 0 ? null : entry.Substring(colon + 1);
                string pWhere = where + ", parameter '" + pName + "'";
                CheckParamName(pName, pWhere);
                CType? t = Map(sig.ParameterTypes[i], pType, null, Usage.CallbackParam, new Site(pWhere, site.UsedBy));
                if (t is null)
                {
                    ok = false;
                    continue;
                }
                ps.Add((pName, t));
            }
            if (!ok)
            {
                return null;
            }
            string plist = ps.Count == 0 ? "void" : string.Join(", ", ps.Select(p => p.Item2.Declare(p.Item1)));
            string text = "typedef " + ret!.ReturnSpelling + " (*" + name + ")(" + plist + ");";
            if (_callbacks.TryGetValue(name, out CallbackDef? existing))
            {
                if (existing.CText != text)
                {
                    Error(where, "differs from another definition of " + name + ":\n    " + existing.CText + "\n    " + text);
                    return null;
                }
                existing.UsedBy.Add(site.UsedBy);
                return existing;
            }
            if (!RegisterName(name, "callback " + name))
            {
                return null;
            }
            var def = new CallbackDef { CName = name, Return = ret, Params = ps, CText = text };
            def.UsedBy.Add(site.UsedBy);
            _callbacks[name] = def;
            _model.Callbacks.Add(def);
            return def;
        }

        private void Error(string where, string message) => Errors.Add(where + ": " + message);
    }
}
