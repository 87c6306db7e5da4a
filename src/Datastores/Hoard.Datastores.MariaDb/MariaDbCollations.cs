namespace Hoard.Datastores.MariaDb;

/// <summary>
/// The character sets and collations of MariaDB 10.11, as its
/// <c>information_schema.COLLATION_CHARACTER_SET_APPLICABILITY</c> lists them (read from 10.11.19), so the
/// control plane refuses an unknown one before any guest is asked. A collation is named
/// <c>&lt;character set&gt;_&lt;suffix&gt;</c> (<c>binary</c> excepted); the first suffix of each set is its default.
/// </summary>
internal static class MariaDbCollations
{
    /// <summary>MariaDB reads <c>utf8</c> as <c>utf8mb3</c> (old_mode UTF8_IS_UTF8MB3, its default); Trove's defaults use it.</summary>
    private const string Utf8Alias = "utf8";

    private const string LegacyUnicode =
        "general_ci bin unicode_ci icelandic_ci latvian_ci romanian_ci slovenian_ci polish_ci estonian_ci spanish_ci "
        + "swedish_ci turkish_ci czech_ci danish_ci lithuanian_ci slovak_ci spanish2_ci roman_ci persian_ci esperanto_ci "
        + "hungarian_ci sinhala_ci german2_ci croatian_mysql561_ci unicode_520_ci vietnamese_ci croatian_ci myanmar_ci "
        + "thai_520_w2 general_nopad_ci nopad_bin unicode_nopad_ci unicode_520_nopad_ci";

    /// <summary>The tailorings of the Unicode 14 (UCA 14.0.0) collations, each in eight variants.</summary>
    private static readonly string[] Uca1400Languages =
    [
        "icelandic", "latvian", "romanian", "slovenian", "polish", "estonian", "spanish", "swedish", "turkish", "czech",
        "danish", "lithuanian", "slovak", "spanish2", "roman", "persian", "esperanto", "hungarian", "sinhala", "german2",
        "vietnamese", "croatian",
    ];

    private static readonly (string CharacterSet, string Collations)[] SingleByteAndAsian =
    [
        ("armscii8", "general_ci bin general_nopad_ci nopad_bin"),
        ("ascii", "general_ci bin general_nopad_ci nopad_bin"),
        ("big5", "chinese_ci bin chinese_nopad_ci nopad_bin"),
        ("binary", "binary"),
        ("cp1250", "general_ci czech_cs croatian_ci bin polish_ci general_nopad_ci nopad_bin"),
        ("cp1251", "general_ci bulgarian_ci ukrainian_ci bin general_cs nopad_bin general_nopad_ci"),
        ("cp1256", "general_ci bin general_nopad_ci nopad_bin"),
        ("cp1257", "general_ci lithuanian_ci bin nopad_bin general_nopad_ci"),
        ("cp850", "general_ci bin general_nopad_ci nopad_bin"),
        ("cp852", "general_ci bin general_nopad_ci nopad_bin"),
        ("cp866", "general_ci bin general_nopad_ci nopad_bin"),
        ("cp932", "japanese_ci bin japanese_nopad_ci nopad_bin"),
        ("dec8", "swedish_ci bin swedish_nopad_ci nopad_bin"),
        ("eucjpms", "japanese_ci bin japanese_nopad_ci nopad_bin"),
        ("euckr", "korean_ci bin korean_nopad_ci nopad_bin"),
        ("gb2312", "chinese_ci bin chinese_nopad_ci nopad_bin"),
        ("gbk", "chinese_ci bin chinese_nopad_ci nopad_bin"),
        ("geostd8", "general_ci bin general_nopad_ci nopad_bin"),
        ("greek", "general_ci bin general_nopad_ci nopad_bin"),
        ("hebrew", "general_ci bin general_nopad_ci nopad_bin"),
        ("hp8", "english_ci bin english_nopad_ci nopad_bin"),
        ("keybcs2", "general_ci bin general_nopad_ci nopad_bin"),
        ("koi8r", "general_ci bin general_nopad_ci nopad_bin"),
        ("koi8u", "general_ci bin general_nopad_ci nopad_bin"),
        ("latin1", "swedish_ci german1_ci danish_ci german2_ci bin general_ci general_cs spanish_ci swedish_nopad_ci nopad_bin"),
        ("latin2", "general_ci czech_cs hungarian_ci croatian_ci bin general_nopad_ci nopad_bin"),
        ("latin5", "turkish_ci bin turkish_nopad_ci nopad_bin"),
        ("latin7", "general_ci estonian_cs general_cs bin general_nopad_ci nopad_bin"),
        ("macce", "general_ci bin general_nopad_ci nopad_bin"),
        ("macroman", "general_ci bin general_nopad_ci nopad_bin"),
        ("sjis", "japanese_ci bin japanese_nopad_ci nopad_bin"),
        ("swe7", "swedish_ci bin swedish_nopad_ci nopad_bin"),
        ("tis620", "thai_ci bin thai_nopad_ci nopad_bin"),
        ("ujis", "japanese_ci bin japanese_nopad_ci nopad_bin"),
        ("utf16le", "general_ci bin general_nopad_ci nopad_bin"),
    ];

