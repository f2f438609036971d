namespace Fiberws.Protocol
{
    /// <summary>Frame opcodes (RFC 6455 §5.2).</summary>
    internal static class Opcode
    {
        public const int Continuation = 0x0;
        public const int Text = 0x1;
        public const int Binary = 0x2;
        public const int Close = 0x8;
        public const int Ping = 0x9;
        public const int Pong = 0xA;

        public static bool IsControl(int opcode) => (opcode & 0x8) != 0;

        public static bool IsKnown(int opcode) => opcode <= Binary || (opcode >= Close && opcode <= Pong);
    }
}
