using ViTCompiler;

namespace FashionMnistSample;

/// <summary>
/// A small Vision Transformer for 28 × 28 grey Fashion-MNIST images: 4 × 4 patches (49 tokens plus the [class] token),
/// six encoder blocks of width 64 with four heads and an MLP of 128, ten classes — about 0.3 M parameters.
/// </summary>
[VitModel(ImageSize = 28, Channels = 1, Patch = 4, Layers = 6, Hidden = 64, Heads = 4, MlpDim = 128, Classes = 10)]
public partial class FashionVit { }
