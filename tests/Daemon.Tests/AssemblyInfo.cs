using System.Runtime.Versioning;

// The daemon, its socket modes and SO_PEERCRED are Linux's; so are these tests.
[assembly: SupportedOSPlatform("linux")]
