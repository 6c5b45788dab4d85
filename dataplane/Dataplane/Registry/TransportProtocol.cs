namespace Istio.AppSwitch.Dataplane.Registry;

/// <summary>The transport of a registered service.</summary>
public enum TransportProtocol
{
    /// <summary>A listening TCP socket.</summary>
    Tcp,

    /// <summary>A bound UDP socket.</summary>
    Udp,
}
