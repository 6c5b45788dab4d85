using Microsoft.Extensions.Hosting;

namespace Istio.AppSwitch.XdsAgent;

/// <summary>Runs an <see cref="XdsAgent"/> for the lifetime of a host (<c>ax daemon --pilot</c>).</summary>
public sealed class XdsAgentHostedService : IHostedService, IAsyncDisposable
{
    /// <summary>Wraps <paramref name="agent"/>; the service owns it from now on.</summary>
    public XdsAgentHostedService(XdsAgent agent)
    {
        ArgumentNullException.ThrowIfNull(agent);
        Agent = agent;
    }

    /// <summary>The agent.</summary>
    public XdsAgent Agent { get; }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Connecting happens in the background: a daemon whose Pilot is away still serves its API and refs.
        Agent.Start();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Agent.StopAsync();

    /// <inheritdoc />
    public ValueTask DisposeAsync() => Agent.DisposeAsync();
}
