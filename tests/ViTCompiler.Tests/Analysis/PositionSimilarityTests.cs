using ViTCompiler.Analysis;
using ViTCompiler.Reference;
using Xunit;

namespace ViTCompiler.Tests.Analysis;

public class PositionSimilarityTests
{
    [Fact]
    public void Embeddings_made_of_a_row_code_and_a_column_code_are_similar_along_rows_and_columns()
    {
        // 4 × 4 grid, width 8: channels 0–3 one-hot the row, 4–7 one-hot the column. Cosine = (same row + same column) / 2.
        var config = new VitConfig { ImageSize = 8, Channels = 1, Patch = 2, Layers = 1, Hidden = 8, Heads = 1, MlpDim = 4, Classes = 2 };
        var model = new ReferenceVitModel(config);
        using (ParameterEdit edit = model.EditParameters())
        {
            Span<float> table = edit[config.Layout["pos_embed"]];
            table.Clear();
            table[..8].Fill(7);  // the [class] token's embedding, which must be ignored
            for (int p = 0; p < 16; p++)
            {
                table[(1 + p) * 8 + p / 4] = 1;
                table[(1 + p) * 8 + 4 + p % 4] = 1;
            }
        }
        PositionSimilarity similarity = PositionSimilarity.Compute(model);
        Assert.Equal((4, 16), (similarity.GridSize, similarity.Positions));
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 16; j++)
            {
                double expected = ((i / 4 == j / 4 ? 1 : 0) + (i % 4 == j % 4 ? 1 : 0)) / 2.0;
                Assert.Equal(expected, similarity[i, j], 1e-12);
            }
        PatchMap corner = similarity.For(0, 3);
        Assert.Equal(1.0, corner[0, 3], 1e-12);
        Assert.Equal(0.5, corner[3, 3], 1e-12);
        Assert.Equal(0.0, corner[1, 1], 1e-12);

        PositionSimilaritySummary summary = similarity.Summarize();
        Assert.Equal(0.5, summary.SameRowOrColumn, 1e-12);
        Assert.Equal(0.0, summary.Elsewhere, 1e-12);
        Assert.Equal(1.0, summary.NearestInRowOrColumn);
        Assert.Equal(6.0 / 15, summary.ChanceNearestInRowOrColumn, 1e-12);
    }

    [Fact]
    public void Random_embeddings_match_a_direct_cosine_and_mean_pooling_has_no_prefix()
    {
        var config = new VitConfig { ImageSize = 9, Channels = 1, Patch = 3, Layers = 1, Hidden = 5, Heads = 1, MlpDim = 4, Classes = 2, Pooling = VitPooling.Mean };
        var model = new ReferenceVitModel(config);
        TestData.Randomize(model, 17);
        float[] table = config.Layout["pos_embed"].Of(model.Parameters).ToArray();
        PositionSimilarity similarity = PositionSimilarity.Compute(model.Config, model.Parameters);
        for (int i = 0; i < 9; i++)
            for (int j = 0; j < 9; j++)
            {
                double dot = 0, ni = 0, nj = 0;
                for (int k = 0; k < 5; k++)
                {
                    dot += (double)table[i * 5 + k] * table[j * 5 + k];
                    ni += (double)table[i * 5 + k] * table[i * 5 + k];
                    nj += (double)table[j * 5 + k] * table[j * 5 + k];
                }
                Assert.Equal(dot / Math.Sqrt(ni * nj), similarity[i, j], 1e-12);
            }
    }
}
