namespace Istio.AppSwitch.Dataplane.Configuration;

/// <summary>One problem with one field of a request or a configuration object.</summary>
/// <param name="Field">The field as the user spelled it (<c>vip</c>, <c>selector</c>, <c>labels</c>).</param>
/// <param name="Message">A complete sentence that quotes the bad value, e.g. <c>invalid vip "x": ...</c>.</param>
public sealed record FieldError(string Field, string Message);
