using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using Istio.AppSwitch.Dataplane.Configuration;

namespace Istio.AppSwitch.Dataplane.Registry;

/// <summary>
/// An immutable set of key/value labels, ordered by key (ordinal), with Kubernetes label syntax: a key is
/// <c>[prefix/]name</c> (name: 1-63 of <c>[A-Za-z0-9-_.]</c>, alphanumeric at both ends; prefix: a lowercase DNS
/// subdomain of at most 253), a value is empty or 1-63 characters of the name alphabet.
/// </summary>
/// <remarks>
/// Lookups are a binary search over a sorted array, so a selector evaluated on the connect path allocates
/// nothing. Keys starting with <c>ax.</c> are reserved for the labels ax sets itself (<see cref="SystemPrefix"/>).
/// </remarks>
public sealed class Labels : IReadOnlyDictionary<string, string>, IEquatable<Labels>
{
    /// <summary>The prefix of the system labels (<c>ax.user</c>, <c>ax.host</c>, <c>ax.app</c>); users cannot set it.</summary>
    public const string SystemPrefix = "ax.";

    /// <summary>The label with the user name of the application's uid.</summary>
    public const string UserKey = "ax.user";

    /// <summary>The label with the host name.</summary>
    public const string HostKey = "ax.host";

    /// <summary>The label with the application's name.</summary>
    public const string AppKey = "ax.app";

    private const int MaxNameLength = 63;
    private const int MaxPrefixLength = 253;

    private readonly string[] _keys;
    private readonly string[] _values;

    private Labels(string[] keys, string[] values)
    {
        _keys = keys;
        _values = values;
    }

    /// <summary>No labels.</summary>
    public static Labels Empty { get; } = new([], []);

    /// <inheritdoc />
    public int Count => _keys.Length;

    /// <inheritdoc />
    public IEnumerable<string> Keys => _keys;

    /// <inheritdoc />
    public IEnumerable<string> Values => _values;

