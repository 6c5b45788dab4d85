using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Istio.AppSwitch.Rbac;

namespace Istio.AppSwitch.Xds.Translation;

/// <summary>
/// Writes a <see cref="MeshTranslation"/> as the stable JSON of <c>ax translate -o json</c> (schema
/// <c>ax.translation/v1</c>, documented in docs/translation.md). Written by hand with <see cref="Utf8JsonWriter"/>, not by
/// reflection: the names are the contract, and the published ax is trimmed.
/// </summary>
public static class TranslationJsonWriter
{
    /// <summary>The schema identifier written at the top of the document.</summary>
    public const string Schema = "ax.translation/v1";

    private static readonly JsonWriterOptions Options = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The JSON text of <paramref name="translation"/>.</summary>
    public static string ToJson(MeshTranslation translation)
    {
        using var stream = new MemoryStream();
        Write(translation, stream);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Writes the JSON of <paramref name="translation"/> to <paramref name="stream"/>.</summary>
    public static void Write(MeshTranslation translation, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(translation);
        using var w = new Utf8JsonWriter(stream, Options);
        w.WriteStartObject();
        w.WriteString("schema", Schema);

        w.WriteStartArray("outbound");
        foreach (var o in translation.Outbound)
        {
            w.WriteStartObject();
            w.WriteString("key", o.Key);
            w.WriteString("address", o.Address?.ToString());
            w.WriteNumber("prefix_length", o.PrefixLength);
            w.WriteNumber("port", o.Port);
            Strings(w, "dns_names", o.DnsNames);
            w.WriteString("listener", o.Listener);
            w.WriteString("route_config", o.RouteConfig);
            w.WriteString("protocol", Snake(o.Protocol));
            w.WriteString("mode", Snake(o.Mode));
            Reasons(w, o.Causes);
            w.WriteStartArray("destinations");
            foreach (var d in o.Destinations)
            {
                w.WriteStartObject();
                w.WriteString("cluster", d.Cluster);
                w.WriteNumber("weight", d.Weight);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteBoolean("hash_on_source_ip", o.HashOnSourceIp);
            w.WriteNumber("connect_retries", o.ConnectRetries);
            Millis(w, "timeout_ms", o.Timeout);
            Resources(w, o.IstioResources);
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WriteStartArray("inbound");
        foreach (var i in translation.Inbound)
        {
            w.WriteStartObject();
            w.WriteNumber("port", i.Port);
            w.WriteString("listener", i.Listener);
            Strings(w, "filter_chains", i.FilterChains);
            w.WriteString("protocol", Snake(i.Protocol));
            w.WriteString("peer_authentication", Snake(i.PeerAuthentication));
            w.WriteString("mode", Snake(i.Mode));
            Reasons(w, i.Causes);
            w.WriteBoolean("requires_peer_identity", i.RequiresPeerIdentity);
            w.WriteString("cluster", i.Cluster);
            Resources(w, i.IstioResources);
            w.WriteStartObject("rbac");
            w.WriteNumber("shadow_policies", i.Rbac.ShadowPolicyCount);
            w.WriteStartArray("engines");
            foreach (var engine in i.Rbac.Engines)
            {
                w.WriteStartObject();
                w.WriteString("action", Snake(engine.Action));
                w.WriteStartArray("policies");
                foreach (var policy in engine.Policies)
                {
                    w.WriteStartObject();
                    w.WriteString("name", policy.Name);
                    Strings(w, "permissions", policy.Permissions.Select(p => p.ToString()));
                    Strings(w, "principals", policy.Principals.Select(p => p.ToString()));
                    w.WriteBoolean("uses_principal", policy.UsesPrincipal);
                    w.WriteBoolean("unsupported", policy.HasUnsupported);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WriteStartArray("clusters");
        foreach (var c in translation.Clusters.Values)
        {
            w.WriteStartObject();
            w.WriteString("name", c.Name);
            w.WriteString("discovery", Snake(c.Discovery));
            w.WriteString("mode", Snake(c.Mode));
            Reasons(w, c.Causes);
            w.WriteString("lb_policy", Snake(c.LbPolicy));
            w.WriteNumber("choice_count", c.ChoiceCount);
            w.WriteNumber("minimum_ring_size", c.MinimumRingSize);
            w.WriteNumber("maximum_ring_size", c.MaximumRingSize);
            w.WriteNumber("maglev_table_size", c.MaglevTableSize);
            Millis(w, "connect_timeout_ms", c.ConnectTimeout);
            w.WriteNumber("max_connections", c.MaxConnections);
            if (c.OutlierDetection is { } od)
            {
                w.WriteStartObject("outlier_detection");
                w.WriteNumber("consecutive_5xx", od.Consecutive5xx);
                Number(w, "consecutive_gateway_failure", od.ConsecutiveGatewayFailure);
                Number(w, "consecutive_local_origin_failure", od.ConsecutiveLocalOriginFailure);
                Millis(w, "interval_ms", od.Interval);
                Millis(w, "base_ejection_time_ms", od.BaseEjectionTime);
                w.WriteNumber("max_ejection_percent", od.MaxEjectionPercent);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("outlier_detection");
            }
            w.WriteString("upstream_tls", Snake(c.UpstreamTls));
            w.WriteBoolean("locality_weighted", c.LocalityWeighted);
            Strings(w, "service_hosts", c.ServiceHosts);
            Resources(w, c.IstioResources);
            w.WriteBoolean("has_endpoint_assignment", c.HasEndpointAssignment);
            w.WriteStartArray("endpoints");
            foreach (var e in c.Endpoints)
            {
                w.WriteStartObject();
                w.WriteString("address", e.Address);
                w.WriteNumber("port", e.Port);
                w.WriteNumber("weight", e.Weight);
                Number(w, "locality_weight", e.LocalityWeight);
                w.WriteNumber("priority", e.Priority);
                w.WriteString("region", e.Region);
                w.WriteString("zone", e.Zone);
                w.WriteString("sub_zone", e.SubZone);
                w.WriteString("health", Snake(e.Health));
                w.WriteBoolean("usable", e.Usable);
                w.WriteBoolean("istio_mtls", e.IstioMtls);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WriteStartArray("diagnostics");
        foreach (var d in translation.Diagnostics)
        {
            w.WriteStartObject();
            w.WriteString("severity", Snake(d.Severity));
            w.WriteString("resource_type", d.ResourceType);
            w.WriteString("resource_name", d.ResourceName);
            w.WriteString("message", d.Message);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>An enum value in snake_case (<c>LeastRequest</c> → <c>least_request</c>), as the schema spells them.</summary>
    public static string Snake<T>(T value)
        where T : struct, Enum
    {
        var name = value.ToString();
        var builder = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c) && i > 0 && !char.IsDigit(name[i - 1]))
            {
                builder.Append('_');
            }
            builder.Append(char.ToLowerInvariant(c));
        }
        return builder.ToString();
    }

    private static void Reasons(Utf8JsonWriter w, IEnumerable<ChainCause> causes)
    {
        w.WriteStartArray("reasons");
        foreach (var cause in causes)
        {
            w.WriteStartObject();
            w.WriteString("code", cause.Code);
            w.WriteString("text", cause.Reason.Text());
            w.WriteString("detail", cause.Detail);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    // Each as istioctl names it, with the metadata path or RBAC policy name it was read from.
    private static void Resources(Utf8JsonWriter w, IEnumerable<IstioResource> resources)
    {
        w.WriteStartArray("istio_resources");
        foreach (var r in resources)
        {
            w.WriteStartObject();
            w.WriteString("kind", r.Kind);
            w.WriteString("namespace", r.Namespace);
            w.WriteString("name", r.Name);
            w.WriteString("raw", r.Raw);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static void Strings(Utf8JsonWriter w, string name, IEnumerable<string> values)
    {
        w.WriteStartArray(name);
        foreach (var value in values)
        {
            w.WriteStringValue(value);
        }
        w.WriteEndArray();
    }

    private static void Number(Utf8JsonWriter w, string name, uint? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static void Millis(Utf8JsonWriter w, string name, TimeSpan? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, (long)v.TotalMilliseconds);
        }
        else
        {
            w.WriteNull(name);
        }
    }
}
