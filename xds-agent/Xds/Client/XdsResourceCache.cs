using System.Collections.Immutable;
using Istio.AppSwitch.Xds.Resources.Decoding;

namespace Istio.AppSwitch.Xds.Client;

/// <summary>
/// The accepted resources of every type, as one immutable <see cref="XdsSnapshot"/> swapped whole, and the watchers
/// told about each swap. Changed only by the ADS loop, and only for what it ACKs: a NACKed push never gets here.
/// </summary>
/// <remarks>
/// Single writer (the ADS loop; streams never overlap), any number of readers: <see cref="Current"/> is a volatile
/// read of an immutable object, so readers take no lock.
/// </remarks>
internal sealed class XdsResourceCache(XdsWatcherDispatcher dispatcher)
{
    private XdsSnapshot _current = XdsSnapshot.Empty;

    public XdsSnapshot Current => Volatile.Read(ref _current);

    /// <summary>What the streams received and answered, per type (kept here so it outlives each stream).</summary>
    public Ads.AdsStatistics Statistics { get; } = new();

    /// <summary>
    /// Applies an accepted push of one type. With <paramref name="replaceAll"/> (a SotW full set), every resource
    /// not in <paramref name="upserts"/> is removed; otherwise only the names in <paramref name="removed"/> are.
    /// </summary>
    /// <returns>The names removed, each one also reported to watchers as a resource error.</returns>
    public IReadOnlyList<string> Apply(
        string typeUrl, string version, IReadOnlyList<XdsResource> upserts, IReadOnlyCollection<string> removed, bool replaceAll)
    {
        var before = Current[typeUrl];
        var resources = before.Resources.ToBuilder();
        var gone = new List<string>();
        if (replaceAll)
        {
            var keep = upserts.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
            gone.AddRange(before.Resources.Keys.Where(n => !keep.Contains(n)));
        }
        else
        {
            gone.AddRange(removed.Where(before.Resources.ContainsKey));
        }

        foreach (var name in gone)
        {
            resources.Remove(name);
        }

        var updated = new List<string>();
        foreach (var resource in upserts)
        {
            if (!before.Resources.TryGetValue(resource.Name, out var old) || !old.Message.Equals(resource.Message) ||
                old.Version != resource.Version)
            {
                updated.Add(resource.Name);
            }

            resources[resource.Name] = resource;
        }

        Swap(before with { Version = version, Resources = resources.ToImmutable() }, updated, gone);
        foreach (var name in gone)
        {
            dispatcher.Post(w => w.OnResourceError(typeUrl, name, "the server removed the resource"));
        }

        return gone;
    }

    /// <summary>Drops the resources of a named type that are no longer subscribed (their cluster or listener went away).</summary>
    public void RetainOnly(string typeUrl, ImmutableSortedSet<string> names)
    {
        var before = Current[typeUrl];
        var gone = before.Resources.Keys.Where(n => !names.Contains(n)).ToList();
        if (gone.Count > 0)
        {
            Swap(before with { Resources = before.Resources.RemoveRange(gone) }, [], gone);
        }
    }

    public void ReportAmbientError(XdsAmbientError error) => dispatcher.Post(w => w.OnAmbientError(error));

    private void Swap(XdsTypeSnapshot type, List<string> updated, List<string> removed)
    {
        var snapshot = Current.With(type);
        Volatile.Write(ref _current, snapshot);
        if (updated.Count > 0 || removed.Count > 0)
        {
            var change = new XdsChange(type.TypeUrl, type.Version, updated, removed);
            dispatcher.Post(w => w.OnChanged(snapshot, change));
        }
    }
}
