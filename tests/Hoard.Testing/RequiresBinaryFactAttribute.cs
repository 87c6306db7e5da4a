using Xunit;

namespace Hoard.Testing;

/// <summary>
/// A fact that needs an external program. Without it the test is skipped with the reason, except under
/// CI=true, where a missing program is a failure: CI installs everything the tests need.
/// </summary>
public sealed class RequiresBinaryFactAttribute : FactAttribute
{
    public RequiresBinaryFactAttribute(params string[] binaries)
    {
        var missing = binaries.Where(b => Binaries.Find(b) is null).ToList();
        if (missing.Count > 0 && !Binaries.InCi)
        {
            Skip = $"needs {string.Join(", ", missing)} on PATH (./test.sh installs it)";
        }
    }
}

public static class Binaries
{
    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The full path of a program on PATH (or in /usr/sbin, /usr/bin), or null.</summary>
    public static string? Find(string name)
    {
        if (name.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(name) ? name : null;
        }

        var path = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Append("/usr/sbin").Append("/usr/bin");
        return path.Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);
    }

    public static string Require(string name) =>
        Find(name) ?? throw new InvalidOperationException($"{name} is not installed; ./test.sh installs it");
}
