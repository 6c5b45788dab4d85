namespace Istio.AppSwitch.Sniffing.Tests.Tools;

/// <summary>What the daemon sees when a peek returns fewer bytes: every prefix of a sample, sniffed in turn.</summary>
internal static class Prefixes
{
    /// <summary>
    /// Sniffs every prefix of <paramref name="sample"/>, from empty to whole, and checks they agree with the whole:
    /// <list type="bullet">
    /// <item>nothing throws;</item>
    /// <item>for a recognised sample, no prefix is Unrecognized, a protocol named while more data is needed is the
    /// final one, and once Complete a longer prefix stays Complete with the same result.</item>
    /// </list>
    /// Returns the sniff of the whole sample.
    /// </summary>
    public static (SniffStatus Status, SniffResult Result) CheckConsistent(byte[] sample)
    {
        var (finalStatus, final) = (ProtocolSniffer.Sniff(sample, out var whole), whole);
        SniffResult? firstComplete = null;
        for (var length = 0; length <= sample.Length; length++)
        {
            var status = ProtocolSniffer.Sniff(sample.AsSpan(0, length), out var result);
            Assert.NotNull(result);
            if (finalStatus == SniffStatus.Unrecognized)
            {
                continue;
            }

            var where = $"prefix {length} of {sample.Length}: {status} {result}";
            Assert.True(status != SniffStatus.Unrecognized, where);
            Assert.True(result.Protocol == SniffedProtocol.Unknown || result.Protocol == final.Protocol, where);
            if (firstComplete is not null)
            {
                Assert.True(status == SniffStatus.Complete, where);
                Assert.Equal(firstComplete.ToString(), result.ToString());
            }
            else if (status == SniffStatus.Complete)
            {
                firstComplete = result;
            }
        }

        return (finalStatus, final);
    }
}
