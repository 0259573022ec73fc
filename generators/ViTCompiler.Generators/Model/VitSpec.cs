using System.Linq;

namespace ViTCompiler.Generators.Model
{
    /// <summary>
    /// Everything the emitter needs for one [VitModel] class, as plain equatable data: no symbols, no syntax, no
    /// compilation. Two specs are equal exactly when they would generate the same code.
    /// </summary>
    internal sealed record VitSpec(string? Namespace, string ClassName, VitShape Shape, VitPlan Plan)
    {
        public string FullName => Namespace is null ? ClassName : Namespace + "." + ClassName;
    }

    /// <summary>The attribute's settings, defaults filled in.</summary>
    internal sealed record VitShape(
        int ImageSize, int Channels, int Patch, int Layers, int Hidden, int Heads, int MlpDim, int Classes,
        int Pooling, double LayerNormEpsilon, bool QkvBias,
        ImmutableEquatableArray<int>? StemChannels = null, ImmutableEquatableArray<int>? StemStrides = null, int StemGroups = VitDefaults.StemGroups)
    {
        /// <summary>VitPooling.Mean (1): no [class] token, the head reads the token mean.</summary>
        public bool MeanPooling => Pooling == 1;

        /// <summary>The hybrid's convolutional stem (empty for the pure ViT).</summary>
        public VitStem Stem => (StemChannels?.Count ?? 0) == 0 && (StemStrides?.Count ?? 0) == 0
            ? VitStem.None
            : new VitStem(StemChannels?.ToArray() ?? new int[0], StemStrides?.ToArray() ?? new int[0], StemGroups);

        /// <summary>Side and channels of the map the patch projection cuts (the image for the pure ViT).</summary>
        public int FeatureSize => Stem.FeatureSize(ImageSize);
        public int FeatureChannels => Stem.FeatureChannels(Channels);
    }

    /// <summary>The numbers derived from the shape, computed once by the planner.</summary>
    internal sealed record VitPlan(
        int Grid, int PatchCount, int Tokens, int HeadDim, int MlpWidth, int PatchDim,
        long ParameterCount, long MacsPerImage, long EncoderParameterCount,
        ImmutableEquatableArray<RegionPlan> InferenceRegions,
        ImmutableEquatableArray<RegionPlan> SavedRegions,
        ImmutableEquatableArray<RegionPlan> TrainingRegions,
        ImmutableEquatableArray<ParameterOffset> Globals,
        long FirstBlock, long BlockStride,
        ImmutableEquatableArray<ParameterOffset> BlockTensors,
        ImmutableEquatableArray<ProductPlan> Products,
        ImmutableEquatableArray<TileSpec> Tiles,
        ImmutableEquatableArray<StemStagePlan> StemStages,
        SchedulePlan Schedule)
    {
        public bool HasStem => StemStages.Count > 0;

        public long InferenceFloatsPerImage => InferenceRegions.Sum(r => r.FloatsPerImage);
        public long SavedFloatsPerImage => SavedRegions.Sum(r => r.FloatsPerImage);
        /// <summary>The training workspace of one image, less the regions sized by the run-time class count.</summary>
        public long TrainingFloatsPerImage => TrainingRegions.Where(r => !r.PerClass).Sum(r => r.FloatsPerImage);
        /// <summary>How many floats per class the training workspace adds per image.</summary>
        public int TrainingFloatsPerClass => TrainingRegions.Count(r => r.PerClass);
    }

    /// <summary>
    /// How the threads share a pass: <see cref="TrainingShardImages"/> &gt; 0 splits a training batch into shards of that
    /// many images, one per thread (0: every operation split across the threads); <see cref="ForwardByImages"/> does the
    /// same for the forward pass. <see cref="Reason"/> is the header's explanation.
    /// </summary>
    internal sealed record SchedulePlan(int TrainingShardImages, bool ForwardByImages, string Reason);

    /// <summary>
    /// One stage of the hybrid's stem: a 3 × 3 convolution (padding 1) from an InputSize² × InputChannels map to an
    /// OutputSize² × Channels one, as im2col (Columns = InputChannels · 9 per position) and one product.
    /// </summary>
    internal sealed record StemStagePlan(int Index, int InputSize, int InputChannels, int OutputSize, int Channels, int Stride, int Columns);

    /// <summary>One stretch of a workspace (from VitGeometry's region lists): the generated code declares a pointer per region.</summary>
    /// <summary>A region with <see cref="PerClass"/> set holds one float per class, sized at run time.</summary>
    internal sealed record RegionPlan(string Name, long FloatsPerImage, string What, bool PerClass);

    /// <summary>A parameter tensor's offset, named as the constant the emitter declares for it.</summary>
    /// <see cref="Count"/> is 0 for the head weight, whose size (C × D) depends on the run-time class count.
    internal sealed record ParameterOffset(string Constant, string TensorName, long Offset, long Count);

    /// <summary>
    /// One matrix product of the model (C = A·B with B K × N), with the K block and, per instruction set, the
    /// register tile the planner picked for its N. <see cref="K"/> is 0 when it depends on the batch. Products that
    /// share a <see cref="TypeParameter"/> (the backward products of equal N) share one micro-kernel type argument.
    /// <see cref="ClassesN"/> / <see cref="ClassesK"/>: that dimension is the class count, chosen at run time; N then
    /// holds the default count the tile was picked for, and K is 0 (blocked like a batch-dependent K).
    /// </summary>
    internal sealed record ProductPlan(string Name, string Formula, int N, int K, int BlockK, ImmutableEquatableArray<TileSpec> Tiles, string TypeParameter, bool Backward,
        bool ClassesN = false, bool ClassesK = false);

    /// <summary>
    /// A register tile of MR rows × NR columns for one instruction set. <see cref="Lanes"/> floats per vector; 1 is
    /// the scalar fallback.
    /// </summary>
    internal sealed record TileSpec(string Isa, int Lanes, int MR, int NR)
    {
        public string TypeName => "Tile" + MR + "x" + NR + Isa;
        public int VectorsPerRow => NR / Lanes;
    }
}
