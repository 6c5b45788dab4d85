using System.Text.Json.Nodes;
using Istio.AppSwitch.Xds.Resources;

namespace Istio.AppSwitch.Xds.Tests.Resources;

/// <summary>Input that is not a config dump: every problem is an error with its JSON path, never an exception.</summary>
public sealed class ConfigDumpReaderBadInputTests
{
    private const string ClusterPath = "$.configs[0].dynamic_active_clusters[0].cluster";

    [Theory]
    [InlineData("")]
    [InlineData("{\"configs\": [")]
    [InlineData("{configs: []}")]
    [InlineData("{\"configs\": []} trailing")]
    [InlineData("{\"configs\": [], }")]
    [InlineData("{\"configs\": [], \"configs\": []}")]
    public void Read_MalformedJson_ReportsMalformedJson(string json)
    {
        var result = ConfigDumpReader.Read(json);

        Assert.False(result.Succeeded);
        Assert.Null(result.Dump);
        var error = Assert.Single(result.Errors);
        Assert.StartsWith("$", error.Path, StringComparison.Ordinal);
        Assert.StartsWith("malformed JSON: ", error.Message, StringComparison.Ordinal);
        Assert.Empty(result.DynamicClusters);
    }

    [Theory]
    [InlineData("[]", "an array")]
    [InlineData("42", "a number")]
    [InlineData("\"dump\"", "a string")]
    [InlineData("null", "null")]
    public void Read_NonObjectRoot_ReportsRoot(string json, string found)
    {
        var result = ConfigDumpReader.Read(json);

        var error = Assert.Single(result.Errors);
        Assert.Equal("$", error.Path);
        Assert.Equal($"expected a JSON object (envoy.admin.v3.ConfigDump), found {found}", error.Message);
    }

