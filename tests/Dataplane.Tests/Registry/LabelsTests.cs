using Istio.AppSwitch.Dataplane.Configuration;
using Istio.AppSwitch.Dataplane.Registry;

namespace Istio.AppSwitch.Dataplane.Tests.Registry;

public sealed class LabelsTests
{
    [Fact]
    public void Parse_Pairs_SortedByKeyAndLookedUp()
    {
        var labels = Labels.Parse("tier=backend, app=redis,example.com/team=core");

        Assert.Equal(["app", "example.com/team", "tier"], labels.Keys);
        Assert.Equal("redis", labels["app"]);
        Assert.True(labels.TryGetValue("tier", out var tier));
        Assert.Equal("backend", tier);
        Assert.False(labels.ContainsKey("missing"));
        Assert.Equal("app=redis,example.com/team=core,tier=backend", labels.ToString());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void Parse_Empty_IsEmpty(string? text)
    {
        Assert.Same(Labels.Empty, Labels.Parse(text));
    }

    [Fact]
    public void Parse_EmptyValue_IsAllowed()
    {
        Assert.Equal("", Labels.Parse("canary=")["canary"]);
    }

    [Theory]
    [InlineData("app", "is not of the form key=value")]
    [InlineData("-app=x", "must begin and end with a letter or digit")]
    [InlineData("a b=x", "' ' is not allowed")]
    [InlineData("app=-x", "must begin and end with a letter or digit")]
    [InlineData("Example.com/app=x", "prefix \"Example.com\" must be a lowercase DNS subdomain")]
    [InlineData("/app=x", "prefix \"\" must be a lowercase DNS subdomain")]
    [InlineData("example.com/=x", "name part must not be empty")]
    [InlineData("app=x,app=y", "key \"app\" is given twice")]
    [InlineData("app=x,,b=y", "is not of the form key=value")]
    public void Parse_Invalid_ThrowsNamingTheField(string text, string expected)
    {
        var e = Assert.Throws<ValidationException>(() => Labels.Parse(text, "labels"));

        var error = Assert.Single(e.Errors);
        Assert.Equal("labels", error.Field);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_TooLongNameOrValue_Rejected()
    {
        var longName = new string('a', 64);

        Assert.Throws<ValidationException>(() => Labels.Parse($"{longName}=x"));
        Assert.Throws<ValidationException>(() => Labels.Parse($"k={longName}"));
        Assert.Equal(new string('a', 63), Labels.Parse($"k={new string('a', 63)}")["k"]);
    }

    [Fact]
    public void Parse_SeveralBadPairs_ReportsEveryOne()
    {
        var e = Assert.Throws<ValidationException>(() => Labels.Parse("-a=1,b=-2,ok=3,c"));

        Assert.Equal(3, e.Errors.Count);
    }

    [Fact]
    public void RejectSystemKeys_AxPrefix_OneErrorPerKey()
    {
        var errors = new List<FieldError>();

        Labels.RejectSystemKeys(Labels.Parse("ax.user=me,ax.app=x,app=y"), "labels", errors);

        Assert.Equal(2, errors.Count);
        Assert.All(errors, e => Assert.Contains("set by ax itself", e.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void Equals_SameLabelsInAnyOrder_Equal()
    {
        Assert.Equal(Labels.Parse("a=1,b=2"), Labels.Parse("b=2,a=1"));
        Assert.Equal(Labels.Parse("a=1,b=2").GetHashCode(), Labels.Parse("b=2,a=1").GetHashCode());
        Assert.NotEqual(Labels.Parse("a=1"), Labels.Parse("a=2"));
    }

    [Theory]
    [InlineData("my host", "my-host")]
    [InlineData("-x-", "x")]
    [InlineData("", "fallback")]
    [InlineData("***", "fallback")]
    public void SanitizeValue_AnyText_ValidLabelValue(string text, string expected)
    {
        Assert.Equal(expected, Labels.SanitizeValue(text, "fallback"));
    }

    [Fact]
    public void SanitizeValue_LongText_CutTo63()
    {
        var value = Labels.SanitizeValue(new string('h', 100), "x");

        Assert.Equal(63, value.Length);
        Assert.True(Labels.IsValidValue(value, out _));
    }
}
