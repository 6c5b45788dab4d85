using System.Text.Json.Nodes;
using Istio.AppSwitch.Tests.Common.Tools;

namespace Istio.AppSwitch.ProxyProtocol.Tests.Interop;

/// <summary>
/// Runs <c>tests/interop/proxy-protocol-js/pp.js</c>, an independent PROXY protocol implementation, on a batch of
/// requests (one Node.js start for many headers) and returns its answers.
/// </summary>
internal static class ProxyProtocolJs
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(2);

    public static string PackageDirectory => RepositoryPaths.Combine("tests", "interop", "proxy-protocol-js");

    /// <summary>Runs the requests and returns one answer per request, in order.</summary>
    /// <exception cref="InvalidOperationException">Node.js or npm is missing, or the script failed as a whole.</exception>
    public static async Task<JsonObject[]> RunAsync(IReadOnlyList<JsonObject> requests)
    {
        string node;
        try
        {
            node = NodeJs.Node;
            await NodeJs.EnsurePackagesInstalledAsync(PackageDirectory);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException($"The proxy-protocol-js interop tests need Node.js and npm ({PackageDirectory}): {e.Message}", e);
        }

        var file = Path.Combine(Path.GetTempPath(), $"ax-pp-js-{Guid.NewGuid():N}.json");
        try
        {
            await File.WriteAllTextAsync(file, new JsonArray([.. requests.Select(r => (JsonNode)r.DeepClone())]).ToJsonString());
            var result = await ExternalProcess.RunAsync(node, [Path.Combine(PackageDirectory, "pp.js"), file], RunTimeout, PackageDirectory);
            if (result.ExitCode != 0)
            {
                throw new InvalidOperationException($"pp.js failed: {result}");
            }

            var answers = JsonNode.Parse(result.Stdout)!.AsArray().Select(a => a!.AsObject()).ToArray();
            Assert.Equal(requests.Count, answers.Length);
            return answers;
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>A request to decode <paramref name="data"/>.</summary>
    public static JsonObject Decode(ReadOnlySpan<byte> data) => new() { ["op"] = "decode", ["hex"] = Convert.ToHexString(data) };

    /// <summary>Throws with the script's message unless the answer is a success.</summary>
    public static JsonObject Ok(JsonObject answer, object request)
    {
        Assert.True(answer["ok"]!.GetValue<bool>(), $"proxy-protocol-js failed on {request}: {answer["error"]}");
        return answer;
    }

    public static string Text(this JsonObject json, string name) => json[name]!.GetValue<string>();

    public static int Number(this JsonObject json, string name) => json[name]!.GetValue<int>();
}
