using Istio.AppSwitch.Dataplane.Policy;
using Istio.AppSwitch.Dataplane.Registry;

namespace Istio.AppSwitch.Dataplane.Tests.Policy;

public sealed class LabelSelectorTests
{
    private static LabelSelector Parse(string text)
    {
        Assert.True(LabelSelector.TryParse(text, out var selector, out var problem), problem);
        return selector;
    }

    [Theory]
    [InlineData("app=redis", "app=redis,tier=db", true)]
    [InlineData("app=redis", "app=web", false)]
    [InlineData("app==redis", "app=redis", true)]
    [InlineData("app=redis,tier=db", "app=redis,tier=db,x=y", true)]
    [InlineData("app=redis,tier=db", "app=redis", false)]
    [InlineData("tier!=db", "app=redis", true)]
    [InlineData("tier!=db", "tier=web", true)]
    [InlineData("tier!=db", "tier=db", false)]
    [InlineData("canary", "canary=", true)]
    [InlineData("canary", "app=x", false)]
    [InlineData("!canary", "app=x", true)]
    [InlineData("!canary", "canary=yes", false)]
    [InlineData("app=redis, !canary , tier != web", "app=redis,tier=db", true)]
    public void Matches_Requirements_AllMustHold(string selector, string labels, bool expected)
    {
        Assert.Equal(expected, Parse(selector).Matches(Labels.Parse(labels)));
    }

    [Fact]
    public void TryParse_Empty_MatchesEverything()
    {
        var selector = Parse("");

        Assert.True(selector.IsEmpty);
        Assert.True(selector.Matches(Labels.Empty));
        Assert.Same(LabelSelector.Everything, selector);
    }

    [Fact]
    public void Text_AnyOrder_Canonical()
    {
        Assert.Equal("app=redis,tier!=web", Parse("tier != web,app==redis").Text);
        Assert.Equal(Parse("b=2,a=1"), Parse("a=1,b=2"));
        Assert.Equal(2, Parse("a=1,b=2,a=1").Specificity);
    }

    [Theory]
    [InlineData("app=redis,", "empty requirement")]
    [InlineData(",app=redis", "empty requirement")]
    [InlineData("=redis", "invalid key \"\"")]
    [InlineData("app=re dis", "invalid value \"re dis\"")]
    [InlineData("-app=x", "invalid key \"-app\"")]
    [InlineData("env in (a,b)", "set-based requirements")]
    [InlineData("!", "invalid key \"\"")]
    public void TryParse_Invalid_ProblemQuotesTheTerm(string text, string expected)
    {
        Assert.False(LabelSelector.TryParse(text, out var selector, out var problem));
        Assert.Null(selector);
        Assert.Contains(expected, problem, StringComparison.Ordinal);
    }
}
