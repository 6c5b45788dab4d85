namespace Istio.AppSwitch.Proxy.Plugins;

/// <summary><c>drop</c>: closes every connection it sees (give it a <c>match</c>); an inbound client is reset.</summary>
internal sealed class DropProxyPlugin : IProxyPlugin
{
    public string Name => "drop";

    public ValueTask<PluginVerdict> InspectAsync(DelegatedConnection connection, CancellationToken cancellationToken) =>
        ValueTask.FromResult(PluginVerdict.Drop);
}
