namespace Hoard.Datastores.Redis.Tests.Support;

/// <summary>
/// A fact that needs real programs: skipped with the reason when one is missing, except under
/// CI=true, where it runs and fails (a CI machine without redis-server must not pass by skipping).
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class RequiresBinaryFactAttribute : FactAttribute
{
    public RequiresBinaryFactAttribute(params string[] binaries)
    {
        Binaries = binaries;
        var missing = binaries.Where(binary => TestBinaries.Find(binary) is null).ToList();
        if (missing.Count > 0 && !TestBinaries.IsCi)
        {
            Skip = $"{string.Join(" and ", missing)} not installed (apt-get install redis-server); set CI=true to make this a failure";
        }
    }

    public IReadOnlyList<string> Binaries { get; }
}
