using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace ViTCompiler.Training;

/// <summary>How <see cref="ConsoleProgress"/> shows a run.</summary>
public enum ProgressDisplay
{
    /// <summary>The live bar when the output is the console's own stdout or stderr and that stream is a terminal; lines otherwise (CI logs, files).</summary>
    Auto,
    /// <summary>Always the live bar (rewrites one line with carriage returns).</summary>
    Bar,
    /// <summary>One plain line every <see cref="TrainerOptions.LogEverySteps"/> steps and one per epoch.</summary>
    Lines,
}

/// <summary>
/// Shows a <see cref="Trainer"/>'s <see cref="TrainingProgress"/> reports as text: a one-line bar redrawn in place on an
/// interactive console, or plain lines at a fixed step interval when the output is redirected (CI logs keep no
/// carriage-return animations); epoch summaries and messages as lines in both.
/// </summary>
/// <example><code>
/// using var trainer = new Trainer(model, train, test, options, new ConsoleProgress());
/// </code></example>
public sealed class ConsoleProgress : IProgress<TrainingProgress>
{
    private const int MaxBarWidth = 30, MinBarWidth = 8;
    private static readonly long s_redrawTicks = Stopwatch.Frequency / 8; // at most 8 redraws per second

    private readonly TextWriter _output;
    private readonly bool _bar;
    private readonly StringBuilder _line = new(160);
    private readonly StringBuilder _suffix = new(100);
    private long _lastDraw;
    private int _drawnLength;

    /// <summary>Progress on <paramref name="output"/> (<see cref="Console.Out"/> by default), shown as <paramref name="display"/> says.</summary>
    public ConsoleProgress(TextWriter? output = null, ProgressDisplay display = ProgressDisplay.Auto)
    {
        if (display is not (ProgressDisplay.Auto or ProgressDisplay.Bar or ProgressDisplay.Lines))
            throw new ArgumentOutOfRangeException(nameof(display), display, "Use ProgressDisplay.Auto, Bar or Lines.");
        _output = output ?? Console.Out;
        _bar = display == ProgressDisplay.Bar || (display == ProgressDisplay.Auto && IsTerminal(_output));
    }

    /// <summary>Whether the live bar is drawn (otherwise periodic lines).</summary>
    public bool IsBar => _bar;

    /// <summary>Draws or prints <paramref name="value"/>.</summary>
    public void Report(TrainingProgress value)
    {
        switch (value.Kind)
        {
            case TrainingProgressKind.Step:
                if (_bar) DrawBar(value);
                break;
            case TrainingProgressKind.Interval:
                if (!_bar) WriteInterval(value);
                break;
            case TrainingProgressKind.EpochEnded:
                WriteLine(string.Format(CultureInfo.InvariantCulture, "epoch {0}/{1} (step {2:N0}): train loss {3:F4}, accuracy {4:F1}%{5}; {6:N0} img/s, {7} elapsed",
                    value.Epoch + 1, value.TotalEpochs, value.Step, value.Loss, 100 * value.Accuracy,
                    value.Test is EvaluationResult t ? string.Format(CultureInfo.InvariantCulture, "; test loss {0:F4}, accuracy {1:F2}%", t.Loss, 100 * t.Accuracy) : "",
                    value.ImagesPerSecond, FormatDuration(value.ElapsedSeconds)));
                break;
            default: // Started, Note, Finished: their message, if any, on a line of its own
                if (value.Message is not null) WriteLine(value.Message);
                else ClearBar();
                break;
        }
    }

