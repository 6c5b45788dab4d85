using System.Text;
using Istio.AppSwitch.Dataplane.Policy.LoadBalancing;

namespace Istio.AppSwitch.Dataplane.Tests.Policy.LoadBalancing;

public sealed class XxHash64Tests
{
    [Theory]
    // The xxHash reference vectors (seed 0 unless given); the long ones cover the 32-byte stripes.
    [InlineData("", 0UL, 0xEF46DB3751D8E999UL)]
    [InlineData("", 1UL, 0xD5AFBA1336A3BE4BUL)]
    [InlineData("a", 0UL, 0xD24EC4F1A98C6E5BUL)]
    [InlineData("abc", 0UL, 0x44BC2CF5AD770999UL)]
    [InlineData("Call me Ishmael.", 0UL, 0x6D04390FC9D61A90UL)]
    [InlineData("Nobody inspects the spammish repetition", 0UL, 0xFBCEA83C8A378BF1UL)]
    // Envoy's own HashUtil::xxHash64 test values, so that keys land where Envoy puts them.
    [InlineData("foo", 0UL, 3728699739546630719UL)]
    [InlineData("bar", 0UL, 5234164152756840025UL)]
    [InlineData("foo\nbar", 0UL, 8917841378505826757UL)]
    [InlineData("lyft", 0UL, 4400747396090729504UL)]
    public void Hash_KnownVectors_Match(string text, ulong seed, ulong expected)
    {
        Assert.Equal(expected, XxHash64.Hash(Encoding.UTF8.GetBytes(text), seed));
    }
}
