using System.Diagnostics.CodeAnalysis;
using Istio.AppSwitch.Dataplane.Registry;

namespace Istio.AppSwitch.Dataplane.Policy;

/// <summary>How a <see cref="LabelRequirement"/> tests a label.</summary>
public enum LabelOperator
{
    /// <summary><c>k=v</c> or <c>k==v</c>: the label is present with that value.</summary>
    Equals,

    /// <summary><c>k!=v</c>: the label is absent or has another value (as in Kubernetes).</summary>
    NotEquals,

    /// <summary><c>k</c>: the label is present, with any value.</summary>
    Exists,

    /// <summary><c>!k</c>: the label is absent.</summary>
    DoesNotExist,
}

/// <summary>One term of a <see cref="LabelSelector"/>.</summary>
/// <param name="Key">The label key.</param>
/// <param name="Operator">The test.</param>
/// <param name="Value">The value for <see cref="LabelOperator.Equals"/> and <see cref="LabelOperator.NotEquals"/>; empty otherwise.</param>
public readonly record struct LabelRequirement(string Key, LabelOperator Operator, string Value)
{
    /// <summary>Tests one label set; allocates nothing.</summary>
    public bool Matches(Labels labels)
    {
        var present = labels.TryGetValue(Key, out var actual);
        return Operator switch
        {
            LabelOperator.Equals => present && string.Equals(actual, Value, StringComparison.Ordinal),
            LabelOperator.NotEquals => !present || !string.Equals(actual, Value, StringComparison.Ordinal),
            LabelOperator.Exists => present,
            _ => !present,
        };
    }

    /// <summary>The requirement in selector syntax.</summary>
    public override string ToString() => Operator switch
    {
        LabelOperator.Equals => $"{Key}={Value}",
        LabelOperator.NotEquals => $"{Key}!={Value}",
        LabelOperator.Exists => Key,
        _ => $"!{Key}",
    };
}

/// <summary>
/// A Kubernetes-style equality-based label selector: comma-separated requirements, all of which must hold.
/// Supports <c>k=v</c>, <c>k==v</c>, <c>k!=v</c>, <c>k</c> (exists) and <c>!k</c> (does not exist); the set-based
/// forms (<c>in</c>, <c>notin</c>) are not supported. The empty selector matches everything.
/// </summary>
public sealed class LabelSelector : IEquatable<LabelSelector>
{
    private readonly LabelRequirement[] _requirements;

    private LabelSelector(LabelRequirement[] requirements)
    {
        _requirements = requirements;
        Text = string.Join(',', requirements.Select(r => r.ToString()));
    }

    /// <summary>The selector that matches every label set.</summary>
    public static LabelSelector Everything { get; } = new([]);

    /// <summary>The requirements in canonical order (by key, then operator).</summary>
    public IReadOnlyList<LabelRequirement> Requirements => _requirements;

    /// <summary>True for the selector that matches everything.</summary>
    public bool IsEmpty => _requirements.Length == 0;

    /// <summary>
    /// How specific the selector is: the number of requirements. When several refs share a VIP, the most specific
    /// one whose client selector matches wins.
    /// </summary>
    public int Specificity => _requirements.Length;

    /// <summary>The canonical text: requirements sorted by key and joined by commas.</summary>
    public string Text { get; }

    /// <summary>
    /// Parses a selector. Null or blank text is the empty selector. Returns false with a message that quotes the
    /// bad term when the text does not parse.
    /// </summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out LabelSelector? selector, [NotNullWhen(false)] out string? problem)
    {
        selector = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            selector = Everything;
            problem = null;
            return true;
        }
        var requirements = new List<LabelRequirement>();
        foreach (var part in text.Split(','))
        {
            var term = part.Trim();
            if (!TryParseTerm(term, out var requirement, out problem))
            {
                return false;
            }
            requirements.Add(requirement);
        }
        requirements.Sort(static (a, b) =>
        {
            var c = string.CompareOrdinal(a.Key, b.Key);
            if (c == 0)
            {
                c = a.Operator.CompareTo(b.Operator);
            }
            return c != 0 ? c : string.CompareOrdinal(a.Value, b.Value);
        });
        selector = new LabelSelector(requirements.Distinct().ToArray());
        problem = null;
        return true;
    }

    private static bool TryParseTerm(string term, out LabelRequirement requirement, [NotNullWhen(false)] out string? problem)
    {
        requirement = default;
        if (term.Length == 0)
        {
            problem = "empty requirement (two commas in a row, or a comma at an end)";
            return false;
        }
        if (term.Contains(" in ", StringComparison.Ordinal) || term.Contains(" notin ", StringComparison.Ordinal) || term.Contains('('))
        {
            problem = $"\"{term}\": set-based requirements (in, notin) are not supported; use k=v, k!=v, k or !k";
            return false;
        }

        string key, value = "";
        LabelOperator op;
        var ne = term.IndexOf("!=", StringComparison.Ordinal);
        var eq = term.IndexOf('=', StringComparison.Ordinal);
        if (ne >= 0)
        {
            op = LabelOperator.NotEquals;
            key = term[..ne].Trim();
            value = term[(ne + 2)..].Trim();
        }
        else if (eq >= 0)
        {
            op = LabelOperator.Equals;
            key = term[..eq].Trim();
            var rest = term[(eq + 1)..];
            value = (rest.StartsWith('=') ? rest[1..] : rest).Trim();
        }
        else if (term.StartsWith('!'))
        {
            op = LabelOperator.DoesNotExist;
            key = term[1..].Trim();
        }
        else
        {
            op = LabelOperator.Exists;
            key = term;
        }

        if (!Labels.IsValidKey(key, out var keyProblem))
        {
            problem = $"\"{term}\": invalid key \"{key}\": {keyProblem}";
            return false;
        }
        if (!Labels.IsValidValue(value, out var valueProblem))
        {
            problem = $"\"{term}\": invalid value \"{value}\": {valueProblem}";
            return false;
        }
        requirement = new LabelRequirement(key, op, value);
        problem = null;
        return true;
    }

    /// <summary>True when every requirement holds for <paramref name="labels"/>. On the connect path: allocates nothing.</summary>
    public bool Matches(Labels labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        foreach (var requirement in _requirements)
        {
            if (!requirement.Matches(labels))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>The canonical text (see <see cref="Text"/>).</summary>
    public override string ToString() => Text;

    /// <inheritdoc />
    public bool Equals(LabelSelector? other) => other is not null && string.Equals(Text, other.Text, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as LabelSelector);

    /// <inheritdoc />
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Text);
}
