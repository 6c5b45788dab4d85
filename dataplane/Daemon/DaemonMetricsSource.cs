using Istio.AppSwitch.Dataplane.Interception;
using Istio.AppSwitch.Dataplane.Mesh;
using Istio.AppSwitch.Dataplane.Observability;
using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Dataplane.Registry;

namespace Istio.AppSwitch.Daemon;

/// <summary>The daemon's own metrics: connect decisions, holds, notifications, events, and the registry's size (docs/metrics.md).</summary>
internal sealed class DaemonMetricsSource(DataplaneTelemetry telemetry, ServiceRegistry registry, RefStore refs, MeshStore mesh, HeldConnects held)
    : IMetricsSource
{
    public void WriteTo(PrometheusTextWriter writer)
    {
        writer.Family("ax_connections_total", MetricType.Counter,
            "Outbound connects ax decided, by ref (empty when none matched), mode (fast, unix, chain, passthrough) and decision (allowed, denied, refused, held). A held connect counts as held, then again with its final decision.");
        foreach (var (name, mode, outcome, count) in telemetry.Connections())
        {
            writer.Sample(count, ("ref", name), ("mode", ConnectLabels.Of(mode)), ("decision", ConnectLabels.Of(outcome)));
        }

        writer.Family("ax_inbound_connections_total", MetricType.Counter,
            "Connections ax decided at accept under a port's inbound policy (Istio RBAC), by policy key and decision (allowed, denied).");
        foreach (var (policy, allowed, count) in telemetry.InboundDecisions())
        {
            writer.Sample(count, ("policy", policy), ("decision", allowed ? "allowed" : "denied"));
        }

        writer.Family("ax_held_connect_wait_seconds", MetricType.Histogram,
            "How long held connects waited for a backend, observed when each was released, refused, or abandoned by its thread.");
        writer.Histogram(telemetry.HeldWait.Snapshot());

        writer.Family("ax_held_connects", MetricType.Gauge, "Connects held now, waiting for their ref to have a backend.");
        writer.Sample(held.Count);

        var latency = telemetry.NotificationLatency;
        var snapshots = latency.Select(h => h.Snapshot()).ToArray();
        writer.Family("ax_notifications_total", MetricType.Counter, "Trapped calls (seccomp notifications) handled, by syscall.");
        for (var i = 0; i < snapshots.Length; i++)
        {
            if (snapshots[i].Count != 0)
            {
                writer.Sample(snapshots[i].Count, ("syscall", DataplaneTelemetry.SyscallLabels[i]));
            }
        }
        writer.Family("ax_notification_duration_seconds", MetricType.Histogram,
            "Time from receiving a notification to answering it or handing it to a continuation (a held or blocking connect), by syscall.");
        for (var i = 0; i < snapshots.Length; i++)
        {
            if (snapshots[i].Count != 0)
            {
                writer.Histogram(snapshots[i], ("syscall", DataplaneTelemetry.SyscallLabels[i]));
            }
        }

        writer.Family("ax_events_dropped_total", MetricType.Counter, "Events not delivered to an `ax events` subscriber whose queue was full.");
        writer.Sample(telemetry.Events.Dropped);
        writer.Family("ax_event_subscribers", MetricType.Gauge, "Readers of GET /v1/events now.");
        writer.Sample(telemetry.Events.Subscribers);

        writer.Family("ax_apps", MetricType.Gauge, "Applications running under ax.");
        writer.Sample(registry.Apps.Count);
        writer.Family("ax_services", MetricType.Gauge, "Services (listening sockets) of the applications under ax.");
        writer.Sample(registry.Services.Count);
        writer.Family("ax_refs", MetricType.Gauge, "Service references created through the API.");
        writer.Sample(refs.All.Count);
        writer.Family("ax_mesh_services", MetricType.Gauge, "Outbound mesh services the xds-agent programmed.");
        writer.Sample(mesh.Services.Count);
        writer.Family("ax_mesh_clusters", MetricType.Gauge, "Upstream clusters the xds-agent programmed.");
        writer.Sample(mesh.Clusters.Count);
        writer.Family("ax_mesh_inbound_policies", MetricType.Gauge, "Inbound port policies the xds-agent programmed.");
        writer.Sample(mesh.Inbound.Count);
    }
}
