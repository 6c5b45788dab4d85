using System.Reflection;
using Envoy.Config.Cluster.V3;
using Google.Protobuf.Reflection;
using Istio.AppSwitch.Xds.Resources;

namespace Istio.AppSwitch.Xds.Tests.Resources;

public sealed class EnvoyTypeRegistryTests
{
    [Fact]
    public void Files_CoverEveryFileGeneratedIntoEnvoyApiProtos()
    {
        // Fails when proto/roots.txt grows and EnvoyTypeRegistry's root list does not.
        var generated = typeof(Cluster).Assembly.GetTypes()
            .Select(t => t.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static))
            .Where(p => p?.PropertyType == typeof(FileDescriptor))
            .Select(p => ((FileDescriptor)p!.GetValue(null)!).Name)
            .ToList();
        Assert.True(generated.Count > 80, $"{generated.Count} generated files");

        var registered = EnvoyTypeRegistry.Files.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        var missing = generated.Where(name => !registered.Contains(name)).ToList();
        Assert.True(missing.Count == 0, $"not in EnvoyTypeRegistry: {string.Join(", ", missing)}");
    }

    [Fact]
    public void Files_IncludeEveryRootOfRootsTxt()
    {
        var rootsTxt = FindUp("proto/roots.txt");
        var roots = File.ReadAllLines(rootsTxt)
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#'));

        var registered = EnvoyTypeRegistry.Files.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        Assert.All(roots, root => Assert.Contains(root, registered));
    }

    [Fact]
    public void Files_ListImportsBeforeTheFilesThatImportThem()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in EnvoyTypeRegistry.Files)
        {
            Assert.All(file.Dependencies, d => Assert.Contains(d.Name, seen));
            Assert.True(seen.Add(file.Name), file.Name);
        }
    }

    [Theory]
    [InlineData("type.googleapis.com/envoy.config.cluster.v3.Cluster")]
    [InlineData("envoy.config.cluster.v3.Cluster")]
    public void Find_TypeUrlOrFullName_ReturnsGeneratedDescriptor(string typeUrlOrName)
    {
        Assert.Same(Cluster.Descriptor, EnvoyTypeRegistry.Find(typeUrlOrName));
        Assert.True(EnvoyTypeRegistry.IsKnown(typeUrlOrName));
    }

    [Theory]
    [InlineData("type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua")]
    [InlineData("type.googleapis.com/envoy.api.v2.Cluster")]
    [InlineData("")]
    public void Find_TypeAxDoesNotGenerate_ReturnsNull(string typeUrl)
    {
        Assert.Null(EnvoyTypeRegistry.Find(typeUrl));
        Assert.False(EnvoyTypeRegistry.IsKnown(typeUrl));
    }

    [Fact]
    public void Registry_IsBuiltOnce()
    {
        Assert.Same(EnvoyTypeRegistry.Registry, EnvoyTypeRegistry.Registry);
        Assert.Same(EnvoyTypeRegistry.Files, EnvoyTypeRegistry.Files);
    }

    private static string FindUp(string relativePath)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relativePath);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException($"No {relativePath} above {AppContext.BaseDirectory}.");
    }
}
