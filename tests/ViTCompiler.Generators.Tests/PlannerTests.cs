using ViTCompiler.Generators.Model;
using static ViTCompiler.Generators.VitGenerator;

namespace ViTCompiler.Generators.Tests;

/// <summary>The numbers the planner derives, checked against hand-worked values and against the runtime's own layout.</summary>
public sealed class PlannerTests
{
    // The planner's instruction sets: (name, lanes, rows of a wide tile, rows of a narrow tile).
    private static readonly (string Isa, int Lanes, int WideRows, int NarrowRows) V512 = ("V512", 16, 12, 24);
    private static readonly (string Isa, int Lanes, int WideRows, int NarrowRows) V256 = ("V256", 8, 6, 12);
    private static readonly (string Isa, int Lanes, int WideRows, int NarrowRows) Scalar = ("Scalar", 1, 4, 4);

    [Theory]
    [InlineData(1, 1)]
    [InlineData(16, 16)]
    [InlineData(197, 197)]
    [InlineData(512, 512)]     // up to 512: one pass over all of K
    [InlineData(513, 257)]     // two equal blocks
    [InlineData(588, 294)]     // 2 × 294 (a 14×14×3 patch)
    [InlineData(768, 384)]
    [InlineData(1024, 342)]    // 3 blocks, the last one shorter
    [InlineData(3072, 384)]
    [InlineData(1000, 334)]
    public void BlockK_takes_all_of_a_small_K_and_equal_blocks_of_at_most_384_otherwise(int k, int expected)
    {
        Assert.Equal(expected, Planner.BlockK(k));
    }

    [Theory]
    [InlineData(1, 24, 16)]    // N fits one vector: narrow
    [InlineData(3, 24, 16)]
    [InlineData(16, 24, 16)]
    [InlineData(32, 12, 32)]   // N fills wide tiles exactly: wide
    [InlineData(48, 24, 16)]   // a wide tile would leave the last panel half empty: narrow
    [InlineData(40, 24, 16)]
    [InlineData(56, 12, 32)]   // last wide panel over half full: wide
    [InlineData(64, 12, 32)]
    [InlineData(144, 12, 32)]  // large N: padding one panel no longer matters
    [InlineData(2304, 12, 32)]
    public void PickTile_on_Vector512(int n, int rows, int columns)
    {
        AssertTile(Planner.PickTile(V512, n), "V512", 16, rows, columns);
    }

