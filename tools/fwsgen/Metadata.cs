using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Reflection.Metadata;

namespace Fwsgen
{
    /// <summary>A type as it appears in an IL signature, before it is mapped to C.</summary>
    internal abstract record IlType
    {
        public abstract string Describe();
    }

    internal sealed record IlPrimitive(PrimitiveTypeCode Code) : IlType
    {
        public override string Describe() => Code switch
        {
            PrimitiveTypeCode.IntPtr => "nint",
            PrimitiveTypeCode.UIntPtr => "nuint",
            _ => "System." + Code,
        };
    }

    internal sealed record IlPointer(IlType Element) : IlType
    {
        public override string Describe() => Element.Describe() + "*";
    }

    internal sealed record IlFunctionPointer(MethodSignature<IlType> Signature) : IlType
    {
        public override string Describe() => "delegate*<...>";
    }

    /// <summary>A type defined in the assembly being read.</summary>
    internal sealed record IlDefinition(TypeDefinitionHandle Handle, string FullName) : IlType
    {
        public override string Describe() => FullName;
    }

    /// <summary>A type defined in another assembly (never mapped).</summary>
    internal sealed record IlReference(string FullName) : IlType
    {
        public override string Describe() => FullName;
    }

    internal sealed record IlByRef(IlType Element) : IlType
    {
        public override string Describe() => "ref " + Element.Describe();
    }

    /// <summary>Arrays, generics and anything else that can never cross the C ABI.</summary>
    internal sealed record IlUnsupported(string Description) : IlType
    {
        public override string Describe() => Description;
    }

    /// <summary>Decodes signatures into <see cref="IlType"/>.</summary>
    internal sealed class SignatureProvider : ISignatureTypeProvider<IlType, object?>
    {
        private readonly MetadataReader _md;

        public SignatureProvider(MetadataReader md)
        {
            _md = md;
        }

