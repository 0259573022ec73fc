using ViTCompiler;

namespace FashionMnistSample;

/// <summary>
/// A small Vision Transformer for 28 × 28 grey Fashion-MNIST images: 4 × 4 patches (49 tokens plus the [class] token),
/// six encoder blocks of width 64 with four heads and an MLP of 128, ten classes — about 0.3 M parameters.
/// </summary>
[VitModel(ImageSize = 28, Channels = 1, Patch = 4, Layers = 6, Hidden = 64, Heads = 4, MlpDim = 128, Classes = 10)]
public partial class FashionVit { }

/// <summary>
/// The paper's hybrid (§3.1) at Fashion-MNIST's size: a convolutional stem (3 × 3 with stride 2 to 32 channels, then
/// 3 × 3 with stride 2 to 64, each with GroupNorm of 8 groups and ReLU) turns the image into a 7 × 7 × 64 feature map,
/// whose cells (1 × 1 patches, which §3.1 allows) are the 49 tokens of a two-block encoder of width 64. The convolutions
/// give the model the locality a pure ViT has to learn from data (§3.1, "Inductive bias"); two blocks instead of
/// <see cref="FashionVit"/>'s six make a step three times cheaper, and in a fixed time budget the extra updates are worth
/// more than the depth (docs/TRAINING.md records what was tried).
/// </summary>
[VitModel(ImageSize = 28, Channels = 1, StemChannels = new[] { 32, 64 }, StemStrides = new[] { 2, 2 }, StemGroups = 8, Patch = 1,
    Layers = 2, Hidden = 64, Heads = 4, MlpDim = 128, Classes = 10)]
public partial class FashionHybridVit { }

/// <summary>
/// The hybrid of the 15-minute recipe (<c>--full</c>): a deeper stem — 3 × 3 convolutions to 32 channels at 28 × 28, to
/// 64 with stride 2 (14 × 14), to 64 with stride 2 (7 × 7), then two more to 64 at 7 × 7, each with GroupNorm of 8
/// groups and ReLU — in front of <see cref="FashionHybridVit"/>'s encoder (7 × 7 tokens of 1 × 1 patches, two blocks of
/// width 64). About 2.6 times the arithmetic of <see cref="FashionHybridVit"/> per image, which pays in a 15-minute
/// budget and not in a 3-minute one (docs/TRAINING.md records the comparison).
/// </summary>
[VitModel(ImageSize = 28, Channels = 1, StemChannels = new[] { 32, 64, 64, 64, 64 }, StemStrides = new[] { 1, 2, 2, 1, 1 }, StemGroups = 8,
    Patch = 1, Layers = 2, Hidden = 64, Heads = 4, MlpDim = 128, Classes = 10)]
public partial class FashionDeepHybridVit { }
