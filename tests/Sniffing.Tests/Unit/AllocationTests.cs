using System.Text;

namespace Istio.AppSwitch.Sniffing.Tests.Unit;

/// <summary>The sniffer runs on the accept path: it allocates the result and the strings it reports, nothing else.</summary>
public class AllocationTests
{
    [Fact]
    public void Sniff_UnrecognizedOrPending_AllocatesNothing()
    {
        byte[][] samples = [[0x00, 0x01], "GET /x HTT"u8.ToArray(), [0x16, 0x03], "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray()];
        foreach (var sample in samples)
        {
            ProtocolSniffer.Sniff(sample, out _); // warm up
            var before = GC.GetAllocatedBytesForCurrentThread();
            ProtocolSniffer.Sniff(sample, out _);
            Assert.True(GC.GetAllocatedBytesForCurrentThread() == before, Encoding.Latin1.GetString(sample));
        }
    }

    [Fact]
    public void Sniff_KnownCommand_AllocatesOnlyTheResult()
    {
        var sample = "*1\r\n$4\r\nPING\r\n"u8.ToArray();
        ProtocolSniffer.Sniff(sample, out _);

        var before = GC.GetAllocatedBytesForCurrentThread();
        ProtocolSniffer.Sniff(sample, out var result);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal("ping", result.Command);
        Assert.InRange(allocated, 1, 160);
    }
}
