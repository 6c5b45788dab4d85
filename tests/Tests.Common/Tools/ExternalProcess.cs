using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Threading.Channels;

namespace Istio.AppSwitch.Tests.Common.Tools;

/// <summary>
/// A child process for a test: its standard output is read line by line, both streams are kept for assertions
/// and failure messages, and disposing kills it with its whole tree. Standard input stays open as a lifeline:
/// the interop scripts exit when it closes, so a test host that dies does not leave them behind.
/// </summary>
public sealed class ExternalProcess : IDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _error = new();
    private readonly Lock _gate = new();

    private ExternalProcess(Process process) => _process = process;

    /// <summary>The process id.</summary>
    public int Id => _process.Id;

    /// <summary>True once the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Standard output so far.</summary>
    public string Stdout
    {
        get
        {
            lock (_gate)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Standard error so far.</summary>
    public string Stderr
    {
        get
        {
            lock (_gate)
            {
                return _error.ToString();
            }
        }
    }

    /// <summary>Everything written to standard output and standard error so far, for assertion messages.</summary>
    public string Output => $"stdout:\n{Stdout}\nstderr:\n{Stderr}";

    /// <summary>Starts <paramref name="fileName"/> with <paramref name="arguments"/>.</summary>
    /// <param name="fileName">The program.</param>
    /// <param name="arguments">Its arguments, passed as they are (no shell).</param>
    /// <param name="workingDirectory">Its working directory; the test's when null.</param>
    /// <param name="environment">Variables added to (or replacing those of) the test's environment.</param>
    public static ExternalProcess Start(string fileName, IEnumerable<string> arguments, string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory ?? "",
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            startInfo.Environment[key] = value;
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var external = new ExternalProcess(process);
        process.OutputDataReceived += (_, e) => external.OnOutput(e.Data);
        process.ErrorDataReceived += (_, e) => external.OnError(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return external;
    }

    /// <summary>Runs a command to completion, with standard input closed, and returns how it ended.</summary>
    /// <exception cref="TimeoutException">It ran longer than <paramref name="timeout"/> (it is killed).</exception>
    public static async Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout,
        string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        using var process = Start(fileName, arguments, workingDirectory, environment);
        process._process.StandardInput.Close();
        var exitCode = await process.WaitForExitAsync(timeout).ConfigureAwait(false);
        return new ProcessResult(exitCode, process.Stdout, process.Stderr);
    }

    /// <summary>The next line of standard output.</summary>
    /// <exception cref="InvalidOperationException">The process ended first.</exception>
    /// <exception cref="TimeoutException">No line came within <paramref name="timeout"/>.</exception>
    public async Task<string> ReadLineAsync(TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            if (await _lines.Reader.WaitToReadAsync(cancellation.Token).ConfigureAwait(false) &&
                _lines.Reader.TryRead(out var line))
            {
                return line;
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No output from {_process.StartInfo.FileName} within {timeout}.\n{Output}");
        }

        throw new InvalidOperationException($"{_process.StartInfo.FileName} ended without the expected output.\n{Output}");
    }

    /// <summary>Waits until standard output or standard error contains <paramref name="text"/>.</summary>
    /// <exception cref="TimeoutException">It did not appear in time, or the process exited first.</exception>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Stdout.Contains(text, StringComparison.Ordinal) && !Stderr.Contains(text, StringComparison.Ordinal))
        {
            if (HasExited || DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"\"{text}\" did not appear from {_process.StartInfo.FileName} (exited: {HasExited}).\n{Output}");
            }
            await Task.Delay(20).ConfigureAwait(false);
        }
    }

    /// <summary>Waits for the process to exit and returns its exit code; kills it after <paramref name="timeout"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancellation.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw new TimeoutException($"{_process.StartInfo.FileName} {string.Join(' ', _process.StartInfo.ArgumentList)} did not exit within {timeout}.\n{Output}");
        }

        // WaitForExitAsync also waits for the end of the redirected streams, so Output is complete here.
        return _process.ExitCode;
    }

    /// <summary>Sends <paramref name="signal"/> (SIGTERM by default) to the process alone, not its tree.</summary>
    /// <remarks>.NET can only SIGKILL; kill(1) keeps unsafe code out of the test projects.</remarks>
    public void Signal(string signal = "TERM")
    {
        if (!_process.HasExited)
        {
            using var kill = Process.Start(new ProcessStartInfo("kill", ["-s", signal, _process.Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false });
            kill?.WaitForExit();
        }
    }

    /// <summary>Kills the process and its whole tree, and waits for it.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // It exited between the check and the kill.
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    private void OnOutput(string? line)
    {
        if (line is null)
        {
            _lines.Writer.TryComplete();
            return;
        }

        lock (_gate)
        {
            _output.AppendLine(line);
        }

        _lines.Writer.TryWrite(line);
    }

    private void OnError(string? line)
    {
        if (line is not null)
        {
            lock (_gate)
            {
                _error.AppendLine(line);
            }
        }
    }
}

/// <summary>How a command ended.</summary>
/// <param name="ExitCode">Its exit code.</param>
/// <param name="Stdout">Its standard output.</param>
/// <param name="Stderr">Its standard error.</param>
public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr)
{
    /// <inheritdoc />
    public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}
