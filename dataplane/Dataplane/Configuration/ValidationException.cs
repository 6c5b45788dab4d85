namespace Istio.AppSwitch.Dataplane.Configuration;

/// <summary>
/// A request or configuration object was rejected. Carries every problem found, not only the first: validation
/// runs to the end before it throws (as YARP's <c>ConfigValidator</c> does), so a user fixes everything at once.
/// Nothing was changed.
/// </summary>
public sealed class ValidationException : Exception
{
    /// <summary>Creates the exception from at least one error.</summary>
    public ValidationException(IReadOnlyList<FieldError> errors)
        : base(Summarize(errors))
    {
        Errors = errors;
    }

    /// <summary>Creates the exception for a single field.</summary>
    public ValidationException(string field, string message)
        : this([new FieldError(field, message)])
    {
    }

    /// <summary>Every problem, in the order the fields were checked.</summary>
    public IReadOnlyList<FieldError> Errors { get; }

    /// <summary>Throws when <paramref name="errors"/> holds anything.</summary>
    public static void ThrowIfAny(List<FieldError> errors)
    {
        if (errors.Count > 0)
        {
            throw new ValidationException(errors.ToArray());
        }
    }

    private static string Summarize(IReadOnlyList<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (errors.Count == 0)
        {
            throw new ArgumentException("a validation exception needs at least one error", nameof(errors));
        }
        return errors.Count == 1 ? errors[0].Message : string.Join("; ", errors.Select(e => e.Message));
    }
}
