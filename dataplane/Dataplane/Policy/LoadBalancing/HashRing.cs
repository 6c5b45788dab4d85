using System.Globalization;
using System.Text;

namespace Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

/// <summary>
/// Envoy's ketama ring (<c>ring_hash_lb.cc</c>) over the endpoints of one priority: each endpoint gets hashes in
/// proportion to its weight, at <c>xxHash64("address:port_i")</c> for i = 0, 1, ...; a key goes to the first hash
/// at or after it, wrapping at the end. Built once; <see cref="Pick"/> only reads.
/// </summary>
internal sealed class HashRing
{
    private readonly ulong[] _hashes;
    private readonly UpstreamEndpoint[] _owners;
    private readonly UpstreamEndpoint[] _endpoints;

    private HashRing(ulong[] hashes, UpstreamEndpoint[] owners, UpstreamEndpoint[] endpoints)
    {
        _hashes = hashes;
        _owners = owners;
        _endpoints = endpoints;
    }

    /// <summary>Entries on the ring.</summary>
    public int Size => _hashes.Length;

    /// <summary>
    /// Builds the ring as Envoy does: scale so that the lightest endpoint gets a whole number of hashes and the ring
    /// has at least <paramref name="minimumSize"/> entries, capped at <paramref name="maximumSize"/>; running sums
    /// hand out the fractional hashes. Unlike Envoy, the ring holds every endpoint of the priority, whatever its
    /// health, and a pick walks past the ones it may not take: a health change then moves only the keys of the
    /// endpoints that changed, and a panic needs no second ring.
    /// </summary>
    public static HashRing Build(UpstreamEndpoint[] endpoints, ulong minimumSize, ulong maximumSize)
    {
        if (endpoints.Length == 0)
        {
            return new HashRing([], [], []);
        }

        double totalWeight = 0;
        uint minimumWeight = uint.MaxValue;
        foreach (var endpoint in endpoints)
        {
            totalWeight += endpoint.Weight;
            minimumWeight = Math.Min(minimumWeight, endpoint.Weight);
        }

        var minimumNormalized = minimumWeight / totalWeight;
        var scale = Math.Min(Math.Ceiling(minimumNormalized * minimumSize) / minimumNormalized, maximumSize);
        var capacity = (int)Math.Min(Math.Ceiling(scale) + endpoints.Length, Array.MaxLength);
        var hashes = new List<ulong>(capacity);
        var owners = new List<UpstreamEndpoint>(capacity);

        Span<byte> key = stackalloc byte[96];
        double current = 0, target = 0;
        foreach (var endpoint in endpoints)
        {
            // Envoy's host key: the address as Address::Instance::asString() prints it, "10.0.0.1:80" or "[::1]:80".
            var prefixLength = Encoding.UTF8.GetBytes(endpoint.Address.ToString() + "_", key);
            target += scale * endpoint.Weight / totalWeight;
            for (ulong i = 0; current < target; i++, current++)
            {
                i.TryFormat(key[prefixLength..], out var digits, default, CultureInfo.InvariantCulture);
                hashes.Add(XxHash64.Hash(key[..(prefixLength + digits)]));
                owners.Add(endpoint);
            }
        }

        var hashArray = hashes.ToArray();
        var ownerArray = owners.ToArray();
        Array.Sort(hashArray, ownerArray);
        return new HashRing(hashArray, ownerArray, endpoints);
    }

    /// <summary>The owner of the first entry at or after <paramref name="hash"/> that <paramref name="selection"/>
    /// accepts, walking on around the ring; null when it accepts none.</summary>
    public UpstreamEndpoint? Pick(ulong hash, in Selection selection)
    {
        var hashes = _hashes;
        if (hashes.Length == 0)
        {
            return null;
        }

        int low = 0, high = hashes.Length;
        while (low < high)
        {
            var middle = (int)((uint)(low + high) >> 1);
            if (hashes[middle] < hash)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        var owners = _owners;
        for (var step = 0; step < owners.Length; step++)
        {
            var index = low + step;
            var owner = owners[index >= owners.Length ? index - owners.Length : index];
            if (selection.Accepts(owner))
            {
                return owner;
            }

            if (step == WalkBeforeCheck && !HashTables.AnyAccepted(_endpoints, selection))
            {
                return null;
            }
        }

        return null;
    }

    private const int WalkBeforeCheck = 64;
}
