using System.Runtime.Versioning;

// The plugin runs instances on Linux only (/proc, kill(2), setsid, setpriv).
[assembly: SupportedOSPlatform("linux")]