    /// <summary>"1:05:09", "4:07", or "?" for an unknown duration.</summary>
    public static string FormatDuration(double seconds)
    {
        if (!double.IsFinite(seconds) || seconds < 0) return "?";
        var t = TimeSpan.FromSeconds(Math.Round(seconds));
        return t.TotalHours >= 1
            ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}")
            : string.Create(CultureInfo.InvariantCulture, $"{t.Minutes}:{t.Seconds:00}");
    }

    /// <summary>A line of text above the bar (the bar is redrawn on the next step).</summary>
    private void WriteLine(string text)
    {
        ClearBar();
        _output.WriteLine(text);
        _output.Flush();
    }

    /// <summary>Redraws the bar when enough time has passed since the last redraw.</summary>
    private void DrawBar(in TrainingProgress s)
    {
        long now = Stopwatch.GetTimestamp();
        if (now - _lastDraw < s_redrawTicks) return;
        _lastDraw = now;

        // "epoch 2/5 [██████░░░░] 120/310  loss 0.6123  acc 78.1%  250 img/s  ETA 1:23": the bar takes whatever width the
        // text leaves, and is dropped on a very narrow console, so the numbers always fit on one line.
        _suffix.Clear();
        _suffix.Append(' ').Append(s.Step.ToString(CultureInfo.InvariantCulture)).Append('/').Append(s.TotalSteps.ToString(CultureInfo.InvariantCulture));
        AppendStats(_suffix, s);
        _line.Clear();
        _line.Append('\r').Append("epoch ").Append(s.Epoch + 1).Append('/').Append(s.TotalEpochs);
        int width = ConsoleWidth() - 1; // writing into the last column wraps on some terminals
        int barWidth = Math.Min(MaxBarWidth, width - (_line.Length - 1) - _suffix.Length - 3);
        if (barWidth >= MinBarWidth)
        {
            double fraction = s.TotalSteps == 0 ? 1 : (double)s.Step / s.TotalSteps;
            int filled = (int)Math.Round(fraction * barWidth);
            _line.Append(" [").Append('█', filled).Append('░', barWidth - filled).Append(']');
        }
        _line.Append(_suffix);
        if (_line.Length - 1 > width) _line.Length = width + 1;
        int length = _line.Length - 1;
        if (length < _drawnLength) _line.Append(' ', _drawnLength - length);
        _drawnLength = length;
        _output.Write(_line);
        _output.Flush();
    }

    /// <summary>A periodic line (when there is no bar).</summary>
    private void WriteInterval(in TrainingProgress s)
    {
        _line.Clear();
        _line.Append("step ").Append(s.Step.ToString(CultureInfo.InvariantCulture)).Append('/').Append(s.TotalSteps.ToString(CultureInfo.InvariantCulture));
        _line.Append("  epoch ").Append(s.Epoch + 1).Append('/').Append(s.TotalEpochs);
        _line.Append("  lr ").Append(s.LearningRate.ToString("0.###e+0", CultureInfo.InvariantCulture));
        AppendStats(_line, s);
        _output.WriteLine(_line);
        _output.Flush();
    }

    private static void AppendStats(StringBuilder line, in TrainingProgress s)
    {
        line.Append("  loss ").Append(s.Loss.ToString("0.0000", CultureInfo.InvariantCulture));
        line.Append("  acc ").Append((100 * s.Accuracy).ToString("0.0", CultureInfo.InvariantCulture)).Append('%');
        line.Append("  ").Append(s.ImagesPerSecond.ToString("#,0", CultureInfo.InvariantCulture)).Append(" img/s");
        line.Append("  ETA ").Append(FormatDuration(s.EtaSeconds));
    }

    /// <summary>Ends the bar's line so the next output starts on a fresh one.</summary>
    private void ClearBar()
    {
        if (!_bar || _drawnLength == 0) return;
        _output.Write('\r');
        _output.Write(new string(' ', _drawnLength));
        _output.Write('\r');
        _output.Flush();
        _drawnLength = 0;
        _lastDraw = 0;
    }

    private static bool IsTerminal(TextWriter output) =>
        (ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected)
        || (ReferenceEquals(output, Console.Error) && !Console.IsErrorRedirected);

    private static int ConsoleWidth()
    {
        try
        {
            int width = Console.WindowWidth;
            return width > 20 ? width : 120;
        }
        catch (IOException)
        {
            return 120;
        }
        catch (PlatformNotSupportedException)
        {
            return 120;
        }
    }
}
