namespace Istio.AppSwitch.Dataplane.Continuity;

/// <summary>A daemon's link to its keeper: the client, what the keeper held at start, and the configuration kept through it.</summary>
/// <param name="Client">The connection, for the interception's writes.</param>
/// <param name="Kept">What a previous daemon left: the interception adopts the applications in it.</param>
/// <param name="Config">The refs and mesh rules, restored from <paramref name="Kept"/> and kept from then on.</param>
public sealed record KeeperSession(KeeperClient Client, IReadOnlyList<KeeperFrame> Kept, ConfigKeeper Config) : IDisposable
{
    /// <inheritdoc />
    public void Dispose()
    {
        Config.Dispose();
        Client.Dispose();
    }
}
