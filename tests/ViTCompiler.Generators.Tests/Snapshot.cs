using System.Runtime.CompilerServices;
using System.Text;
using DiffPlex;
using DiffPlex.DiffBuilder;
using DiffPlex.DiffBuilder.Model;

namespace ViTCompiler.Generators.Tests;

/// <summary>
/// Compares text against a reviewed copy checked in as <c>Snapshots/&lt;name&gt;.verified.cs</c>. On a mismatch the
/// actual text is written beside it as <c>&lt;name&gt;.received.cs</c> (git-ignored) and the test fails with a line
/// diff. With <c>VIT_ACCEPT_SNAPSHOTS=1</c> the verified file is overwritten instead: review it, then commit it.
/// </summary>
internal static class Snapshot
{
    public const string AcceptVariable = "VIT_ACCEPT_SNAPSHOTS";
    private const int ContextLines = 3;
    private const int MaxDiffLines = 150;

    /// <param name="callerFile">Filled in by the compiler: the snapshots live beside the test sources, not under bin/.</param>
    public static void Match(string actual, string name, [CallerFilePath] string callerFile = "")
    {
        string directory = Path.Combine(Path.GetDirectoryName(callerFile) ?? "", "Snapshots");
        if (!Directory.Exists(directory))
            throw new InvalidOperationException(
                $"Snapshot folder '{directory}' not found. It is located from the test's source path ({callerFile}); " +
                "run the tests from a build of the source tree (a PathMap'd build hides that path).");

        string verifiedPath = Path.Combine(directory, name + ".verified.cs");
        string receivedPath = Path.Combine(directory, name + ".received.cs");
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
            $"Generated code differs from snapshot '{name}'. Actual output: {receivedPath}\n" +
            $"If the change is intended, run with {AcceptVariable}=1 (or copy the received file over the verified one) and review the diff in git.\n\n" +
            UnifiedDiff(expected, actual, name + ".verified.cs", name + ".received.cs"));
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
