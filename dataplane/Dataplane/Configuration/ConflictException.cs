namespace Istio.AppSwitch.Dataplane.Configuration;

/// <summary>
/// A create was valid on its own but collides with existing state (a ref name, or a DNS name, already taken).
/// The REST API answers it with 409 <c>already_exists</c>.
/// </summary>
public sealed class ConflictException : Exception
{
    /// <summary>Creates the exception for the field that collides.</summary>
    public ConflictException(string field, string message)
        : base(message)
    {
        Field = field;
    }

    /// <summary>The field whose value is already taken.</summary>
    public string Field { get; }
}
