using System.Collections.Generic;
using System.Reflection.Metadata;

namespace Fwsgen
{
    /// <summary>Everything the writers need, in output order.</summary>
    internal sealed class ApiModel
    {
        public List<ConstantsDef> Constants { get; } = new();
        public List<EnumDef> Enums { get; } = new();
        public List<HandleDef> Handles { get; } = new();

        /// <summary>In definition order, except that a struct embedded by value comes before its container.</summary>
        public List<StructDef> Structs { get; } = new();

        /// <summary>In order of first use.</summary>
        public List<CallbackDef> Callbacks { get; } = new();

        public List<FunctionGroup> Groups { get; } = new();
    }

    internal sealed class ConstantsDef
    {
        public required string ClrName { get; init; }
        public required DocEntry Doc { get; init; }
        public List<ConstantDef> Items { get; } = new();
    }

    internal sealed class ConstantDef
    {
        public required string CName { get; init; }
        public required string CValue { get; init; }
        public required string PyValue { get; init; }
        public required DocEntry Doc { get; init; }
    }

    internal sealed class EnumDef
    {
        public required string CName { get; init; }
        public required string Prefix { get; init; }
        public required string ClrName { get; init; }
        public required CScalar Underlying { get; init; }
        public required DocEntry Doc { get; init; }
        public List<EnumMember> Members { get; } = new();
    }

    internal sealed class EnumMember
    {
        /// <summary>Name without the prefix, e.g. <c>ERR_INVALID_ARGUMENT</c> (the Python IntEnum member name).</summary>
        public required string ShortName { get; init; }

        /// <summary>Name with the prefix, e.g. <c>FWS_ERR_INVALID_ARGUMENT</c>.</summary>
        public required string CName { get; init; }

        public required long Value { get; init; }
        public required DocEntry Doc { get; init; }
    }

    internal sealed class HandleDef
    {
        public required string CName { get; init; }
        public required string ClrName { get; init; }
        public required DocEntry Doc { get; init; }
    }

    internal sealed class StructDef
    {
        public required string CName { get; init; }
        public required string ClrName { get; init; }
        public required TypeDefinitionHandle Handle { get; init; }
        public required DocEntry Doc { get; init; }
        public List<FieldDef> Fields { get; } = new();

        /// <summary>CStructs this one embeds by value (they must be defined first).</summary>
        public List<string> Embeds { get; } = new();
    }

    internal sealed class FieldDef
    {
        public required string CName { get; init; }
        public required CType Type { get; init; }
        public required DocEntry Doc { get; init; }
    }

    internal sealed class CallbackDef
    {
        public required string CName { get; init; }
        public required CType Return { get; init; }
        public required List<(string Name, CType Type)> Params { get; init; }

        /// <summary>The full C typedef, used to detect two differing definitions of one name.</summary>
        public required string CText { get; init; }

        /// <summary>Where it is used, e.g. <c>fws_app_websocket (handler)</c>, <c>fws_ws_config.filter</c>.</summary>
        public List<string> UsedBy { get; } = new();
    }

    internal sealed class FunctionGroup
    {
        public required string Title { get; init; }

        /// <summary>Optional <c>Order</c> named argument of [CGroup]; groups sort by it, then by TypeDef order.</summary>
        public int Order { get; set; }

        public List<DocEntry> ClassDocs { get; } = new();
        public List<FunctionDef> Functions { get; } = new();
    }

    internal sealed class FunctionDef
    {
        public required string CName { get; init; }
        public required string ClrName { get; init; }
        public required CType Return { get; init; }
        public required List<ParamDef> Params { get; init; }
        public required DocEntry Doc { get; init; }
    }

    internal sealed class ParamDef
    {
        public required string CName { get; init; }
        public required string ClrName { get; init; }
        public required CType Type { get; init; }
    }
}
