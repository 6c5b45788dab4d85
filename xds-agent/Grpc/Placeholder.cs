namespace Istio.AppSwitch.Grpc;
internal static class Placeholder { }
