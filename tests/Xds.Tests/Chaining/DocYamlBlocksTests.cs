using Envoy.Config.Cluster.V3;

namespace Istio.AppSwitch.Xds.Tests.Chaining;

public sealed class DocYamlBlocksTests
{
    [Fact]
    public void Extract_MarkerThenBlankLineThenFence_AppliesTheMarker()
    {
        var blocks = DocYamlBlocks.Extract("# T\n\n<!-- test: bootstrap -->\n\n```yaml\na: 1\nb: x\n```\n");

        var block = Assert.Single(blocks);
        Assert.Equal(new DocYamlBlock("bootstrap", "a: 1\nb: x", 5), block);
    }

    [Fact]
    public void Extract_TextBetweenMarkerAndFence_LeavesTheBlockUnmarked()
    {
        var blocks = DocYamlBlocks.Extract("<!-- test: bootstrap -->\nSome prose.\n```yaml\na: 1\n```\n```yaml\nb: 2\n```\n");

        Assert.Equal([null, null], blocks.Select(b => b.Kind));
        Assert.Equal(["a: 1", "b: 2"], blocks.Select(b => b.Yaml));
    }

    [Fact]
    public void Extract_OtherLanguages_AreSkippedWithTheirContent()
    {
        var blocks = DocYamlBlocks.Extract("```sh\n<!-- test: bootstrap -->\n```\n```\nplain\n```\n<!-- test: envoyfilter -->\n```yaml\nk: v\n```");

        var block = Assert.Single(blocks);
        Assert.Equal("envoyfilter", block.Kind);
        Assert.Equal(8, block.Line);
    }

    [Fact]
    public void Extract_UnclosedFence_FailsWithItsLine()
    {
        var error = Assert.Throws<FormatException>(() => DocYamlBlocks.Extract("text\n```yaml\na: 1\n"));

        Assert.Equal("The fence opened at line 2 is never closed.", error.Message);
    }

    [Fact]
    public void ParseBlock_ValidCluster_ReadsEnumsDurationsAndNumbers()
    {
        var block = new DocYamlBlock("x", "name: c\ntype: ORIGINAL_DST\nconnect_timeout: 2s\nper_connection_buffer_limit_bytes: 1024", 1);

        var cluster = DocYamlBlocks.ParseBlock<Cluster>(block, "doc.md");

        Assert.Equal(Cluster.Types.DiscoveryType.OriginalDst, cluster.Type);
        Assert.Equal(2, cluster.ConnectTimeout.Seconds);
        Assert.Equal(1024u, cluster.PerConnectionBufferLimitBytes);
    }

    [Theory]
    [InlineData("name: c\ntype: ORIGINAL_DTS", "doc.md line 3 (x block) is not a valid envoy.config.cluster.v3.Cluster: ")]
    [InlineData("name: c\nconnect_timeout: 2 seconds", "doc.md line 3 (x block) is not a valid envoy.config.cluster.v3.Cluster: ")]
    public void ParseBlock_WrongValue_FailsNamingTheBlockAndType(string yaml, string expectedStart)
    {
        var error = Assert.Throws<FormatException>(() => DocYamlBlocks.ParseBlock<Cluster>(new DocYamlBlock("x", yaml, 3), "doc.md"));

        Assert.StartsWith(expectedStart, error.Message, StringComparison.Ordinal);
        Assert.NotNull(error.InnerException);
    }
}
