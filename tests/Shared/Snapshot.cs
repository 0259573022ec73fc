using System.Text;
using DiffPlex;
using DiffPlex.DiffBuilder;
using DiffPlex.DiffBuilder.Model;
using Xunit;

namespace ViTCompiler.Testing;

/// <summary>
/// Compares text against a reviewed copy checked in beside the test project, as
/// <c>&lt;folder&gt;/&lt;name&gt;.verified&lt;extension&gt;</c>. On a mismatch the actual text is written beside it as
/// <c>&lt;name&gt;.received&lt;extension&gt;</c> (git-ignored) and the test fails with a line diff. With
/// <c>VIT_ACCEPT_SNAPSHOTS=1</c> the verified file is overwritten instead: review the change with <c>git diff</c>, then
/// commit it. Used for the generator's emitted code and for the public API baselines (compiled into both test projects).
/// </summary>
internal static class Snapshot
{
    public const string AcceptVariable = "VIT_ACCEPT_SNAPSHOTS";
    private const int ContextLines = 3;
    private const int MaxDiffLines = 150;

    /// <param name="actual">The text to check.</param>
    /// <param name="name">The snapshot's name: the file name without <c>.verified</c> and the extension.</param>
    /// <param name="folder">Folder of the snapshots, relative to the test project's directory.</param>
    /// <param name="extension">Extension of the snapshot files, e.g. <c>.cs</c> so generated code reads as C#.</param>
    public static void Match(string actual, string name, string folder, string extension)
    {
        string directory = Path.Combine(ProjectDirectory(), folder);
        if (!Directory.Exists(directory))
            throw new InvalidOperationException($"Snapshot folder '{directory}' not found; create it, or fix the folder the test passes.");

        string verifiedPath = Path.Combine(directory, name + ".verified" + extension);
        string receivedPath = Path.Combine(directory, name + ".received" + extension);
        actual = Normalize(actual);

        if (Environment.GetEnvironmentVariable(AcceptVariable) == "1")
        {
            File.WriteAllText(verifiedPath, actual);
            File.Delete(receivedPath);
            return;
        }

        if (!File.Exists(verifiedPath))
        {
            File.WriteAllText(receivedPath, actual);
            Assert.Fail($"No snapshot '{verifiedPath}' yet. The output was written to '{receivedPath}'; review it, then run with {AcceptVariable}=1 to accept it.");
        }

        string expected = Normalize(File.ReadAllText(verifiedPath));
        if (expected == actual)
        {
            File.Delete(receivedPath);
            return;
        }

        File.WriteAllText(receivedPath, actual);
        Assert.Fail(
            $"'{name}' differs from its snapshot {verifiedPath}. Actual: {receivedPath}\n" +
            $"If the change is intended, run the test again with {AcceptVariable}=1 (or copy the received file over the verified one), review the diff in git and commit it.\n\n" +
            UnifiedDiff(expected, actual, name + ".verified" + extension, name + ".received" + extension));
    }

    /// <summary>
    /// The test project's directory: the nearest folder above the test assembly (bin/&lt;configuration&gt;/&lt;tfm&gt;/)
    /// that holds a project file. Found from the assembly rather than from [CallerFilePath], which CI builds map to /_/.
    /// </summary>
    private static string ProjectDirectory()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (dir.EnumerateFiles("*.csproj").Any()) return dir.FullName;
        throw new InvalidOperationException(
            $"No project file above the test assembly's folder '{AppContext.BaseDirectory}'; snapshots are found from the " +
            "test project's folder, so run the tests from a build inside the source tree (dotnet test tests/<project>).");
    }

    // Git may check the verified files out with CRLF; the generator writes LF.
    private static string Normalize(string text) => text.Replace("\r\n", "\n");

    /// <summary>A unified-style diff: hunks of changed lines with a little context, numbered like <c>diff -u</c>.</summary>
    internal static string UnifiedDiff(string expected, string actual, string expectedName, string actualName)
    {
        List<DiffPiece> lines = InlineDiffBuilder.Diff(new Differ(), expected, actual, ignoreWhiteSpace: false).Lines;

        // Line numbers of each diff line in the old and new text (1-based; a deleted line has no new number and so on).
        var oldNumber = new int[lines.Count];
        var newNumber = new int[lines.Count];
        int o = 0, n = 0;
        for (int i = 0; i < lines.Count; i++)
        {
            if (lines[i].Type != ChangeType.Inserted) o++;
            if (lines[i].Type != ChangeType.Deleted) n++;
            oldNumber[i] = o;
            newNumber[i] = n;
        }

        var text = new StringBuilder();
        text.Append("--- ").Append(expectedName).Append('\n');
        text.Append("+++ ").Append(actualName).Append('\n');
        int written = 0;
        int cursor = 0;
        while (cursor < lines.Count)
        {
            if (lines[cursor].Type == ChangeType.Unchanged) { cursor++; continue; }

            // A hunk: this change, later changes no more than 2 × context away, and context on both sides.
            int start = Math.Max(0, cursor - ContextLines), end = cursor;
            while (true)
            {
                int next = end + 1;
                while (next < lines.Count && lines[next].Type == ChangeType.Unchanged) next++;
                if (next < lines.Count && next - end <= 2 * ContextLines) end = next;
                else break;
            }
            end = Math.Min(lines.Count - 1, end + ContextLines);

            text.Append($"@@ -{oldNumber[start]} +{newNumber[start]} @@\n");
            for (int i = start; i <= end; i++)
            {
                if (written++ == MaxDiffLines)
                {
                    text.Append("... (diff truncated; compare the files)\n");
                    return text.ToString();
                }
                char mark = lines[i].Type switch { ChangeType.Deleted => '-', ChangeType.Inserted => '+', _ => ' ' };
                text.Append(mark).Append(lines[i].Text).Append('\n');
            }
            cursor = end + 1;
        }
        return text.ToString();
    }
}
