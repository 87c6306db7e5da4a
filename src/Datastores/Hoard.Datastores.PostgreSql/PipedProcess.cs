using System.Diagnostics;
using System.Text;

namespace Hoard.Datastores.PostgreSql;

/// <summary>
/// A program whose stdin or stdout carries a whole backup: the caller streams through <see cref="Input"/> and
/// <see cref="Output"/> (nothing is buffered here), while stderr is drained in the background and its tail kept
/// for the error message. Disposing kills the process tree if it is still running.
/// </summary>
internal sealed class PipedProcess : IDisposable
{
    private const int ErrorTailChars = 16 * 1024;

    private readonly Process _process;
    private readonly Task<string> _errors;

    private PipedProcess(Process process)
    {
        _process = process;
        _errors = DrainAsync(process.StandardError);
    }

    public string Name => Path.GetFileName(_process.StartInfo.FileName);

    /// <summary>The program's stdin; close it (dispose) to end the input.</summary>
    public Stream Input => _process.StandardInput.BaseStream;

    /// <summary>The program's stdout.</summary>
    public Stream Output => _process.StandardOutput.BaseStream;

    /// <summary>Starts <paramref name="command"/> (program first) with a clean environment, as <see cref="ChildProcess"/> does.</summary>
    public static PipedProcess Start(IReadOnlyList<string> command, string workingDirectory)
    {
        var start = new ProcessStartInfo(command[0])
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory,
        };
        foreach (var arg in command.Skip(1))
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Clear();
        start.Environment["PATH"] = "/usr/bin:/bin:/usr/sbin:/sbin";
        start.Environment["LC_ALL"] = "C.UTF-8";
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {command[0]}");
        return new PipedProcess(process);
    }

    /// <summary>Waits for the program to exit; returns its exit code and the tail of its stderr.</summary>
    public async Task<(int ExitCode, string Errors)> WaitAsync(CancellationToken cancellationToken)
    {
        await _process.WaitForExitAsync(cancellationToken);
        return (_process.ExitCode, (await _errors).Trim());
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Exited in the meantime.
        }

        _process.Dispose();
    }

    private static async Task<string> DrainAsync(StreamReader reader)
    {
        var tail = new StringBuilder();
        var buffer = new char[4096];
        try
        {
            int read;
            while ((read = await reader.ReadAsync(buffer, CancellationToken.None)) > 0)
            {
                tail.Append(buffer, 0, read);
                if (tail.Length > ErrorTailChars)
                {
                    tail.Remove(0, tail.Length - ErrorTailChars);
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The process was killed; what was read is what there is.
        }

        return tail.ToString();
    }
}
