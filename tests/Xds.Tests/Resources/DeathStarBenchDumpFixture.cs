using System.Text.Json.Nodes;
using Istio.AppSwitch.Xds.Resources;

namespace Istio.AppSwitch.Xds.Tests.Resources;

/// <summary>The DeathStarBench sidecar dump, read once for all the tests that look at it.</summary>
public sealed class DeathStarBenchDumpFixture
{
    public DeathStarBenchDumpFixture()
    {
        Json = Corpus.ReadText(Corpus.DeathStarBench);
        Result = ConfigDumpReader.Read(Json);
        Raw = JsonNode.Parse(Json)!.AsObject();
    }

    /// <summary>The file as text.</summary>
    public string Json { get; }

    /// <summary>The file as plain JSON, to count what is in it without the reader.</summary>
    public JsonObject Raw { get; }

    public ConfigDumpReadResult Result { get; }

    /// <summary>The section of the dump of one admin type, by its short name (<c>ClustersConfigDump</c>).</summary>
    public JsonObject Section(string adminType) =>
        Raw["configs"]!.AsArray()
            .Single(c => (string?)c!["@type"] == $"type.googleapis.com/envoy.admin.v3.{adminType}")!
            .AsObject();
}