    [Theory]
    [InlineData("\"connect_timeout\": 10", ".connect_timeout", "expected a duration such as \"1.5s\", found a number")]
    [InlineData("\"connect_timeout\": \"10 seconds\"", ".connect_timeout", "expected a duration such as \"1.5s\", found a string \"10 seconds\"")]
    [InlineData("\"lb_policy\": true", ".lb_policy", "expected an enum name (string) of envoy.config.cluster.v3.Cluster.LbPolicy, found a boolean")]
    [InlineData("\"name\": 5", ".name", "expected a string, found a number")]
    [InlineData("\"respect_dns_ttl\": \"yes\"", ".respect_dns_ttl", "expected true or false, found a string")]
    [InlineData("\"per_connection_buffer_limit_bytes\": \"lots\"", ".per_connection_buffer_limit_bytes", "expected an integer (UInt32), found a string \"lots\"")]
    [InlineData("\"per_connection_buffer_limit_bytes\": 1.5", ".per_connection_buffer_limit_bytes", "expected an integer (UInt32), found a number 1.5")]
    [InlineData("\"circuit_breakers\": {\"thresholds\": [{\"max_connections\": -1}]}", ".circuit_breakers.thresholds[0].max_connections", "expected an integer (UInt32), found a number -1")]
    [InlineData("\"transport_socket_matches\": {}", ".transport_socket_matches", "expected an array for repeated field 'transport_socket_matches', found an object")]
    [InlineData("\"transport_socket_matches\": [null]", ".transport_socket_matches[0]", "elements of a repeated field must not be null")]
    [InlineData("\"metadata\": []", ".metadata", "expected an object (envoy.config.core.v3.Metadata), found an array")]
    [InlineData("\"metadata\": {\"filter_metadata\": {\"istio\": 1}}", ".metadata.filter_metadata['istio']", "expected an object (google.protobuf.Struct), found a number")]
    [InlineData("\"typed_extension_protocol_options\": {\"x\": null}", ".typed_extension_protocol_options['x']", "map values must not be null")]
    [InlineData("\"load_assignment\": {\"endpoints\": [{\"lb_endpoints\": [{\"endpoint\": {\"address\": {\"socket_address\": {\"port_value\": \"80x\"}}}}]}]}", ".load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value", "expected an integer (UInt32), found a string \"80x\"")]
    [InlineData("\"upstream_bind_config\": {\"source_address\": {\"address\": \"1.2.3.4\"}, \"freebind\": 1}", ".upstream_bind_config.freebind", "expected true or false, found a number")]
    [InlineData("\"cluster_type\": {\"name\": \"x\", \"typed_config\": []}", ".cluster_type.typed_config", "expected an object (google.protobuf.Any), found an array")]
    [InlineData("\"cluster_type\": {\"name\": \"x\", \"typed_config\": {\"@type\": 7}}", ".cluster_type.typed_config", "'@type' must be a string, found a number")]
    [InlineData("\"cluster_type\": {\"name\": \"x\", \"typed_config\": {\"@type\": \"Lua\"}}", ".cluster_type.typed_config", "'Lua' is not a type URL (expected \"type.googleapis.com/<full message name>\")")]
    [InlineData("\"cluster_type\": {\"name\": \"x\", \"typed_config\": {\"name\": \"x\"}}", ".cluster_type.typed_config", "an Any with fields must have an '@type'")]
    [InlineData("\"cluster_type\": {\"name\": \"x\", \"typed_config\": {\"@type\": \"type.googleapis.com/google.protobuf.Duration\", \"value\": 3}}", ".cluster_type.typed_config.value", "expected a duration such as \"1.5s\", found a number")]
    [InlineData("\"cluster_type\": {\"name\": \"x\", \"typed_config\": {\"@type\": \"type.googleapis.com/google.protobuf.Duration\"}}", ".cluster_type.typed_config.value", "an Any holding google.protobuf.Duration needs a 'value'")]
    public void Read_WrongValueForField_ReportsFieldPath(string field, string path, string message)
    {
        var result = ConfigDumpReader.Read(ClusterDump(field));

        Assert.False(result.Succeeded);
        var error = Assert.Single(result.Errors);
        Assert.Equal(ClusterPath + path, error.Path);
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Read_SeveralProblems_ReportsEveryOne()
    {
        var result = ConfigDumpReader.Read(ClusterDump("\"name\": 5, \"connect_timeout\": true, \"lb_policy\": []"));

        Assert.Equal(
            [ClusterPath + ".name", ClusterPath + ".connect_timeout", ClusterPath + ".lb_policy"],
            result.Errors.Select(e => e.Path));
    }

    [Fact]
    public void Read_OneofSetTwice_ReportsOneofName()
    {
        var result = ConfigDumpReader.Read(ClusterDump("\"type\": \"STATIC\", \"cluster_type\": {\"name\": \"x\"}"));

        var error = Assert.Single(result.Errors);
        Assert.Equal(ClusterPath + ".cluster_type", error.Path);
        Assert.Equal("more than one field of oneof 'cluster_discovery_type' of envoy.config.cluster.v3.Cluster is set", error.Message);
    }

    [Fact]
    public void Read_ClusterSectionHoldingListener_ReportsExpectedType()
    {
        var json = """
            {"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
              "dynamic_active_clusters": [{"cluster": {"@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": "l"}}]}]}
            """;

        var error = Assert.Single(ConfigDumpReader.Read(json).Errors);

        Assert.Equal(ClusterPath, error.Path);
        Assert.Equal(
            "expected type.googleapis.com/envoy.config.cluster.v3.Cluster, found 'type.googleapis.com/envoy.config.listener.v3.Listener'",
            error.Message);
    }

    [Fact]
    public void Read_V2Resource_ReportsTypeAxDoesNotGenerate()
    {
        var json = """
            {"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
              "dynamic_active_clusters": [{"cluster": {"@type": "type.googleapis.com/envoy.api.v2.Cluster", "name": "c"}}]}]}
            """;

        var error = Assert.Single(ConfigDumpReader.Read(json).Errors);

        Assert.Equal(ClusterPath, error.Path);
        Assert.EndsWith("found 'type.googleapis.com/envoy.api.v2.Cluster', a type ax does not generate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_ValueOnlyJsonParserRejects_ReportsWholeDocument()
    {
        // The shape of a timestamp, but no such day: the one kind of problem only JsonParser finds, and it has no path.
        var json = """
            {"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
              "dynamic_active_clusters": [{"last_updated": "2025-02-30T10:00:00Z"}]}]}
            """;

        var error = Assert.Single(ConfigDumpReader.Read(json).Errors);

        Assert.Equal("$", error.Path);
        Assert.StartsWith("not a valid envoy.admin.v3.ConfigDump: ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_NestingDeeperThanLimit_ReportsMalformedJson()
    {
        var deep = new string('[', 300) + new string(']', 300);
        var json = ClusterDump($"\"metadata\": {{\"filter_metadata\": {{\"x\": {{\"v\": {deep}}}}}}}");

        var error = Assert.Single(ConfigDumpReader.Read(json).Errors);

        Assert.StartsWith("malformed JSON: ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_AnyValueInAnyPlace_NeverThrows()
    {
        // Every node of a real dump, swapped for every kind of JSON value: the reader either reads the result or
        // reports errors with paths; an exception fails this test.
        var original = JsonNode.Parse(Corpus.ReadText(Corpus.RouteRetriesAndCluster))!;
        JsonNode?[] replacements = [null, -1.5, "x", true, new JsonObject(), new JsonArray()];
        var positions = Positions(original).ToList();
        Assert.True(positions.Count > 200, positions.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));

        var (read, rejected) = (0, 0);
        foreach (var (path, replace) in positions)
        {
            foreach (var replacement in replacements)
            {
                var copy = original.DeepClone();
                replace(copy, replacement?.DeepClone());
                var result = ConfigDumpReader.Read(copy.ToJsonString());
                if (result.Succeeded)
                {
                    read++;
                }
                else
                {
                    rejected++;
                    Assert.True(result.Dump is null && result.Errors.All(e => e.Path.StartsWith('$')), path);
                }
            }
        }
        // Both outcomes happen: replacing a string by another string reads; most other swaps do not.
        Assert.True(read > 100 && rejected > 100, $"{read} read, {rejected} rejected");
    }

    private static string ClusterDump(string clusterFields) => $$$"""
        {"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
          "dynamic_active_clusters": [{"cluster": {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", {{{clusterFields}}}}}]}]}
        """;

    /// <summary>Every node below the root, as a path and a way to replace the node at that path in a copy.</summary>
    private static IEnumerable<(string Path, Action<JsonNode, JsonNode?> Replace)> Positions(JsonNode root)
    {
        var pending = new Stack<(JsonNode Node, List<object> Steps)>();
        pending.Push((root, []));
        while (pending.Count > 0)
        {
            var (node, steps) = pending.Pop();
            IEnumerable<(object Step, JsonNode? Child)> children = node switch
            {
                JsonObject o => o.Select(p => ((object)p.Key, p.Value)),
                JsonArray a => a.Select((c, i) => ((object)i, c)),
                _ => [],
            };
            foreach (var (step, child) in children)
            {
                List<object> childSteps = [.. steps, step];
                yield return (string.Join("/", childSteps), (copy, value) => Replace(copy, childSteps, value));
                if (child is not null)
                {
                    pending.Push((child, childSteps));
                }
            }
        }
    }

    private static void Replace(JsonNode root, List<object> steps, JsonNode? value)
    {
        var parent = root;
        foreach (var step in steps[..^1])
        {
            parent = step is int i ? parent[i]! : parent[(string)step]!;
        }
        if (steps[^1] is int index)
        {
            parent.AsArray()[index] = value;
        }
        else
        {
            parent.AsObject()[(string)steps[^1]] = value;
        }
    }
}
