using System.Runtime.Versioning;

namespace Istio.AppSwitch.Interop.Tests.Kernel;

[SupportedOSPlatform("linux")]
public sealed class PreparedExecTests
{
    [Fact]
    public void Create_PathArgvEnvironment_LaidOutAsExecveReadsThem()
    {
        string[] argv = ["redis-cli", "-h", "127.96.0.1", "ünïcode ✓", ""];
        string[] environment = ["PATH=/usr/bin:/bin", "AX_TEST=a=b", "EMPTY="];

        using PreparedExec exec = PreparedExec.Create("/usr/bin/redis-cli", argv, environment);
        var (path, readArgv, readEnvironment) = exec.ReadBack();

        Assert.Equal("/usr/bin/redis-cli", exec.Path);
        Assert.Equal("/usr/bin/redis-cli", path);
        Assert.Equal(argv, readArgv);
        Assert.Equal(environment, readEnvironment);
    }

    [Fact]
    public void Create_WithoutEnvironment_PassesThisProcesssEnvironment()
    {
        string[] argv = ["env"];

        using PreparedExec exec = PreparedExec.Create("/usr/bin/env", argv);
        var (_, readArgv, readEnvironment) = exec.ReadBack();

        Assert.Equal(argv, readArgv);
        // libc's environ is what the process started with, which the runtime's view was read from.
        var expected = new List<string>();
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            expected.Add($"{entry.Key}={entry.Value}");
        }
        Assert.Equal(expected.Order(StringComparer.Ordinal), readEnvironment.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Create_EmptyLists_NullTerminatedEmptyArrays()
    {
        using PreparedExec exec = PreparedExec.Create("/bin/true", [], []);
        var (_, argv, environment) = exec.ReadBack();

        Assert.Empty(argv);
        Assert.Empty(environment);
    }

    [Fact]
    public void Execve_MissingPath_ReturnsEnoent()
    {
        using PreparedExec exec = PreparedExec.Create("/nonexistent/ax-interop-test", ["x"], []);

        Assert.Equal(Errno.ENOENT, CurrentProcess.Execve(exec));
    }

    [Fact]
    public void Execve_FileWithoutExecutePermission_ReturnsEacces()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            using PreparedExec exec = PreparedExec.Create(file, ["x"], []);

            // Even root needs an execute bit somewhere to execve a file.
            Assert.Equal(Errno.EACCES, CurrentProcess.Execve(exec));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Create_NulInAnyString_Throws()
    {
        Assert.Throws<ArgumentException>(() => PreparedExec.Create("/bin/\0true", [], []));
        Assert.Throws<ArgumentException>(() => PreparedExec.Create("/bin/true", ["a\0b"], []));
        Assert.Throws<ArgumentException>(() => PreparedExec.Create("/bin/true", [], ["A=\0"]));
    }

    [Fact]
    public void Execve_Disposed_ThrowsObjectDisposed()
    {
        PreparedExec exec = PreparedExec.Create("/nonexistent", [], []);
        exec.Dispose();
        exec.Dispose();

        Assert.Throws<ObjectDisposedException>(() => CurrentProcess.Execve(exec));
    }

    [Fact]
    public void Ids_MatchTheRuntimeView()
    {
        Assert.Equal(Environment.ProcessId, CurrentProcess.GetProcessId());
        Assert.True(CurrentProcess.GetThreadId() > 0);
        // Without the Yama LSM the option does not exist (EINVAL): there is no restriction to lift.
        Assert.Equal(Directory.Exists("/proc/sys/kernel/yama") ? Errno.Success : Errno.EINVAL, CurrentProcess.SetPtracer(0));
    }
}
