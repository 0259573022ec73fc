using ScottPlot;

namespace ViTCompiler.Plots;

/// <summary>A plot and the size it is meant to be drawn at. Customise <see cref="Plot"/> freely before saving.</summary>
public sealed class Figure
{
    internal Figure(Plot plot, int width, int height, ScottPlot.Range? colorRange)
    {
        Plot = plot;
        Width = width;
        Height = height;
        ColorRange = colorRange;
    }

    /// <summary>The ScottPlot plot: axes, plottables, colour bar, legend.</summary>
    public Plot Plot { get; }

    /// <summary>Width in pixels of the saved picture.</summary>
    public int Width { get; }

    /// <summary>Height in pixels of the saved picture.</summary>
    public int Height { get; }

    /// <summary>The values the colour bar spans, from its first colour to its last; null for figures without one.</summary>
    public ScottPlot.Range? ColorRange { get; }

    /// <summary>Draws the figure and writes it to <paramref name="path"/> as PNG.</summary>
    public void SavePng(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        PlotFonts.Check();
        Plot.SavePng(path, Width, Height);
    }

    /// <summary>Draws the figure and returns the PNG file's bytes.</summary>
    public byte[] ToPng()
    {
        PlotFonts.Check();
        return Plot.GetImageBytes(Width, Height, ImageFormat.Png);
    }
}
