namespace Istio.AppSwitch.Dataplane.Observability;

/// <summary>
/// A part of the daemon that has metrics to show at <c>/metrics</c> (the interception, the registry, the in-process
/// xds-agent). Each source writes its own families, read at scrape time from counters it keeps anyway.
/// </summary>
public interface IMetricsSource
{
    /// <summary>Writes this source's metric families.</summary>
    void WriteTo(PrometheusTextWriter writer);
}