    /// <inheritdoc />
    public string this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"no label '{key}'");

    /// <summary>
    /// Parses <c>k=v[,k=v]</c> (the <c>--labels</c> form); null or empty is no labels. Throws a
    /// <see cref="ValidationException"/> naming <paramref name="field"/> with every bad pair.
    /// </summary>
    public static Labels Parse(string? text, string field = "labels")
    {
        var errors = new List<FieldError>();
        var labels = Parse(text, field, errors);
        ValidationException.ThrowIfAny(errors);
        return labels;
    }

    /// <summary>Parses <c>k=v[,k=v]</c>, adding a problem per bad pair to <paramref name="errors"/>.</summary>
    public static Labels Parse(string? text, string field, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (string.IsNullOrWhiteSpace(text))
        {
            return Empty;
        }
        var pairs = new List<KeyValuePair<string, string>>();
        foreach (var part in text.Split(','))
        {
            var item = part.Trim();
            var eq = item.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0)
            {
                errors.Add(new FieldError(field, $"invalid {field} \"{text}\": \"{item}\" is not of the form key=value"));
                continue;
            }
            pairs.Add(new(item[..eq], item[(eq + 1)..]));
        }
        return Create(pairs, field, errors);
    }

    /// <summary>
    /// Builds a label set from pairs, validating every key and value. Throws a <see cref="ValidationException"/>
    /// naming <paramref name="field"/> with every problem.
    /// </summary>
    public static Labels Create(IEnumerable<KeyValuePair<string, string>> pairs, string field = "labels")
    {
        var errors = new List<FieldError>();
        var labels = Create(pairs, field, errors);
        ValidationException.ThrowIfAny(errors);
        return labels;
    }

    /// <summary>Builds a label set from pairs, adding a problem per bad key, value or duplicate to <paramref name="errors"/>.</summary>
    public static Labels Create(IEnumerable<KeyValuePair<string, string>> pairs, string field, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        ArgumentNullException.ThrowIfNull(errors);
        var sorted = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var before = errors.Count;
        foreach (var (key, value) in pairs)
        {
            if (!IsValidKey(key, out var keyProblem))
            {
                errors.Add(new FieldError(field, $"invalid {field} key \"{key}\": {keyProblem}"));
                continue;
            }
            if (!IsValidValue(value, out var valueProblem))
            {
                errors.Add(new FieldError(field, $"invalid {field} value \"{value}\" for key \"{key}\": {valueProblem}"));
                continue;
            }
            if (!sorted.TryAdd(key, value))
            {
                errors.Add(new FieldError(field, $"invalid {field}: key \"{key}\" is given twice"));
            }
        }
        return errors.Count > before ? Empty : FromSorted(sorted);
    }

    /// <summary>
    /// Rejects the reserved <c>ax.</c> keys in a user-supplied set, adding a problem per key to <paramref name="errors"/>.
    /// </summary>
    public static void RejectSystemKeys(Labels labels, string field, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(errors);
        foreach (var key in labels._keys)
        {
            if (key.StartsWith(SystemPrefix, StringComparison.Ordinal))
            {
                errors.Add(new FieldError(field, $"invalid {field} key \"{key}\": keys starting with \"{SystemPrefix}\" are set by ax itself"));
            }
        }
    }

    /// <summary>Returns a copy where <paramref name="overrides"/> replace or add keys. Values are not re-validated.</summary>
    internal Labels With(IEnumerable<KeyValuePair<string, string>> overrides)
    {
        var sorted = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < _keys.Length; i++)
        {
            sorted[_keys[i]] = _values[i];
        }
        foreach (var (key, value) in overrides)
        {
            sorted[key] = value;
        }
        return FromSorted(sorted);
    }

    /// <summary>True when <paramref name="key"/> is a valid label key; otherwise <paramref name="problem"/> says why.</summary>
    public static bool IsValidKey(string? key, [NotNullWhen(false)] out string? problem)
    {
        if (string.IsNullOrEmpty(key))
        {
            problem = "a key must not be empty";
            return false;
        }
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        var name = key;
        if (slash >= 0)
        {
            var prefix = key[..slash];
            name = key[(slash + 1)..];
            if (!IsDnsSubdomain(prefix, MaxPrefixLength, lowercaseOnly: true))
            {
                problem = $"the prefix \"{prefix}\" must be a lowercase DNS subdomain of at most {MaxPrefixLength} characters";
                return false;
            }
        }
        if (name.Length == 0)
        {
            problem = "the name part must not be empty";
            return false;
        }
        return IsValidName(name, out problem);
    }

    /// <summary>True when <paramref name="value"/> is a valid label value (empty is valid).</summary>
    public static bool IsValidValue(string? value, [NotNullWhen(false)] out string? problem)
    {
        if (value is null)
        {
            problem = "a value must not be null";
            return false;
        }
        if (value.Length == 0)
        {
            problem = null;
            return true;
        }
        return IsValidName(value, out problem);
    }

    /// <summary>
    /// Makes any text a valid label value: characters outside the alphabet become <c>-</c>, the ends are trimmed to
    /// alphanumerics, and it is cut to 63. Used for system labels from outside sources (a host or user name).
    /// </summary>
    public static string SanitizeValue(string? text, string fallback)
    {
        if (string.IsNullOrEmpty(text))
        {
            return fallback;
        }
        var builder = new StringBuilder(Math.Min(text.Length, MaxNameLength));
        foreach (var c in text)
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '-');
            if (builder.Length == MaxNameLength)
            {
                break;
            }
        }
        var value = builder.ToString().Trim('-', '_', '.');
        return value.Length == 0 ? fallback : value;
    }

    /// <summary>True when <paramref name="text"/> is a DNS subdomain (RFC 1123 labels joined by dots) of at most <paramref name="maxLength"/>.</summary>
    internal static bool IsDnsSubdomain(string text, int maxLength, bool lowercaseOnly)
    {
        if (text.Length == 0 || text.Length > maxLength)
        {
            return false;
        }
        foreach (var label in text.Split('.'))
        {
            if (label.Length is 0 or > MaxNameLength
                || !char.IsAsciiLetterOrDigit(label[0]) || !char.IsAsciiLetterOrDigit(label[^1]))
            {
                return false;
            }
            foreach (var c in label)
            {
                var ok = c == '-' || char.IsAsciiDigit(c) || (lowercaseOnly ? char.IsAsciiLetterLower(c) : char.IsAsciiLetter(c));
                if (!ok)
                {
                    return false;
                }
            }
        }
        return true;
    }

    private static bool IsValidName(string name, [NotNullWhen(false)] out string? problem)
    {
        if (name.Length > MaxNameLength)
        {
            problem = $"must be at most {MaxNameLength} characters (it is {name.Length})";
            return false;
        }
        if (!char.IsAsciiLetterOrDigit(name[0]) || !char.IsAsciiLetterOrDigit(name[^1]))
        {
            problem = "must begin and end with a letter or digit";
            return false;
        }
        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_' or '.'))
            {
                problem = $"'{c}' is not allowed (letters, digits, '-', '_' and '.' are)";
                return false;
            }
        }
        problem = null;
        return true;
    }

    private static Labels FromSorted(SortedDictionary<string, string> sorted)
    {
        if (sorted.Count == 0)
        {
            return Empty;
        }
        var keys = new string[sorted.Count];
        var values = new string[sorted.Count];
        var i = 0;
        foreach (var (key, value) in sorted)
        {
            keys[i] = key;
            values[i] = value;
            i++;
        }
        return new Labels(keys, values);
    }

    /// <summary>Looks a key up by binary search; allocates nothing.</summary>
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out string value)
    {
        var index = IndexOf(key);
        if (index >= 0)
        {
            value = _values[index];
            return true;
        }
        value = null;
        return false;
    }

    /// <inheritdoc />
    public bool ContainsKey(string key) => IndexOf(key) >= 0;

    private int IndexOf(string key)
    {
        int lo = 0, hi = _keys.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var c = string.CompareOrdinal(_keys[mid], key);
            if (c == 0)
            {
                return mid;
            }
            if (c < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return -1;
    }

    /// <summary>Enumerates the labels in key order.</summary>
    public IEnumerator<KeyValuePair<string, string>> GetEnumerator()
    {
        for (var i = 0; i < _keys.Length; i++)
        {
            yield return new(_keys[i], _values[i]);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>The <c>k=v,k=v</c> form, in key order; empty for no labels.</summary>
    public override string ToString()
    {
        var builder = new StringBuilder();
        for (var i = 0; i < _keys.Length; i++)
        {
            if (i > 0)
            {
                builder.Append(',');
            }
            builder.Append(_keys[i]).Append('=').Append(_values[i]);
        }
        return builder.ToString();
    }

    /// <inheritdoc />
    public bool Equals(Labels? other) =>
        other is not null && _keys.AsSpan().SequenceEqual(other._keys) && _values.AsSpan().SequenceEqual(other._values);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as Labels);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        for (var i = 0; i < _keys.Length; i++)
        {
            hash.Add(_keys[i], StringComparer.Ordinal);
            hash.Add(_values[i], StringComparer.Ordinal);
        }
        return hash.ToHashCode();
    }
}