    /// <summary>Character set → its collations (full names), the default first.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> ByCharacterSet { get; } = Build();

    /// <summary>Collation (full name) → its character set.</summary>
    public static IReadOnlyDictionary<string, string> CharacterSetOf { get; } =
        ByCharacterSet.SelectMany(p => p.Value.Select(c => (Collation: c, CharacterSet: p.Key)))
            .ToDictionary(p => p.Collation, p => p.CharacterSet, StringComparer.OrdinalIgnoreCase);

    /// <summary>The character set a name stands for (<c>utf8</c> is <c>utf8mb3</c>), or null when MariaDB has no such set.</summary>
    public static string? ResolveCharacterSet(string name) =>
        string.Equals(name, Utf8Alias, StringComparison.OrdinalIgnoreCase) ? "utf8mb3"
        : ByCharacterSet.ContainsKey(name) ? name.ToLowerInvariant()
        : null;

    /// <summary>The character set of a collation (<c>utf8_*</c> read as <c>utf8mb3_*</c>), or null when MariaDB has no such collation.</summary>
    public static string? CharacterSetOfCollation(string collation)
    {
        if (collation.StartsWith(Utf8Alias + "_", StringComparison.OrdinalIgnoreCase))
        {
            collation = "utf8mb3" + collation[Utf8Alias.Length..];
        }

        return CharacterSetOf.TryGetValue(collation, out var characterSet) ? characterSet : null;
    }

    private static Dictionary<string, IReadOnlyList<string>> Build()
    {
        var unicode = LegacyUnicode.Split(' ').Concat(Uca1400()).ToList();
        var table = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
        foreach (var (characterSet, collations) in SingleByteAndAsian)
        {
            table[characterSet] = Qualify(characterSet, collations.Split(' '));
        }

        foreach (var characterSet in new[] { "ucs2", "utf8mb3" })
        {
            table[characterSet] = Qualify(characterSet, unicode.Append("general_mysql500_ci"));
        }

        foreach (var characterSet in new[] { "utf8mb4", "utf16", "utf32" })
        {
            table[characterSet] = Qualify(characterSet, unicode);
        }

        return table;
    }

    private static List<string> Qualify(string characterSet, IEnumerable<string> suffixes) =>
        [.. suffixes.Select(s => s == "binary" ? s : $"{characterSet}_{s}")];

    private static IEnumerable<string> Uca1400()
    {
        foreach (var language in Uca1400Languages.Prepend(string.Empty))
        {
            var prefix = language.Length == 0 ? "uca1400_" : $"uca1400_{language}_";
            foreach (var pad in new[] { string.Empty, "nopad_" })
            {
                foreach (var accents in new[] { "ai", "as" })
                {
                    foreach (var cases in new[] { "ci", "cs" })
                    {
                        yield return $"{prefix}{pad}{accents}_{cases}";
                    }
                }
            }
        }
    }
}
