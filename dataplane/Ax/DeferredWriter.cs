using System.Text;

namespace Istio.AppSwitch.Ax;

/// <summary>
/// A writer that opens its target on first use. <c>ax run</c> writes to stderr only when it fails, and opening
/// <see cref="Console.Error"/> (the console's encoding, its stream and its writer) costs about 5 ms of every
/// application's start-up.
/// </summary>
internal sealed class DeferredWriter(Func<TextWriter> open) : TextWriter
{
    private readonly Lazy<TextWriter> _target = new(open, LazyThreadSafetyMode.None);

    public override Encoding Encoding => _target.Value.Encoding;

    public override void Write(char value) => _target.Value.Write(value);

    public override void Write(char[] buffer, int index, int count) => _target.Value.Write(buffer, index, count);

    public override void Write(string? value) => _target.Value.Write(value);

    public override void WriteLine() => _target.Value.WriteLine();

    public override void WriteLine(string? value) => _target.Value.WriteLine(value);

    public override void Flush()
    {
        if (_target.IsValueCreated)
        {
            _target.Value.Flush();
        }
    }
}