        public IlType GetArrayType(IlType elementType, ArrayShape shape) => new IlUnsupported(elementType.Describe() + "[,]");
        public IlType GetByReferenceType(IlType elementType) => new IlByRef(elementType);
        public IlType GetFunctionPointerType(MethodSignature<IlType> signature) => new IlFunctionPointer(signature);
        public IlType GetGenericInstantiation(IlType genericType, ImmutableArray<IlType> typeArguments) =>
            new IlUnsupported(genericType.Describe() + "<...> (generic)");
        public IlType GetGenericMethodParameter(object? genericContext, int index) => new IlUnsupported("!!" + index + " (generic)");
        public IlType GetGenericTypeParameter(object? genericContext, int index) => new IlUnsupported("!" + index + " (generic)");
        public IlType GetModifiedType(IlType modifier, IlType unmodifiedType, bool isRequired) => unmodifiedType;
        public IlType GetPinnedType(IlType elementType) => elementType;
        public IlType GetPointerType(IlType elementType) => new IlPointer(elementType);
        public IlType GetPrimitiveType(PrimitiveTypeCode typeCode) => new IlPrimitive(typeCode);
        public IlType GetSZArrayType(IlType elementType) => new IlUnsupported(elementType.Describe() + "[]");
        public IlType GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) =>
            new IlDefinition(handle, MetadataUtil.FullName(reader, handle));
        public IlType GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) =>
            new IlReference(MetadataUtil.FullName(reader, handle));
        public IlType GetTypeFromSpecification(MetadataReader reader, object? genericContext, TypeSpecificationHandle handle, byte rawTypeKind) =>
            reader.GetTypeSpecification(handle).DecodeSignature(this, genericContext);
    }

    /// <summary>Lenient provider for decoding custom attribute arguments: types are represented by their names.</summary>
    internal sealed class AttributeTypeProvider : ICustomAttributeTypeProvider<string>
    {
        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode.ToString();
        public string GetSystemType() => "System.Type";
        public string GetSZArrayType(string elementType) => elementType + "[]";
        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) =>
            MetadataUtil.FullName(reader, handle);
        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) =>
            MetadataUtil.FullName(reader, handle);
        public string GetTypeFromSerializedName(string name) => name;
        public PrimitiveTypeCode GetUnderlyingEnumType(string type) => PrimitiveTypeCode.Int32;
        public bool IsSystemType(string type) => type == "System.Type";
    }

    internal static class MetadataUtil
    {
        private static readonly AttributeTypeProvider s_attributeProvider = new();

        /// <summary>Full name in doc-ID form: namespace, then enclosing types, joined with '.'.</summary>
        public static string FullName(MetadataReader md, TypeDefinitionHandle handle)
        {
            TypeDefinition td = md.GetTypeDefinition(handle);
            string name = md.GetString(td.Name);
            TypeDefinitionHandle declaring = td.GetDeclaringType();
            if (!declaring.IsNil)
            {
                return FullName(md, declaring) + "." + name;
            }
            string ns = md.GetString(td.Namespace);
            return ns.Length == 0 ? name : ns + "." + name;
        }

        public static string FullName(MetadataReader md, TypeReferenceHandle handle)
        {
            TypeReference tr = md.GetTypeReference(handle);
            string name = md.GetString(tr.Name);
            if (tr.ResolutionScope.Kind == HandleKind.TypeReference)
            {
                return FullName(md, (TypeReferenceHandle)tr.ResolutionScope) + "." + name;
            }
            string ns = md.GetString(tr.Namespace);
            return ns.Length == 0 ? name : ns + "." + name;
        }

        /// <summary>The full name of a base type handle (TypeDef, TypeRef or TypeSpec), or "" when nil.</summary>
        public static string FullNameOfAny(MetadataReader md, EntityHandle handle) => handle.IsNil ? "" : handle.Kind switch
        {
            HandleKind.TypeDefinition => FullName(md, (TypeDefinitionHandle)handle),
            HandleKind.TypeReference => FullName(md, (TypeReferenceHandle)handle),
            _ => "",
        };

        /// <summary>The full name of the type that declares an attribute's constructor.</summary>
        public static string AttributeTypeName(MetadataReader md, CustomAttribute attribute)
        {
            switch (attribute.Constructor.Kind)
            {
                case HandleKind.MethodDefinition:
                {
                    MethodDefinition ctor = md.GetMethodDefinition((MethodDefinitionHandle)attribute.Constructor);
                    return FullName(md, ctor.GetDeclaringType());
                }
                case HandleKind.MemberReference:
                {
                    MemberReference ctor = md.GetMemberReference((MemberReferenceHandle)attribute.Constructor);
                    return FullNameOfAny(md, ctor.Parent);
                }
                default:
                    return "";
            }
        }

        /// <summary>Short name of a type's full name ("A.B.CHandleAttribute" gives "CHandleAttribute").</summary>
        public static string ShortName(string fullName)
        {
            int dot = fullName.LastIndexOf('.');
            return dot < 0 ? fullName : fullName.Substring(dot + 1);
        }

        /// <summary>
        /// Finds the attributes whose type's short name is <paramref name="shortName"/> (the marker attributes are
        /// matched by name only, so their namespace may move) or whose full name equals it.
        /// </summary>
        public static List<CustomAttributeValue<string>> Find(MetadataReader md, CustomAttributeHandleCollection attributes, string name)
        {
            var result = new List<CustomAttributeValue<string>>();
            foreach (CustomAttributeHandle h in attributes)
            {
                CustomAttribute ca = md.GetCustomAttribute(h);
                string full = AttributeTypeName(md, ca);
                if (full == name || ShortName(full) == name)
                {
                    result.Add(ca.DecodeValue(s_attributeProvider));
                }
            }
            return result;
        }

        public static bool Has(MetadataReader md, CustomAttributeHandleCollection attributes, string name) =>
            Find(md, attributes, name).Count > 0;

        public static string? StringArg(CustomAttributeValue<string> value, int index) =>
            index < value.FixedArguments.Length ? value.FixedArguments[index].Value as string : null;

        public static string[] StringArrayArg(CustomAttributeValue<string> value, int index)
        {
            if (index >= value.FixedArguments.Length)
            {
                return Array.Empty<string>();
            }
            if (value.FixedArguments[index].Value is ImmutableArray<CustomAttributeTypedArgument<string>> items)
            {
                var result = new string[items.Length];
                for (int i = 0; i < items.Length; i++)
                {
                    result[i] = items[i].Value as string ?? "";
                }
                return result;
            }
            return Array.Empty<string>();
        }

        public static object? NamedArg(CustomAttributeValue<string> value, string name)
        {
            foreach (CustomAttributeNamedArgument<string> arg in value.NamedArguments)
            {
                if (arg.Name == name)
                {
                    return arg.Value;
                }
            }
            return null;
        }
    }
}
