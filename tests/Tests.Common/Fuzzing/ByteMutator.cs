using System.Buffers.Binary;

namespace Istio.AppSwitch.Tests.Fuzzing;

/// <summary>
/// Damages real inputs the way a broken or hostile peer would: bit flips, interesting byte values, inserted and
/// deleted runs, truncation, splicing with another corpus entry, duplicated runs and corrupted length fields. Every
/// choice comes from the <see cref="Random"/> it is given, so a seed reproduces a case exactly.
/// </summary>
public sealed class ByteMutator(Random random, IReadOnlyList<byte[]> corpus)
{
    /// <summary>The mutations, by name, for the docs and for failure messages.</summary>
    public static readonly string[] Kinds =
        ["bitflip", "interesting-byte", "insert", "delete", "truncate", "splice", "duplicate", "length-field", "random-bytes"];

    private static readonly byte[] InterestingBytes = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0x0A, 0x0D, 0x20, 0x22, 0x3A, 0x7B, 0x7D];

    private static readonly uint[] InterestingLengths =
        [0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF];

    private readonly Random _random = random;
    private readonly IReadOnlyList<byte[]> _corpus = corpus.Count > 0 ? corpus : throw new ArgumentException("The corpus is empty.", nameof(corpus));

    /// <summary>What the last <see cref="Next"/> did, for the failure message.</summary>
    public string LastDescription { get; private set; } = "";

    /// <summary>A corpus entry damaged by one to four mutations.</summary>
    public byte[] Next()
    {
        var index = _random.Next(_corpus.Count);
        var data = new List<byte>(_corpus[index]);
        var steps = 1 + _random.Next(4);
        var description = new List<string>(steps + 1) { $"corpus[{index}]" };
        for (var i = 0; i < steps; i++)
        {
            description.Add(Mutate(data));
        }

        LastDescription = string.Join(" ", description);
        return [.. data];
    }

    private string Mutate(List<byte> data)
    {
        var kind = Kinds[_random.Next(Kinds.Length)];
        switch (kind)
        {
            case "bitflip" when data.Count > 0:
                {
                    var at = _random.Next(data.Count);
                    var bit = _random.Next(8);
                    data[at] ^= (byte)(1 << bit);
                    return $"bitflip@{at}.{bit}";
                }
            case "interesting-byte" when data.Count > 0:
                {
                    var at = _random.Next(data.Count);
                    data[at] = InterestingBytes[_random.Next(InterestingBytes.Length)];
                    return $"byte@{at}={data[at]:X2}";
                }
            case "insert":
                {
                    var at = _random.Next(data.Count + 1);
                    var run = new byte[1 + _random.Next(16)];
                    _random.NextBytes(run);
                    data.InsertRange(at, run);
                    return $"insert@{at}+{run.Length}";
                }
            case "delete" when data.Count > 0:
                {
                    var at = _random.Next(data.Count);
                    var count = Math.Min(1 + _random.Next(16), data.Count - at);
                    data.RemoveRange(at, count);
                    return $"delete@{at}-{count}";
                }
            case "truncate" when data.Count > 0:
                {
                    var length = _random.Next(data.Count);
                    data.RemoveRange(length, data.Count - length);
                    return $"truncate={length}";
                }
            case "splice":
                {
                    var other = _corpus[_random.Next(_corpus.Count)];
                    var cut = _random.Next(data.Count + 1);
                    var from = _random.Next(other.Length + 1);
                    data.RemoveRange(cut, data.Count - cut);
                    data.AddRange(other.AsSpan(from).ToArray());
                    return $"splice@{cut}<-{from}";
                }
            case "duplicate" when data.Count > 0:
                {
                    var at = _random.Next(data.Count);
                    var count = Math.Min(1 + _random.Next(64), data.Count - at);
                    data.InsertRange(at, data.GetRange(at, count));
                    return $"duplicate@{at}x{count}";
                }
            case "length-field" when data.Count >= 2:
                {
                    // A 1, 2 or 4-byte big-endian integer somewhere is set to a boundary value or nudged by one: where
                    // the input has a length there, the decoder now reads past, short of or far beyond its data.
                    var width = data.Count >= 4 ? (1 << _random.Next(3)) : 1 << _random.Next(2);
                    var at = _random.Next(data.Count - width + 1);
                    Span<byte> field = stackalloc byte[4];
                    uint value;
                    if (_random.Next(2) == 0)
                    {
                        value = InterestingLengths[_random.Next(InterestingLengths.Length)];
                    }
                    else
                    {
                        for (var i = 0; i < width; i++)
                        {
                            field[4 - width + i] = data[at + i];
                        }

                        value = BinaryPrimitives.ReadUInt32BigEndian(field) + (uint)(_random.Next(2) == 0 ? 1 : -1);
                    }

                    BinaryPrimitives.WriteUInt32BigEndian(field, value);
                    for (var i = 0; i < width; i++)
                    {
                        data[at + i] = field[4 - width + i];
                    }

                    return $"length{width * 8}@{at}={value:X}";
                }
            case "random-bytes":
                {
                    var run = new byte[_random.Next(64)];
                    _random.NextBytes(run);
                    data.Clear();
                    data.AddRange(run);
                    return $"random={run.Length}";
                }
            default:
                {
                    data.Add(InterestingBytes[_random.Next(InterestingBytes.Length)]);
                    return "append";
                }
        }
    }
}
