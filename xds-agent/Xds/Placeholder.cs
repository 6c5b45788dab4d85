namespace Istio.AppSwitch.Xds;
internal static class Placeholder { }
