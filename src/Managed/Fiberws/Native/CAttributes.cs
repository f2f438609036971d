using System;

namespace Fiberws.Native
{
    // Marker attributes read by tools/fwsgen from the compiled assembly's metadata. They carry what IL
    // cannot express (C type names, const-ness, callback parameter names). They have no runtime effect.

    /// <summary>An empty struct standing for an opaque C handle type, e.g. <c>[CHandle("fws_app")]</c>.</summary>
    [AttributeUsage(AttributeTargets.Struct)]
    internal sealed class CHandleAttribute(string name) : Attribute
    {
        public string Name { get; } = name;
    }

    /// <summary>A sequential struct emitted as a C struct; fields become snake_case.</summary>
    [AttributeUsage(AttributeTargets.Struct)]
    internal sealed class CStructAttribute(string name) : Attribute
    {
        public string Name { get; } = name;
    }

    /// <summary>An enum emitted as <c>#define</c> constants <c>{prefix}{UPPER_SNAKE}</c>; C signatures use int32_t.</summary>
    [AttributeUsage(AttributeTargets.Enum)]
    internal sealed class CEnumAttribute(string name, string prefix) : Attribute
    {
        public string Name { get; } = name;
        public string Prefix { get; } = prefix;
    }

    /// <summary>A static class whose const fields become <c>#define {prefix}{UPPER_SNAKE}</c>.</summary>
    [AttributeUsage(AttributeTargets.Class)]
    internal sealed class CConstantsAttribute(string prefix) : Attribute
    {
        public string Prefix { get; } = prefix;
    }

    /// <summary>Overrides the C spelling of a parameter, return value or field (same pointer-ness as the IL type).</summary>
    [AttributeUsage(AttributeTargets.Parameter | AttributeTargets.ReturnValue | AttributeTargets.Field)]
    internal sealed class CAttribute(string type) : Attribute
    {
        public string Type { get; } = type;
    }

    /// <summary>
    /// Names the C typedef of a <c>delegate* unmanaged</c> parameter or field, and its parameter names.
    /// Each entry is <c>"name"</c> or <c>"name:ctype"</c>.
    /// </summary>
    [AttributeUsage(AttributeTargets.Parameter | AttributeTargets.Field)]
    internal sealed class CCallbackAttribute(string typedefName, params string[] parameters) : Attribute
    {
        public string TypedefName { get; } = typedefName;
        public string[] Parameters { get; } = parameters;
    }

    /// <summary>Places an export in a named group of the header (a section comment), in declaration order.</summary>
    [AttributeUsage(AttributeTargets.Class)]
    internal sealed class CGroupAttribute(string title) : Attribute
    {
        public string Title { get; } = title;

        /// <summary>Sections are sorted by Order (stable), then by file order.</summary>
        public int Order { get; init; }
    }
}
