using System.Runtime.Versioning;

// The plugin runs instances on Linux only (/proc, kill(2), a daemonizing redis-server).
[assembly: SupportedOSPlatform("linux")]
