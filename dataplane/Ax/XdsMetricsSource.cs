using Istio.AppSwitch.Dataplane.Api;
using Istio.AppSwitch.Dataplane.Mesh;
using Istio.AppSwitch.Dataplane.Observability;
using Istio.AppSwitch.XdsAgent.Sinks;

namespace Istio.AppSwitch.Ax;

/// <summary>
/// The in-process xds-agent's metrics (<c>ax daemon --pilot</c>): pushes, ACKs and NACKs per type URL as the ADS
/// stream saw them, and the agent's pushes of translated rules into the daemon.
/// </summary>
internal sealed class XdsMetricsSource(XdsAgent.XdsAgent agent) : IMetricsSource
{
    public void WriteTo(PrometheusTextWriter writer)
    {
        var byType = agent.Client.Statistics.Snapshot();
        writer.Family("ax_xds_pushes_total", MetricType.Counter, "xDS responses received from istiod, by type URL.");
        foreach (var (typeUrl, counts) in byType)
        {
            writer.Sample(Interlocked.Read(ref counts.Pushes), ("type_url", typeUrl));
        }
        writer.Family("ax_xds_acks_total", MetricType.Counter, "xDS responses accepted (ACKed), by type URL.");
        foreach (var (typeUrl, counts) in byType)
        {
            writer.Sample(Interlocked.Read(ref counts.Acks), ("type_url", typeUrl));
        }
        writer.Family("ax_xds_nacks_total", MetricType.Counter, "xDS responses rejected (NACKed), by type URL.");
        foreach (var (typeUrl, counts) in byType)
        {
            writer.Sample(Interlocked.Read(ref counts.Nacks), ("type_url", typeUrl));
        }
        writer.Family("ax_xds_running", MetricType.Gauge, "1 while the xds-agent runs (connected to istiod or retrying), else 0.");
        writer.Sample(agent.Client.IsRunning ? 1 : 0);
        writer.Family("ax_xds_mesh_updates_total", MetricType.Counter, "Translated mesh updates the agent applied to the daemon, by result (ok, failed).");
        writer.Sample(agent.Pushes, ("result", "ok"));
        writer.Sample(agent.Failures, ("result", "failed"));
    }

    /// <summary>Publishes the agent's ACKs and NACKs as events.</summary>
    public static void PublishOutcomes(XdsAgent.XdsAgent agent, DataplaneTelemetry telemetry) =>
        agent.Client.Statistics.Observer = outcome =>
        {
            if (telemetry.Events.IsActive)
            {
                telemetry.Events.Publish(new EventDto
                {
                    Time = telemetry.Now,
                    Type = outcome.Acked ? "xds-acked" : "xds-nacked",
                    TypeUrl = outcome.TypeUrl,
                    Version = outcome.Version,
                    Message = outcome.Error,
                });
            }
        };
}

/// <summary>The in-process sink, publishing a <c>mesh-applied</c> event for each update it applies.</summary>
internal sealed class ObservedMeshSink(MeshStore store, DataplaneTelemetry telemetry) : IMeshSink
{
    private readonly InProcessMeshSink _inner = new(store);

    public string Description => _inner.Description;

    public async Task<MeshUpdateResponse> ApplyAsync(MeshUpdateRequest request, CancellationToken cancellationToken)
    {
        var applied = await _inner.ApplyAsync(request, cancellationToken).ConfigureAwait(false);
        if (telemetry.Events.IsActive)
        {
            telemetry.Events.Publish(new EventDto
            {
                Time = telemetry.Now,
                Type = "mesh-applied",
                Version = applied.Version,
                Message = $"{applied.Services} services, {applied.Clusters} clusters",
            });
        }
        return applied;
    }
}
