using System;
using System.Collections.Generic;
using System.Threading;
using Fiberws.Server;
using Fiberws.WebSockets;

namespace Fiberws.Native
{
    /// <summary>
    /// Maps the opaque pointers handed to C onto managed objects. A handle packs a slot index, a type tag and a
    /// generation, so a freed, stale, forged or wrong-type handle is recognised and refused: it can never reach
    /// another object. Lookups are lock-free; adding and removing lock. Thread-safe.
    /// </summary>
    internal sealed class HandleTable<T>
        where T : class
    {
        private const int IndexBits = 24;
        private const uint IndexMask = (1u << IndexBits) - 1;

        private readonly object _lock = new();
        private readonly uint _tag;
        private readonly string _typeName;
        private readonly Stack<int> _free = new();
        private Entry?[] _entries = new Entry?[64];
        private uint[] _generations = new uint[64];
        private int _next;

        public HandleTable(uint tag, string typeName)
        {
            _tag = tag;
            _typeName = typeName;
        }

        /// <summary>Handles currently live (diagnostics and tests).</summary>
        public int Count
        {
            get
            {
                lock (_lock)
                {
                    return _next - _free.Count;
                }
            }
        }

        public nint Add(T value)
        {
            lock (_lock)
            {
                int index;
                if (_free.Count > 0)
                {
                    index = _free.Pop();
                }
                else
                {
                    if (_next >= (int)IndexMask)
                    {
                        throw new FwsException(ResultCode.ErrInternal, $"too many live {_typeName} handles");
                    }
                    index = _next++;
                    if (index >= _entries.Length)
                    {
                        Array.Resize(ref _generations, _entries.Length * 2);
                        Entry?[] grown = new Entry?[_entries.Length * 2];
                        Array.Copy(_entries, grown, _entries.Length);
                        Volatile.Write(ref _entries, grown);
                    }
                }
                uint generation = ++_generations[index];
                if (generation == 0)
                {
                    generation = _generations[index] = 1;
                }
                Volatile.Write(ref _entries[index], new Entry(value, generation));
                ulong packed = ((ulong)generation << 32) | ((ulong)_tag << IndexBits) | (uint)(index + 1);
                return (nint)packed;
            }
        }

        public bool TryGet(nint handle, out T value)
        {
            ulong packed = (ulong)handle;
            uint low = (uint)packed;
            int index = (int)(low & IndexMask) - 1;
            Entry?[] entries = Volatile.Read(ref _entries);
            if ((low >> IndexBits) == _tag && index >= 0 && index < entries.Length)
            {
                Entry? e = Volatile.Read(ref entries[index]);
                if (e != null && e.Generation == (uint)(packed >> 32))
                {
                    value = e.Value;
                    return true;
                }
            }
            value = null!;
            return false;
        }

        /// <summary>Resolves a handle or throws the error C gets for a bad one.</summary>
        public T Get(nint handle, string parameter)
        {
            if (handle == 0)
            {
                throw new FwsException(ResultCode.ErrInvalidArgument, $"{parameter} is NULL");
            }
            if (!TryGet(handle, out T value))
            {
                throw new FwsException(ResultCode.ErrInvalidArgument,
                    $"{parameter} is not a live {_typeName} handle (already freed, finished, or not a {_typeName})");
            }
            return value;
        }

        public bool Remove(nint handle)
        {
            lock (_lock)
            {
                if (!TryGet(handle, out _))
                {
                    return false;
                }
                int index = (int)((uint)handle & IndexMask) - 1;
                Volatile.Write(ref _entries[index], null);
                _free.Push(index);
                return true;
            }
        }

        private sealed class Entry(T value, uint generation)
        {
            public T Value { get; } = value;
            public uint Generation { get; } = generation;
        }
    }

    /// <summary>The handle tables of the ABI: one per handle type, each with its own tag.</summary>
    internal static class Handles
    {
        public static readonly HandleTable<App> Apps = new(0xA1, "fws_app");
        public static readonly HandleTable<Ctx> Ctxs = new(0xC1, "fws_ctx");
        public static readonly HandleTable<WebSocketConnection> Conns = new(0xD1, "fws_conn");
        public static readonly HandleTable<PreparedMessage> Prepared = new(0xE1, "fws_prepared_message");
    }
}
