using System.Runtime.InteropServices;
using System.Text;

namespace Istio.AppSwitch.Interop;

/// <summary>
/// A path, argv and envp laid out in native memory ahead of time, for <see cref="CurrentProcess.Execve"/>:
/// between installing a seccomp filter and execve, `ax run` must neither allocate managed memory (a GC or a
/// runtime call could make a trapped syscall, or block on a thread the filter stalls) nor make a trapped call.
/// Creating the first instance also runs the execve path once, with an empty path that fails with ENOENT, so
/// that the P/Invoke stub is compiled and bound before it matters.
/// </summary>
public sealed unsafe class PreparedExec : IDisposable
{
    private static readonly Lock WarmUpGate = new();
    private static bool _warmedUp;

    private byte* _block;

    private PreparedExec(string path, byte* block, byte* pathPointer, byte** argv, byte** envp)
    {
        Path = path;
        _block = block;
        PathPointer = pathPointer;
        ArgvPointer = argv;
        EnvironmentPointer = envp;
    }

    /// <summary>The program path passed to execve (not searched in PATH).</summary>
    public string Path { get; }

    internal byte* PathPointer { get; }

    internal byte** ArgvPointer { get; }

    internal byte** EnvironmentPointer { get; }

    internal bool IsDisposed => _block is null;

    /// <summary>
    /// Lays out <paramref name="path"/>, <paramref name="argv"/> (argv[0] included: by convention the program
    /// name) and <paramref name="environment"/> ("NAME=value" strings) as NUL-terminated UTF-8 strings and
    /// NULL-terminated pointer arrays, in one native block.
    /// </summary>
    /// <exception cref="ArgumentException">A string contains a NUL character.</exception>
    public static PreparedExec Create(string path, IReadOnlyList<string> argv, IReadOnlyList<string> environment)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(argv);
        ArgumentNullException.ThrowIfNull(environment);

        PreparedExec exec = Build(path, argv, environment);
        WarmUp();
        return exec;
    }

    /// <summary>
    /// As <see cref="Create(string, IReadOnlyList{string}, IReadOnlyList{string})"/>, with this process's own
    /// environment: libc's <c>environ</c>, passed on byte for byte as <c>execvp</c> does. That spares copying the
    /// environment through managed strings (1 to 2 ms of <c>ax run</c>'s start-up), and keeps variables that
    /// are not valid UTF-8 or have no <c>=</c> as they were. The runtime never changes <c>environ</c>
    /// (<see cref="Environment.SetEnvironmentVariable(string, string)"/> changes only the managed copy), and ax
    /// calls no native code that would.
    /// </summary>
    /// <exception cref="ArgumentException">A string contains a NUL character.</exception>
    /// <exception cref="EntryPointNotFoundException">libc exports no <c>environ</c>.</exception>
    public static PreparedExec Create(string path, IReadOnlyList<string> argv)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(argv);

        PreparedExec exec = Build(path, argv, [], Interop.Sys.GetEnviron());
        WarmUp();
        return exec;
    }

    /// <summary>Reads the native strings back (for tests): the path, argv and envp as execve will see them.</summary>
    internal (string Path, string[] Argv, string[] Environment) ReadBack()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        return (Marshal.PtrToStringUTF8((nint)PathPointer)!, ReadArray(ArgvPointer), ReadArray(EnvironmentPointer));

        static string[] ReadArray(byte** array)
        {
            var strings = new List<string>();
            for (byte** entry = array; *entry is not null; entry++)
            {
                strings.Add(Marshal.PtrToStringUTF8((nint)(*entry))!);
            }

            return [.. strings];
        }
    }

    /// <summary>Frees the native block. Not thread-safe with a concurrent <see cref="CurrentProcess.Execve"/>.</summary>
    public void Dispose()
    {
        byte* block = _block;
        _block = null;
        if (block is not null)
        {
            NativeMemory.Free(block);
        }
    }

    private static PreparedExec Build(string path, IReadOnlyList<string> argv, IReadOnlyList<string> environment, byte** inheritedEnvironment = null)
    {
        int pointerBytes = (argv.Count + 1 + environment.Count + 1) * sizeof(byte*);
        nuint size = (nuint)pointerBytes + StringSize(path, nameof(path));
        foreach (string argument in argv)
        {
            size += StringSize(argument, nameof(argv));
        }

        foreach (string variable in environment)
        {
            size += StringSize(variable, nameof(environment));
        }

        var block = (byte*)NativeMemory.Alloc(size);
        var pointers = (byte**)block;
        byte* strings = block + pointerBytes;
        byte* end = block + size;

        byte* pathPointer = Append(path, ref strings, end);
        byte** argvPointer = pointers;
        for (int i = 0; i < argv.Count; i++)
        {
            argvPointer[i] = Append(argv[i], ref strings, end);
        }

        argvPointer[argv.Count] = null;
        byte** envp = argvPointer + argv.Count + 1;
        for (int i = 0; i < environment.Count; i++)
        {
            envp[i] = Append(environment[i], ref strings, end);
        }

        envp[environment.Count] = null;
        return new PreparedExec(path, block, pathPointer, argvPointer, inheritedEnvironment is null ? envp : inheritedEnvironment);
    }

    private static nuint StringSize(string value, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(value, parameterName);
        if (value.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("execve strings cannot contain NUL characters.", parameterName);
        }

        return (nuint)Encoding.UTF8.GetByteCount(value) + 1;
    }

    private static byte* Append(string value, ref byte* cursor, byte* end)
    {
        byte* start = cursor;
        int written = Encoding.UTF8.GetBytes(value, new Span<byte>(cursor, (int)(end - cursor)));
        cursor[written] = 0;
        cursor += written + 1;
        return start;
    }

    private static void WarmUp()
    {
        lock (WarmUpGate)
        {
            if (_warmedUp)
            {
                return;
            }

            // execve("") always fails with ENOENT before anything happens to the process.
            using PreparedExec empty = Build(string.Empty, [], []);
            _ = CurrentProcess.Execve(empty);
            _warmedUp = true;
        }
    }
}
