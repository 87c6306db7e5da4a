using System.Runtime.InteropServices;

namespace Hoard.Abstractions.Processes;

/// <summary>
/// Signals a process by pid with kill(2). Engine servers run in sessions of their own, not as the agent's
/// children, so a pid is all the agent has of them.
/// </summary>
public static partial class Signals
{
    public const int SigHup = 1;
    public const int SigInt = 2;
    public const int SigQuit = 3;
    public const int SigKill = 9;
    public const int SigTerm = 15;
    public const int SigStop = 19;

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>; false when the process is already gone.</summary>
    public static bool Send(int pid, int signal) => Kill(pid, signal) == 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
