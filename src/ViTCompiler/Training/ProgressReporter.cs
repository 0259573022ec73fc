using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace ViTCompiler.Training;

/// <summary>
/// Shows a <see cref="Trainer"/>'s progress: a one-line bar redrawn in place on an interactive console, or plain lines at
/// a fixed step interval when the output is redirected (CI logs keep no carriage-return animations).
/// </summary>
internal sealed class ProgressReporter
{
    private const int MaxBarWidth = 30, MinBarWidth = 8;
    private static readonly long s_redrawTicks = Stopwatch.Frequency / 8; // at most 8 redraws per second

    private readonly TextWriter _output;
    private readonly bool _bar;
    private readonly bool _silent;
    private readonly StringBuilder _line = new(160);
    private readonly StringBuilder _suffix = new(100);
    private long _lastDraw;
    private int _drawnLength;

    public ProgressReporter(TextWriter output, ProgressDisplay display)
    {
        _output = output;
        _silent = display == ProgressDisplay.None;
        _bar = display == ProgressDisplay.Bar
            || (display == ProgressDisplay.Auto && ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected);
    }

    /// <summary>Whether the live bar is drawn (otherwise periodic lines).</summary>
    public bool IsBar => _bar;

    /// <summary>A line of text above the bar (the bar is redrawn on the next update).</summary>
    public void Message(string text)
    {
        if (_silent) return;
        ClearBar();
        _output.WriteLine(text);
        _output.Flush();
    }

    /// <summary>Called after every step; redraws the bar when enough time has passed since the last redraw.</summary>
    public void Step(in ProgressSnapshot s)
    {
        if (!_bar || _silent) return;
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

    /// <summary>A periodic line (redirected output only).</summary>
    public void Interval(in ProgressSnapshot s)
    {
        if (_bar || _silent) return;
        _line.Clear();
        _line.Append("step ").Append(s.Step.ToString(CultureInfo.InvariantCulture)).Append('/').Append(s.TotalSteps.ToString(CultureInfo.InvariantCulture));
        _line.Append("  epoch ").Append(s.Epoch + 1).Append('/').Append(s.TotalEpochs);
        _line.Append("  lr ").Append(s.LearningRate.ToString("0.###e+0", CultureInfo.InvariantCulture));
        AppendStats(_line, s);
        _output.WriteLine(_line);
        _output.Flush();
    }

    private static void AppendStats(StringBuilder line, in ProgressSnapshot s)
    {
        line.Append("  loss ").Append(s.Loss.ToString("0.0000", CultureInfo.InvariantCulture));
        line.Append("  acc ").Append((100 * s.Accuracy).ToString("0.0", CultureInfo.InvariantCulture)).Append('%');
        line.Append("  ").Append(s.ImagesPerSecond.ToString("#,0", CultureInfo.InvariantCulture)).Append(" img/s");
        line.Append("  ETA ").Append(Duration(s.EtaSeconds));
    }

    /// <summary>Ends the bar's line so the next output starts on a fresh one.</summary>
    public void ClearBar()
    {
        if (!_bar || _drawnLength == 0) return;
        _output.Write('\r');
        _output.Write(new string(' ', _drawnLength));
        _output.Write('\r');
        _drawnLength = 0;
        _lastDraw = 0;
    }

    /// <summary>"1:05:09", "4:07", or "?" for an unknown duration.</summary>
    public static string Duration(double seconds)
    {
        if (!double.IsFinite(seconds) || seconds < 0) return "?";
        var t = TimeSpan.FromSeconds(Math.Round(seconds));
        return t.TotalHours >= 1
            ? $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}"
            : $"{t.Minutes}:{t.Seconds:00}";
    }

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

/// <summary>What the progress display shows after a step.</summary>
internal readonly record struct ProgressSnapshot(
    long Step, long TotalSteps, int Epoch, int TotalEpochs, float LearningRate, double Loss, double Accuracy, double ImagesPerSecond, double EtaSeconds);
