using ScottPlot;
using ScottPlot.Plottables;
using ScottPlot.TickGenerators;
using ViTCompiler.Analysis;

namespace ViTCompiler.Plots;

/// <summary>
/// The paper's §4.5 pictures (Fig. 6 and 7, Appendix D.7–D.8) from the numbers <see cref="ViTCompiler.Analysis"/>
/// computes: this class only lays them out; ScottPlot draws axes, ticks, labels, colour bars and legends.
/// Images are drawn with row 0 at the top, as they are stored and as the model cuts them into patches.
/// </summary>
public static class AnalysisFigures
{
    /// <summary>
    /// The rollout map (<see cref="AttentionMaps.Rollout"/>) as a translucent heat map over the image it was computed
    /// for, stretched to the image's size; the colour bar runs from 0 to the map's largest value.
    /// </summary>
    public static Figure Rollout(PatchMap rollout, InputImage image, string title)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        ArgumentNullException.ThrowIfNull(image);
        Plot plot = NewPlot(title);
        var area = new CoordinateRect(0, image.Width, 0, image.Height);
        ImageRect picture = plot.Add.ImageRect(new Image(image.Pixels), area);
        picture.AntiAlias = false;
        var range = new ScottPlot.Range(0, Positive(rollout.Max));
        Heatmap heat = AddHeatmap(plot, rollout.ToArray(), area, new ScottPlot.Colormaps.Turbo(), range, "attention rollout");
        // Translucent where the map is low, so the image shows through; nearly opaque at the maximum.
        var alpha = new byte[rollout.Rows, rollout.Columns];
        for (int r = 0; r < rollout.Rows; r++)
            for (int c = 0; c < rollout.Columns; c++) alpha[r, c] = (byte)Math.Round(20 + 200 * Math.Pow(Math.Clamp(rollout[r, c] / range.Max, 0, 1), 2));
        heat.AlphaMap = alpha;
        plot.Axes.SetLimits(0, image.Width, image.Height, 0);
        plot.XLabel("x (pixels)");
        plot.YLabel("y (pixels)");
        plot.Axes.SquareUnits();
        return new Figure(plot, 560, 480, range);
    }

    /// <summary>
    /// One head's map per panel, side by side on a shared colour scale from 0 to the largest value of any head
    /// (e.g. <see cref="AttentionMaps.Heads"/> of the last layer).
    /// </summary>
    public static Figure HeadMaps(IReadOnlyList<PatchMap> heads, string title)
    {
        ArgumentNullException.ThrowIfNull(heads);
        if (heads.Count == 0) throw new ArgumentException("There are no maps to draw.", nameof(heads));
        int rows = heads[0].Rows, columns = heads[0].Columns;
        if (heads.Any(m => m.Rows != rows || m.Columns != columns)) throw new ArgumentException("The maps must all have the same grid.", nameof(heads));

        // One heat map with a column of empty (NaN) cells between heads: one colour scale, one colour bar.
        int width = heads.Count * (columns + 1) - 1;
        double[,] cells = Empty(rows, width);
        for (int h = 0; h < heads.Count; h++)
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < columns; c++) cells[r, h * (columns + 1) + c] = heads[h][r, c];
        Plot plot = NewPlot(title);
        var range = new ScottPlot.Range(0, Positive(heads.Max(m => m.Max)));
        AddHeatmap(plot, cells, new CoordinateRect(0, width, 0, rows), new ScottPlot.Colormaps.Inferno(), range, "attention");
        plot.Axes.SetLimits(0, width, rows, 0);
        plot.Axes.Bottom.TickGenerator = new NumericManual(
            Enumerable.Range(0, heads.Count).Select(h => h * (columns + 1) + columns / 2.0).ToArray(),
            Enumerable.Range(1, heads.Count).Select(h => $"head {h}").ToArray());
        plot.Axes.Left.TickGenerator = CellTicks(rows, offset: 0);
        plot.YLabel("patch row");
        plot.Axes.SquareUnits();
        // Height from the mosaic's aspect, so that square cells fill the width: about 170 pixels of margins, tick
        // labels and colour bar beside the data, 90 above and below it.
        int figureWidth = Math.Max(480, 170 + 160 * heads.Count);
        int figureHeight = 90 + (int)Math.Ceiling((figureWidth - 170) * rows / (double)width);
        return new Figure(plot, figureWidth, Math.Max(200, figureHeight), range);
    }

    /// <summary>
    /// The principal components of the patch-embedding filters as small pictures (Fig. 7 left), seven per row, each
    /// labelled with its number and share of the variance. A component's weights are scaled by their largest magnitude,
    /// so mid-grey is 0; RGB filters keep their colours.
    /// </summary>
    public static Figure EmbeddingFilters(FilterComponents components, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(components);
        const int perRow = 7;
        int p = components.Patch, count = components.Count;
        int tileRows = (count + perRow - 1) / perRow, tileColumns = Math.Min(count, perRow);
        // Tiles sit in cells of (P + 1) pixels, leaving a one-pixel white line between them, plus a label band above.
        int labelBand = Math.Max(2, (p + 2) / 3), cell = p + 1, cellHeight = p + 1 + labelBand;
        int width = tileColumns * cell - 1, height = tileRows * cellHeight;
        var rgb = new byte[height, width, 3];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                for (int c = 0; c < 3; c++) rgb[y, x, c] = 255;

        Plot plot = NewPlot(title ?? $"Patch-embedding filters: the first {count} principal components");
        for (int k = 0; k < count; k++)
        {
            ReadOnlySpan<double> v = components.Component(k);
            double scale = 0;
            foreach (double x in v) scale = Math.Max(scale, Math.Abs(x));
            if (scale == 0) scale = 1;
            int top = k / perRow * cellHeight + labelBand, left = k % perRow * cell;
            for (int c = 0; c < 3; c++)
            {
                int channel = components.Channels == 1 ? 0 : c;
                for (int y = 0; y < p; y++)
                    for (int x = 0; x < p; x++)
                        rgb[top + y, left + x, c] = (byte)Math.Round(127.5 + 127.5 * v[(channel * p + y) * p + x] / scale);
            }
            Text label = plot.Add.Text($"{k + 1}: {100 * components.ExplainedRatio(k):0.#}%", left + p / 2.0, top - 0.15);
            label.Alignment = Alignment.LowerCenter;
            label.LabelFontSize = 11;
        }
        ImageRect picture = plot.Add.ImageRect(new Image(rgb), new CoordinateRect(0, width, 0, height));
        picture.AntiAlias = false;
        plot.MoveToBack(picture);
        plot.Axes.SetLimits(0, width, height, 0);
        plot.Axes.Bottom.TickGenerator = new NumericManual();
        plot.Axes.Left.TickGenerator = new NumericManual();
        plot.HideGrid();
        plot.XLabel($"component: its share of the variance of the {components.Length} filter weights (mid-grey = 0)", size: 13);
        plot.Axes.SquareUnits();
        return new Figure(plot, 720, 160 + 90 * tileRows, null);
    }

    /// <summary>
    /// Cosine similarity of each position embedding with all others (Fig. 7 center): the small grid at input patch
    /// (row, column) shows that position's similarity with every position. The colour bar spans −1 to 1.
    /// </summary>
    public static Figure PositionSimilarity(PositionSimilarity similarity, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(similarity);
        int g = similarity.GridSize, size = g * (g + 1) - 1;
        double[,] cells = Empty(size, size);
        for (int q = 0; q < similarity.Positions; q++)
            for (int k = 0; k < similarity.Positions; k++)
                cells[q / g * (g + 1) + k / g, q % g * (g + 1) + k % g] = similarity[q, k];
        Plot plot = NewPlot(title ?? "Position embedding similarity");
        var range = new ScottPlot.Range(-1, 1);
        AddHeatmap(plot, cells, new CoordinateRect(0, size, 0, size), new ScottPlot.Colormaps.Viridis(), range, "cosine similarity");
        plot.Axes.SetLimits(0, size, size, 0);
        plot.Axes.Bottom.TickGenerator = CellTicks(g, offset: 0, stride: g + 1, centre: g / 2.0);
        plot.Axes.Left.TickGenerator = CellTicks(g, offset: 0, stride: g + 1, centre: g / 2.0);
        plot.XLabel("input patch column");
        plot.YLabel("input patch row");
        plot.Axes.SquareUnits();
        return new Figure(plot, 640, 560, range);
    }

    /// <summary>
    /// Mean attention distance (<see cref="AttentionDistance.Mean"/>, [layer, head]) against depth (Fig. 7 right):
    /// one marker per head at each layer, a legend naming the heads.
    /// </summary>
    /// <param name="distances">Mean distance in pixels as [layer, head].</param>
    /// <param name="images">How many images the means are over, for the title.</param>
    /// <param name="uniform">When given, a dashed line at this distance, labelled as evenly spread attention (<see cref="Analysis.AttentionDistance.UniformDistance"/>).</param>
    /// <param name="title">The title; by default it names the image count.</param>
    public static Figure AttentionDistance(double[,] distances, int images, double? uniform = null, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(distances);
        int layers = distances.GetLength(0), heads = distances.GetLength(1);
        if (layers == 0 || heads == 0) throw new ArgumentException("There are no distances to draw.", nameof(distances));
        Plot plot = NewPlot(title ?? $"Mean attention distance over {images:N0} image{(images == 1 ? "" : "s")}");
        double max = 0;
        for (int h = 0; h < heads; h++)
        {
            double[] xs = new double[layers], ys = new double[layers];
            for (int l = 0; l < layers; l++)
            {
                xs[l] = l + 1;
                ys[l] = distances[l, h];
                max = Math.Max(max, ys[l]);
            }
            Scatter points = plot.Add.Scatter(xs, ys);
            points.LineWidth = 0;
            points.MarkerSize = 8;
            points.LegendText = $"head {h + 1}";
        }
        if (uniform is double even)
        {
            ScottPlot.Plottables.HorizontalLine line = plot.Add.HorizontalLine(even, width: 1.5f, color: Colors.Gray, pattern: LinePattern.Dashed);
            line.LegendText = "attention spread evenly";
            max = Math.Max(max, even);
        }
        plot.Axes.SetLimits(0.5, layers + 0.5, 0, Positive(max) * 1.1);
        plot.Axes.Bottom.TickGenerator = new NumericManual(
            Enumerable.Range(1, layers).Select(l => (double)l).ToArray(), Enumerable.Range(1, layers).Select(l => l.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        plot.XLabel("network depth (layer)");
        plot.YLabel("mean attention distance (pixels)");
        plot.ShowLegend(Edge.Right);
        return new Figure(plot, 640, 440, null);
    }

    private static Plot NewPlot(string title)
    {
        PlotFonts.Check();
        var plot = new Plot();
        plot.Title(title, size: 15);
        return plot;
    }

    private static Heatmap AddHeatmap(Plot plot, double[,] cells, CoordinateRect area, IColormap colormap, ScottPlot.Range range, string label)
    {
        Heatmap heat = plot.Add.Heatmap(cells);
        heat.Rectangle = area;
        heat.Colormap = colormap;
        heat.ManualRange = range;
        heat.NaNCellColor = Colors.Transparent;
        ScottPlot.Panels.ColorBar bar = plot.Add.ColorBar(heat);
        bar.Label = label;
        return heat;
    }

    /// <summary>Ticks labelled 1…count at the centres of cells <paramref name="stride"/> apart.</summary>
    private static NumericManual CellTicks(int count, int offset, int stride = 1, double centre = 0.5) =>
        new(Enumerable.Range(0, count).Select(i => offset + i * stride + centre).ToArray(),
            Enumerable.Range(1, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());

    private static double[,] Empty(int rows, int columns)
    {
        var cells = new double[rows, columns];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++) cells[r, c] = double.NaN;
        return cells;
    }

    /// <summary>A colour scale needs a non-empty range; an all-zero map still gets one.</summary>
    private static double Positive(double max) => max > 0 && double.IsFinite(max) ? max : 1;
}
