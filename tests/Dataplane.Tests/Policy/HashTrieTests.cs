using Istio.AppSwitch.Dataplane.Policy;

namespace Istio.AppSwitch.Dataplane.Tests.Policy;

public sealed class HashTrieTests
{
    [Fact]
    public void SetItem_NewAndExistingKeys_FoundAndCounted()
    {
        var trie = HashTrie<string, int>.Empty.SetItem("a", 1).SetItem("b", 2).SetItem("a", 3);

        Assert.Equal(2, trie.Count);
        Assert.True(trie.TryGetValue("a", out var a));
        Assert.Equal(3, a);
        Assert.True(trie.TryGetValue("b", out var b));
        Assert.Equal(2, b);
        Assert.False(trie.ContainsKey("c"));
        Assert.Equal([2, 3], trie.Values.Order());
    }

    [Fact]
    public void SetItemAndRemove_EarlierVersions_Unchanged()
    {
        var one = HashTrie<string, int>.Empty.SetItem("a", 1);

        var two = one.SetItem("b", 2);
        var none = two.Remove("a").Remove("b");

        Assert.Equal(1, one.Count);
        Assert.False(one.ContainsKey("b"));
        Assert.Equal(2, two.Count);
        Assert.True(two.ContainsKey("a"));
        Assert.Equal(0, none.Count);
        Assert.Empty(none.Values);
    }

    [Fact]
    public void Remove_MissingKey_SameInstance()
    {
        var trie = HashTrie<string, int>.Empty.SetItem("a", 1);

        Assert.Same(trie, trie.Remove("b"));
        Assert.Same(HashTrie<string, int>.Empty, HashTrie<string, int>.Empty.Remove("a"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(0xFF)]
    [InlineData(int.MaxValue)]
    public void RandomChanges_AnyHashSpread_MatchesDictionary(int hashMask)
    {
        // With hashMask 0 every key collides (a collision node below the last level); with 0xFF keys share long
        // hash prefixes (deep paths); with all bits they spread. Each version is checked against a dictionary.
        var random = new Random(hashMask);
        var model = new Dictionary<Key, int>();
        var trie = HashTrie<Key, int>.Empty;
        for (var step = 0; step < 4000; step++)
        {
            var key = new Key(random.Next(600), hashMask);
            if (random.Next(3) == 0)
            {
                model.Remove(key);
                trie = trie.Remove(key);
            }
            else
            {
                model[key] = step;
                trie = trie.SetItem(key, step);
            }
            Assert.Equal(model.Count, trie.Count);
            if (step % 200 == 0)
            {
                AssertSame(model, trie, hashMask);
            }
        }
        AssertSame(model, trie, hashMask);
        foreach (var key in model.Keys.ToList())
        {
            trie = trie.Remove(key);
        }
        Assert.Equal(0, trie.Count);
        Assert.Empty(trie.Values);
    }

    [Fact]
    public void TryGetValue_StructKey_AllocatesNothing()
    {
        var trie = HashTrie<Key, int>.Empty;
        for (var i = 0; i < 1000; i++)
        {
            trie = trie.SetItem(new Key(i, int.MaxValue), i);
        }
        trie.TryGetValue(new Key(1, int.MaxValue), out _);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var found = 0;
        for (var i = 0; i < 2000; i++)
        {
            found += trie.TryGetValue(new Key(i, int.MaxValue), out _) ? 1 : 0;
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1000, found);
    }

    private static void AssertSame(Dictionary<Key, int> model, HashTrie<Key, int> trie, int hashMask)
    {
        foreach (var (key, value) in model)
        {
            Assert.True(trie.TryGetValue(key, out var found), $"key {key.Id} missing");
            Assert.Equal(value, found);
        }
        for (var id = 0; id < 600; id++)
        {
            var key = new Key(id, hashMask);
            Assert.Equal(model.ContainsKey(key), trie.ContainsKey(key));
        }
        Assert.Equal(model.Values.Order(), trie.Values.Order());
    }

    /// <summary>A key whose hash keeps only the bits of <see cref="HashMask"/>, to force shared prefixes and collisions.</summary>
    private readonly record struct Key(int Id, int HashMask)
    {
        public override int GetHashCode() => (Id * -1640531535) & HashMask;
    }
}
