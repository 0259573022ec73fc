using ScottPlot;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using ViTCompiler.Analysis;
using ViTCompiler.Data;
using ViTCompiler.Plots;
using ViTCompiler.Reference;
using Xunit;
using Color = ScottPlot.Color;

namespace ViTCompiler.Tests.Plots;

/// <summary>Draws each figure and reads the PNG back: its size, that it shows something, and its colour bar's range and colours.</summary>
public class AnalysisFiguresTests
{
    private static readonly VitConfig s_config = new() { ImageSize = 12, Channels = 1, Patch = 3, Layers = 3, Hidden = 12, Heads = 3, MlpDim = 8, Classes = 3 };

    [Fact]
    public void Rollout_overlays_the_map_on_the_image_with_a_colour_bar_from_zero_to_the_maximum()
    {
        float[] attention = Analysis.AttentionMapsTests.Capture(s_config, seed: 4);
        PatchMap map = AttentionMaps.Rollout(s_config, attention);
        float[] pixels = TestData.Pixels(s_config, 1, seed: 6);
        Figure figure = AnalysisFigures.Rollout(map, InputImage.FromModelInput(pixels, s_config, ChannelNormalization.Google), "rollout");

        Assert.Equal(0, figure.ColorRange!.Value.Min);
        Assert.Equal(map.Max, figure.ColorRange!.Value.Max);
        using Image<Rgba32> png = Decode(figure);
        AssertShowsSomething(png, figure);
        AssertColourBarEnds(png, new ScottPlot.Colormaps.Turbo());
    }

    [Fact]
    public void Head_maps_share_one_scale_up_to_the_largest_head()
    {
        float[] attention = Analysis.AttentionMapsTests.Capture(s_config, seed: 7);
        PatchMap[] heads = AttentionMaps.Heads(s_config, attention, layer: 2);
        Figure figure = AnalysisFigures.HeadMaps(heads, "last layer");
        Assert.Equal(heads.Max(h => h.Max), figure.ColorRange!.Value.Max);
        Assert.Equal(0, figure.ColorRange!.Value.Min);
        using Image<Rgba32> png = Decode(figure);
        AssertShowsSomething(png, figure);
        AssertColourBarEnds(png, new ScottPlot.Colormaps.Inferno());
    }

    [Fact]
    public void Position_similarity_spans_minus_one_to_one()
    {
        var model = new ReferenceVitModel(s_config);
        TestData.Randomize(model, 12);
        Figure figure = AnalysisFigures.PositionSimilarity(PositionSimilarity.Compute(model));
        Assert.Equal((-1.0, 1.0), (figure.ColorRange!.Value.Min, figure.ColorRange!.Value.Max));
        using Image<Rgba32> png = Decode(figure);
        AssertShowsSomething(png, figure);
        AssertColourBarEnds(png, new ScottPlot.Colormaps.Viridis());
    }

    [Fact]
    public void Embedding_filters_show_every_component_as_a_tile()
    {
        var config = s_config with { Channels = 3 };
        var model = new ReferenceVitModel(config);
        TestData.Randomize(model, 13);
        FilterComponents components = EmbeddingFilters.PrincipalComponents(model);
        Figure figure = AnalysisFigures.EmbeddingFilters(components);
        Assert.Null(figure.ColorRange);
        using Image<Rgba32> png = Decode(figure);
        AssertShowsSomething(png, figure);
    }

    [Fact]
    public void Attention_distance_draws_one_coloured_series_per_head_with_a_legend()
    {
        float[] attention = Analysis.AttentionMapsTests.Capture(s_config, seed: 9, batch: 2);
        var meter = new AttentionDistance(s_config);
        meter.Add(attention, 2);
        Figure figure = AnalysisFigures.AttentionDistance(meter.Mean(), meter.Images, AttentionDistance.UniformDistance(s_config));
        ScottPlot.Plottables.HorizontalLine even = Assert.Single(figure.Plot.GetPlottables<ScottPlot.Plottables.HorizontalLine>());
        Assert.Equal(AttentionDistance.UniformDistance(s_config), even.Y);
        Assert.Equal("attention spread evenly", even.LegendText);
        ScottPlot.Plottables.Scatter[] series = figure.Plot.GetPlottables<ScottPlot.Plottables.Scatter>().ToArray();
        Assert.Equal(s_config.Heads, series.Length);
        Assert.Equal(["head 1", "head 2", "head 3"], series.Select(s => s.LegendText));
        Assert.Equal(s_config.Heads, series.Select(s => s.Color).Distinct().Count());
        using Image<Rgba32> png = Decode(figure);
        AssertShowsSomething(png, figure);
        foreach (ScottPlot.Plottables.Scatter s in series) Assert.True(Contains(png, s.Color, 0, png.Width), $"no pixel of {s.LegendText}'s colour {s.Color}");
    }

    private static Image<Rgba32> Decode(Figure figure) => SixLabors.ImageSharp.Image.Load<Rgba32>(figure.ToPng());

    private static void AssertShowsSomething(Image<Rgba32> png, Figure figure)
    {
        Assert.Equal((figure.Width, figure.Height), (png.Width, png.Height));
        (int colours, int dark) = ViTCompiler.Testing.PictureContent.Count(png);
        Assert.True(colours > 40, $"only {colours} distinct colours");
        Assert.True(dark > 200, $"only {dark} dark pixels: no text or axes?");
    }

    /// <summary>
    /// The colour bar: a column in the right quarter of the picture that runs from the colour map's last colour (its
    /// maximum) at the top down to its first colour (its minimum).
    /// </summary>
    private static void AssertColourBarEnds(Image<Rgba32> png, IColormap colormap)
    {
        Color low = colormap.GetColor(0), high = colormap.GetColor(1);
        bool found = false;
        png.ProcessPixelRows(rows =>
        {
            for (int x = png.Width * 3 / 4; x < png.Width && !found; x++)
            {
                int firstHigh = -1, lastLow = -1;
                for (int y = 0; y < rows.Height; y++)
                {
                    Rgba32 p = rows.GetRowSpan(y)[x];
                    if (firstHigh < 0 && Near(p, high)) firstHigh = y;
                    if (Near(p, low)) lastLow = y;
                }
                found = firstHigh >= 0 && lastLow > firstHigh;
            }
        });
        Assert.True(found, $"no colour bar running from {colormap.Name}'s maximum colour {high} down to its minimum colour {low}");
    }

    private static bool Near(Rgba32 p, Color colour) => Math.Abs(p.R - colour.R) + Math.Abs(p.G - colour.G) + Math.Abs(p.B - colour.B) <= 12;

    private static bool Contains(Image<Rgba32> png, Color colour, int fromX, int toX)
    {
        bool found = false;
        png.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height && !found; y++)
            {
                Span<Rgba32> row = rows.GetRowSpan(y);
                for (int x = fromX; x < toX && !found; x++) found = Near(row[x], colour);
            }
        });
        return found;
    }
}