    [Theory]
    [InlineData(3, 12, 8)]
    [InlineData(8, 12, 8)]
    [InlineData(16, 6, 16)]
    [InlineData(24, 12, 8)]
    [InlineData(30, 6, 16)]
    [InlineData(72, 6, 16)]
    public void PickTile_on_Vector256(int n, int rows, int columns)
    {
        AssertTile(Planner.PickTile(V256, n), "V256", 8, rows, columns);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    [InlineData(1000)]
    public void PickTile_scalar_is_always_4x4(int n)
    {
        AssertTile(Planner.PickTile(Scalar, n), "Scalar", 1, 4, 4);
    }

    [Theory]
    [InlineData("attn.qkv.weight", "QkvWeight")]
    [InlineData("attn.qkv.bias", "QkvBias")]
    [InlineData("attn.proj.weight", "ProjWeight")]
    [InlineData("attn.proj.bias", "ProjBias")]
    [InlineData("mlp.fc1.weight", "Fc1Weight")]
    [InlineData("mlp.fc2.bias", "Fc2Bias")]
    [InlineData("norm1.weight", "Norm1Weight")]
    [InlineData("norm2.bias", "Norm2Bias")]
    [InlineData("patch_embed.proj.weight", "PatchWeight")]
    [InlineData("patch_embed.proj.bias", "PatchBias")]
    [InlineData("cls_token", "ClsToken")]
    [InlineData("pos_embed", "PosEmbed")]
    [InlineData("norm.weight", "NormWeight")]
    [InlineData("head.bias", "HeadBias")]
    public void ConstantName_turns_timm_names_into_identifiers(string tensor, string expected)
    {
        // Block tensors arrive without their "blocks.{i}." prefix; the planner strips it first.
        Assert.Equal(expected, Planner.ConstantName(tensor));
    }

    public static TheoryData<string> ConfigNames => [.. s_configs.Keys];

    private static readonly Dictionary<string, VitConfig> s_configs = new()
    {
        ["tiny"] = new() { ImageSize = 8, Channels = 1, Patch = 4, Layers = 1, Hidden = 16, Heads = 2, MlpDim = 32, Classes = 3 },
        ["mean, no qkv bias"] = new() { ImageSize = 12, Patch = 4, Layers = 2, Hidden = 24, Heads = 3, Classes = 5, Pooling = VitPooling.Mean, QkvBias = false },
        ["odd"] = new() { ImageSize = 30, Channels = 2, Patch = 5, Layers = 3, Hidden = 20, Heads = 4, MlpDim = 36, Classes = 7 },
        ["ViT-B/16"] = VitConfig.Base16,
    };

    [Theory]
    [MemberData(nameof(ConfigNames))]
    public void Parameter_offsets_match_the_runtime_layout(string name)
    {
        VitConfig config = s_configs[name];
        VitPlan plan = Planner.Plan(ShapeOf(config));
        ParameterLayout layout = config.Layout;

        Assert.Equal(layout.ParameterCount, plan.ParameterCount);
        Assert.Equal(config.ParameterCount, plan.ParameterCount);

        var covered = new HashSet<string>();
        foreach (ParameterOffset global in plan.Globals)
        {
            ParameterTensor tensor = layout[global.TensorName];
            Assert.Equal(tensor.Offset, global.Offset);
            Assert.Equal(global.TensorName == "head.weight" ? 0 : tensor.Count, global.Count); // C × D: sized at run time
            Assert.True(covered.Add(global.TensorName));
        }
        for (int layer = 0; layer < config.Layers; layer++)
        {
            foreach (ParameterOffset inBlock in plan.BlockTensors)
            {
                string tensorName = $"blocks.{layer}.{inBlock.TensorName}";
                ParameterTensor tensor = layout[tensorName];
                Assert.Equal(tensor.Offset, plan.FirstBlock + layer * plan.BlockStride + inBlock.Offset);
                Assert.Equal(tensor.Count, inBlock.Count);
                Assert.True(covered.Add(tensorName));
            }
        }
        // head.bias has no constant: the generated code computes it from the run-time class count, after the head weight.
        ParameterTensor headWeight = layout["head.weight"], headBias = layout["head.bias"];
        Assert.Equal(headWeight.Offset + config.Classes * config.Hidden, headBias.Offset);
        Assert.Equal(plan.EncoderParameterCount, headWeight.Offset);
        Assert.True(covered.Add("head.bias"));
        // Every other tensor of the runtime's layout has exactly one constant in the generated code.
        Assert.Equal(layout.Select(t => t.Name).Order(), covered.Order());
        Assert.Equal(config.QkvBias, plan.BlockTensors.Any(t => t.Constant == "QkvBias"));
        Assert.Equal(config.HasClassToken, plan.Globals.Any(t => t.Constant == "ClsToken"));
    }

    [Theory]
    [MemberData(nameof(ConfigNames))]
    public void Only_the_head_depends_on_the_class_count(string name)
    {
        VitConfig config = s_configs[name];
        VitPlan plan = Planner.Plan(ShapeOf(config)), other = Planner.Plan(ShapeOf(config with { Classes = config.Classes + 993 }));

        // Every constant the generated code bakes in is the same for another class count ...
        Assert.Equal(plan.Globals, other.Globals);
        Assert.Equal((plan.FirstBlock, plan.BlockStride, plan.EncoderParameterCount), (other.FirstBlock, other.BlockStride, other.EncoderParameterCount));
        Assert.Equal(plan.BlockTensors, other.BlockTensors);
        Assert.Equal(plan.InferenceRegions, other.InferenceRegions);
        Assert.Equal(plan.SavedRegions, other.SavedRegions);
        Assert.Equal(plan.TrainingFloatsPerImage, other.TrainingFloatsPerImage);
        Assert.Equal(plan.Products.Where(p => !p.ClassesN).Select(p => p with { Formula = "" }), other.Products.Where(p => !p.ClassesN).Select(p => p with { Formula = "" }));
        // ... and the per-class regions make up the rest of the runtime's training workspace.
        Assert.Equal(2, plan.TrainingFloatsPerClass);
        foreach (VitConfig c in new[] { config, config with { Classes = 2 } })
        {
            long total = ViTCompiler.WorkspaceRegion.Total(ViTCompiler.VitGeometry.TrainingRegions(c.ImageSize, c.Channels, c.Patch, c.Layers, c.Hidden, c.Heads, c.MlpDim, c.Classes, c.HasClassToken));
            Assert.Equal(total, plan.TrainingFloatsPerImage + plan.TrainingFloatsPerClass * (long)c.Classes);
        }
    }

    [Theory]
    [MemberData(nameof(ConfigNames))]
    public void Derived_sizes_match_the_runtime_config(string name)
    {
        VitConfig config = s_configs[name];
        VitPlan plan = Planner.Plan(ShapeOf(config));

        Assert.Equal(config.GridSize, plan.Grid);
        Assert.Equal(config.PatchCount, plan.PatchCount);
        Assert.Equal(config.Tokens, plan.Tokens);
        Assert.Equal(config.HeadDim, plan.HeadDim);
        Assert.Equal(config.MlpWidth, plan.MlpWidth);
        Assert.Equal(config.PatchDim, plan.PatchDim);
        Assert.Equal(config.MacsPerImage, plan.MacsPerImage);
    }

    [Fact]
    public void Every_product_gets_one_tile_per_instruction_set_and_its_K_block()
    {
        VitConfig config = s_configs["ViT-B/16"];
        VitPlan plan = Planner.Plan(ShapeOf(config));

        foreach (ProductPlan product in plan.Products)
        {
            Assert.Equal(["V512", "V256", "V128", "Scalar"], product.Tiles.Select(t => t.Isa));
            // K = 0: K is the batch's row count (weight gradients) or the class count, blocked by a fixed size.
            Assert.Equal(product.K == 0 ? Planner.RuntimeBlockK : Planner.BlockK(product.K), product.BlockK);
            Assert.All(product.Tiles, t => Assert.Contains(t, plan.Tiles));
        }
        ProductPlan qkv = plan.Products.Single(p => p.Name == "Qkv");
        Assert.Equal((2304, 768, 384), (qkv.N, qkv.K, qkv.BlockK));
        ProductPlan patch = plan.Products.Single(p => p.Name == "Patch");
        Assert.Equal((768, 768, 384), (patch.N, patch.K, patch.BlockK));
        // Each distinct tile is emitted once.
        Assert.Equal(plan.Tiles.Count, plan.Tiles.Distinct().Count());
    }

    private static VitShape ShapeOf(VitConfig c) =>
        new(c.ImageSize, c.Channels, c.Patch, c.Layers, c.Hidden, c.Heads, c.MlpDim, c.Classes, (int)c.Pooling, c.LayerNormEpsilon, c.QkvBias);

    private static void AssertTile(TileSpec tile, string isa, int lanes, int rows, int columns) =>
        Assert.Equal(new TileSpec(isa, lanes, rows, columns), tile);
    [Theory]
    [InlineData(64, 50, 16, true)]     // the Fashion-MNIST models: 16 images of 50 tokens ≈ 768 rows per shard
    [InlineData(192, 197, 4, true)]    // ViT-Ti/16
    [InlineData(32, 1025, 1, true)]    // more tokens than a shard's rows: one image per shard
    [InlineData(384, 197, 0, true)]    // ViT-S/16: image-parallel forward, operation-parallel training
    [InlineData(768, 197, 0, false)]   // ViT-B/16: operation-parallel
    public void The_schedule_follows_the_width(int hidden, int tokens, int shardImages, bool forwardByImages)
    {
        SchedulePlan plan = Planner.Schedule(hidden, tokens);
        Assert.Equal(shardImages, plan.TrainingShardImages);
        Assert.Equal(forwardByImages, plan.ForwardByImages);
        Assert.Contains($"width {hidden}", plan.Reason);
    }
}
