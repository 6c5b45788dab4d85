namespace Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

/// <summary>What the ring and the Maglev table share.</summary>
internal static class HashTables
{
    /// <summary>Whether <paramref name="selection"/> accepts any of <paramref name="endpoints"/>.</summary>
    public static bool AnyAccepted(UpstreamEndpoint[] endpoints, in Selection selection)
    {
        foreach (var endpoint in endpoints)
        {
            if (selection.Accepts(endpoint))
            {
                return true;
            }
        }

        return false;
    }
}
