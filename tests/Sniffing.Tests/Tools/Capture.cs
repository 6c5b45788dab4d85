using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.Sniffing.Tests.Tools;

/// <summary>Runs a real client against a <see cref="FirstBytesCapture"/> and returns what it sent.</summary>
internal static class Capture
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    /// <summary>Starts <paramref name="program"/> with the arguments <paramref name="arguments"/> makes from the
    /// listener's port, and returns its first bytes. The client then fails (the connection closes unanswered); its
    /// exit code is not checked, only that it ends.</summary>
    public static async Task<byte[]> FromAsync(string program, Func<int, IEnumerable<string>> arguments)
    {
        using var listener = new FirstBytesCapture();
        using var client = ExternalProcess.Start(program, arguments(listener.Port));
        byte[] bytes;
        try
        {
            bytes = await listener.CaptureAsync(Timeout);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}\n{client.Output}", e);
        }

        await client.WaitForExitAsync(Timeout);
        return bytes;
    }
}
