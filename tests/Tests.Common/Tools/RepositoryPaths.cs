namespace Istio.AppSwitch.Tests.Common.Tools;

/// <summary>Paths in the source tree, found from the test binaries' location.</summary>
public static class RepositoryPaths
{
    private static readonly Lazy<string> LazyRoot = new(FindRoot);

    /// <summary>The repository root: the nearest directory above the test binaries holding Istio.AppSwitch.sln.</summary>
    public static string Root => LazyRoot.Value;

    /// <summary>A path under the repository root.</summary>
    public static string Combine(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Istio.AppSwitch.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Istio.AppSwitch.sln above {AppContext.BaseDirectory}.");
    }
}
