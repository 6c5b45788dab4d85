using System.Diagnostics.CodeAnalysis;
using System.Numerics;

namespace Istio.AppSwitch.Dataplane.Policy;

/// <summary>
/// An immutable hash map that changes by path copying: a hash array mapped trie (Bagwell's HAMT, in the compact
/// layout of Steindorfer's CHAMP). <see cref="SetItem"/> and <see cref="Remove"/> return a new map that shares
/// every node off the path to the changed key, so one change costs O(log32 n) small arrays instead of a copy of
/// the whole table. A routing snapshot rebuilt on every ref create would otherwise leave O(n) garbage per create.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="TryGetValue"/> is on the connect path: it takes no lock, allocates nothing, and walks one node per
/// five bits of the key's hash (two or three nodes for thousands of keys), with one <c>popcnt</c> per node.
/// <typeparamref name="TKey"/> is constrained to <see cref="IEquatable{T}"/> so that a struct key is hashed and
/// compared without boxing or an interface call.
/// </para>
/// <para>
/// Each node keeps its entries and its children in two dense arrays, indexed by the rank of the hash's 5-bit
/// chunk in two 32-bit bitmaps. Keys whose 32-bit hashes are equal end in a collision node below the last level,
/// searched linearly. Removal inlines a child left with one entry, so the shape depends only on the keys.
/// </para>
/// </remarks>
internal sealed class HashTrie<TKey, TValue>
    where TKey : IEquatable<TKey>
{
    private const int BitsPerLevel = 5;
    private const int LevelMask = (1 << BitsPerLevel) - 1;

    /// <summary>Levels at or below this shift have used up all 32 bits of the hash: collision nodes.</summary>
    private const int CollisionShift = 35;

    private readonly Node _root;

    private HashTrie(Node root, int count)
    {
        _root = root;
        Count = count;
    }

    /// <summary>The map with no keys.</summary>
    public static HashTrie<TKey, TValue> Empty { get; } = new(Node.EmptyNode, 0);

    /// <summary>How many keys the map holds.</summary>
    public int Count { get; }

    /// <summary>The values, in no particular order (off the connect path: allocates an iterator).</summary>
    public IEnumerable<TValue> Values
    {
        get
        {
            var pending = new Stack<Node>();
            pending.Push(_root);
            while (pending.TryPop(out var node))
            {
                foreach (var entry in node.Entries)
                {
                    yield return entry.Value;
                }
                foreach (var child in node.Children)
                {
                    pending.Push(child);
                }
            }
        }
    }

    /// <summary>Looks <paramref name="key"/> up. The connect path: no lock, no allocation.</summary>
    public bool TryGetValue(in TKey key, [MaybeNullWhen(false)] out TValue value)
    {
        var hash = key.GetHashCode();
        var node = _root;
        for (var shift = 0; shift < CollisionShift; shift += BitsPerLevel)
        {
            var bit = 1u << ((hash >>> shift) & LevelMask);
            if ((node.EntryMap & bit) != 0)
            {
                ref readonly var entry = ref node.Entries[BitOperations.PopCount(node.EntryMap & (bit - 1))];
                if (entry.Hash == hash && entry.Key.Equals(key))
                {
                    value = entry.Value;
                    return true;
                }
                value = default;
                return false;
            }
            if ((node.NodeMap & bit) == 0)
            {
                value = default;
                return false;
            }
            node = node.Children[BitOperations.PopCount(node.NodeMap & (bit - 1))];
        }
        foreach (ref readonly var entry in node.Entries.AsSpan())
        {
            if (entry.Hash == hash && entry.Key.Equals(key))
            {
                value = entry.Value;
                return true;
            }
        }
        value = default;
        return false;
    }

    /// <summary>True when the map holds <paramref name="key"/>.</summary>
    public bool ContainsKey(in TKey key) => TryGetValue(key, out _);

    /// <summary>The map with <paramref name="key"/> set to <paramref name="value"/>, added or replaced.</summary>
    public HashTrie<TKey, TValue> SetItem(TKey key, TValue value)
    {
        var root = Set(_root, 0, new Entry(key.GetHashCode(), key, value), out var added);
        return new HashTrie<TKey, TValue>(root, added ? Count + 1 : Count);
    }

    /// <summary>The map without <paramref name="key"/>; this map when it has no such key.</summary>
    public HashTrie<TKey, TValue> Remove(TKey key)
    {
        var root = Remove(_root, 0, key.GetHashCode(), key, out var removed);
        return removed ? new HashTrie<TKey, TValue>(root, Count - 1) : this;
    }

    private static Node Set(Node node, int shift, in Entry entry, out bool added)
    {
        if (shift >= CollisionShift)
        {
            for (var i = 0; i < node.Entries.Length; i++)
            {
                if (node.Entries[i].Key.Equals(entry.Key))
                {
                    added = false;
                    return new Node(0, 0, Replace(node.Entries, i, entry), []);
                }
            }
            added = true;
            return new Node(0, 0, Insert(node.Entries, node.Entries.Length, entry), []);
        }

        var bit = 1u << ((entry.Hash >>> shift) & LevelMask);
        if ((node.EntryMap & bit) != 0)
        {
            var index = BitOperations.PopCount(node.EntryMap & (bit - 1));
            ref readonly var existing = ref node.Entries[index];
            if (existing.Hash == entry.Hash && existing.Key.Equals(entry.Key))
            {
                added = false;
                return new Node(node.EntryMap, node.NodeMap, Replace(node.Entries, index, entry), node.Children);
            }
            // Two keys share this slot: push both one level down.
            added = true;
            var child = Pair(existing, entry, shift + BitsPerLevel);
            var childIndex = BitOperations.PopCount(node.NodeMap & (bit - 1));
            return new Node(node.EntryMap & ~bit, node.NodeMap | bit, RemoveAt(node.Entries, index), Insert(node.Children, childIndex, child));
        }
        if ((node.NodeMap & bit) != 0)
        {
            var childIndex = BitOperations.PopCount(node.NodeMap & (bit - 1));
            var child = Set(node.Children[childIndex], shift + BitsPerLevel, entry, out added);
            return new Node(node.EntryMap, node.NodeMap, node.Entries, Replace(node.Children, childIndex, child));
        }
        added = true;
        var at = BitOperations.PopCount(node.EntryMap & (bit - 1));
        return new Node(node.EntryMap | bit, node.NodeMap, Insert(node.Entries, at, entry), node.Children);
    }

    /// <summary>The node that holds two entries whose hashes agree above <paramref name="shift"/>.</summary>
    private static Node Pair(in Entry a, in Entry b, int shift)
    {
        if (shift >= CollisionShift)
        {
            return new Node(0, 0, [a, b], []);
        }
        var bitA = 1u << ((a.Hash >>> shift) & LevelMask);
        var bitB = 1u << ((b.Hash >>> shift) & LevelMask);
        if (bitA == bitB)
        {
            return new Node(0, bitA, [], [Pair(a, b, shift + BitsPerLevel)]);
        }
        return new Node(bitA | bitB, 0, bitA < bitB ? [a, b] : [b, a], []);
    }

    private static Node Remove(Node node, int shift, int hash, TKey key, out bool removed)
    {
        if (shift >= CollisionShift)
        {
            for (var i = 0; i < node.Entries.Length; i++)
            {
                if (node.Entries[i].Key.Equals(key))
                {
                    removed = true;
                    return new Node(0, 0, RemoveAt(node.Entries, i), []);
                }
            }
            removed = false;
            return node;
        }

        var bit = 1u << ((hash >>> shift) & LevelMask);
        if ((node.EntryMap & bit) != 0)
        {
            var index = BitOperations.PopCount(node.EntryMap & (bit - 1));
            ref readonly var existing = ref node.Entries[index];
            if (existing.Hash != hash || !existing.Key.Equals(key))
            {
                removed = false;
                return node;
            }
            removed = true;
            return new Node(node.EntryMap & ~bit, node.NodeMap, RemoveAt(node.Entries, index), node.Children);
        }
        if ((node.NodeMap & bit) == 0)
        {
            removed = false;
            return node;
        }

        var childIndex = BitOperations.PopCount(node.NodeMap & (bit - 1));
        var child = Remove(node.Children[childIndex], shift + BitsPerLevel, hash, key, out removed);
        if (!removed)
        {
            return node;
        }
        if (child.Children.Length == 0 && child.Entries.Length == 1)
        {
            // A child left with one entry moves up into this node: lookups stop earlier, and the shape stays canonical.
            var at = BitOperations.PopCount(node.EntryMap & (bit - 1));
            return new Node(node.EntryMap | bit, node.NodeMap & ~bit, Insert(node.Entries, at, child.Entries[0]), RemoveAt(node.Children, childIndex));
        }
        return new Node(node.EntryMap, node.NodeMap, node.Entries, Replace(node.Children, childIndex, child));
    }

    private static T[] Insert<T>(T[] items, int index, T item)
    {
        var result = new T[items.Length + 1];
        items.AsSpan(0, index).CopyTo(result);
        result[index] = item;
        items.AsSpan(index).CopyTo(result.AsSpan(index + 1));
        return result;
    }

    private static T[] Replace<T>(T[] items, int index, T item)
    {
        var result = (T[])items.Clone();
        result[index] = item;
        return result;
    }

    private static T[] RemoveAt<T>(T[] items, int index)
    {
        if (items.Length == 1)
        {
            return [];
        }
        var result = new T[items.Length - 1];
        items.AsSpan(0, index).CopyTo(result);
        items.AsSpan(index + 1).CopyTo(result.AsSpan(index));
        return result;
    }

    /// <summary>A key, its hash (kept, so that pushing an entry down never hashes a key again) and its value.</summary>
    private readonly struct Entry(int hash, TKey key, TValue value)
    {
        public readonly int Hash = hash;
        public readonly TKey Key = key;
        public readonly TValue Value = value;
    }

    /// <summary>One level of the trie. Never changed once built.</summary>
    private sealed class Node(uint entryMap, uint nodeMap, Entry[] entries, Node[] children)
    {
        public static readonly Node EmptyNode = new(0, 0, [], []);

        /// <summary>The 5-bit chunks that hold an entry inline; the rank of a chunk's bit is its index in <see cref="Entries"/>.</summary>
        public readonly uint EntryMap = entryMap;

        /// <summary>The 5-bit chunks that hold a child node; the rank of a chunk's bit is its index in <see cref="Children"/>.</summary>
        public readonly uint NodeMap = nodeMap;

        public readonly Entry[] Entries = entries;

        public readonly Node[] Children = children;
    }
}
