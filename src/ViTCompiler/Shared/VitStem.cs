// Compiled into both the runtime library and the source generator (linked there, like VitGeometry.cs): the paper's hybrid
// architecture (§3.1) — a small convolutional stem whose feature map, not the raw image, is cut into patches.
// netstandard2.0 only: no spans, no records.
using System.Collections.Generic;
using System.Globalization;

namespace ViTCompiler
{
    /// <summary>
    /// The convolutional stem of a hybrid ViT: stage i is a 3 × 3 convolution (padding 1, stride <c>Strides[i]</c>, no
    /// bias) to <c>Channels[i]</c> channels, then GroupNorm with <see cref="Groups"/> groups and a ReLU. An empty stem is
    /// the pure ViT: the patch projection reads the image itself.
    /// </summary>
    /// <remarks>
    /// GroupNorm, as in the BiT ResNets of the paper's hybrids, rather than BatchNorm: it has no batch statistics, so a
    /// batch of one, a data-parallel run and any thread count compute the same function, and training and inference are
    /// one mode with nothing to track between steps. The convolution weights are used as they are (no weight
    /// standardisation); with two or three stages it is not needed to train (docs/TRAINING.md).
    /// </remarks>
    internal sealed class VitStem
    {
        public static readonly VitStem None = new VitStem(new int[0], new int[0], VitDefaults.StemGroups);

        public VitStem(int[] channels, int[] strides, int groups)
        {
            Channels = channels;
            Strides = strides;
            Groups = groups;
        }

        public int[] Channels { get; }
        public int[] Strides { get; }
        public int Groups { get; }
        public int Stages => Channels.Length;
        public bool IsEmpty => Channels.Length == 0;

        /// <summary>Kernel side of every stem convolution; padding is (Kernel − 1) / 2, so stride 1 keeps the size.</summary>
        public const int Kernel = 3;

        /// <summary>GroupNorm's ε (PyTorch's default).</summary>
        public const double NormEpsilon = 1e-5;

        /// <summary>Side of the map stage <paramref name="stage"/> reads (stage 0 reads the image).</summary>
        public int InputSize(int imageSize, int stage)
        {
            int size = imageSize;
            for (int i = 0; i < stage; i++) size /= Strides[i];
            return size;
        }

        /// <summary>Channels of the map stage <paramref name="stage"/> reads.</summary>
        public int InputChannels(int imageChannels, int stage) => stage == 0 ? imageChannels : Channels[stage - 1];

        /// <summary>Side of the feature map the patch projection reads.</summary>
        public int FeatureSize(int imageSize) => InputSize(imageSize, Stages);

        /// <summary>Channels of the feature map the patch projection reads.</summary>
        public int FeatureChannels(int imageChannels) => InputChannels(imageChannels, Stages);

        /// <summary>"32/1, 64/2 (GroupNorm 8)": channels/stride of each stage.</summary>
        public string Describe()
        {
            if (IsEmpty) return "none";
            var parts = new List<string>();
            for (int i = 0; i < Stages; i++)
                parts.Add(Channels[i].ToString(CultureInfo.InvariantCulture) + "/" + (i < Strides.Length ? Strides[i].ToString(CultureInfo.InvariantCulture) : "?"));
            return string.Join(", ", parts) + " (GroupNorm " + Groups.ToString(CultureInfo.InvariantCulture) + ")";
        }

        /// <summary>Parameter tensors of the stem (offsets from 0), timm-like: <c>patch_embed.backbone.{i}.conv.weight</c> etc.</summary>
        public List<TensorSlot> Tensors(int imageChannels)
        {
            var list = new List<TensorSlot>();
            long offset = 0;
            void Add(string name, ParameterKind kind, params int[] shape)
            {
                var slot = new TensorSlot(name, shape, offset, kind);
                list.Add(slot);
                offset += slot.Count;
            }
            for (int i = 0; i < Stages; i++)
            {
                string p = "patch_embed.backbone." + i.ToString(CultureInfo.InvariantCulture) + ".";
                Add(p + "conv.weight", ParameterKind.Matrix, Channels[i], InputChannels(imageChannels, i), Kernel, Kernel);
                Add(p + "norm.weight", ParameterKind.Norm, Channels[i]);
                Add(p + "norm.bias", ParameterKind.Norm, Channels[i]);
            }
            return list;
        }

        /// <summary>Parameters of the stem in closed form: per stage C_out·C_in·9 + 2·C_out.</summary>
        public long ParameterCount(int imageChannels)
        {
            long total = 0;
            for (int i = 0; i < Stages; i++)
                total += (long)Channels[i] * InputChannels(imageChannels, i) * Kernel * Kernel + 2L * Channels[i];
            return total;
        }

        /// <summary>Multiply-accumulates of the stem's convolutions for one image.</summary>
        public long MacsPerImage(int imageSize, int imageChannels)
        {
            long total = 0;
            for (int i = 0; i < Stages; i++)
            {
                long outSize = InputSize(imageSize, i + 1);
                total += outSize * outSize * Channels[i] * InputChannels(imageChannels, i) * Kernel * Kernel;
            }
            return total;
        }

        /// <summary>
        /// Every problem with the stem itself (sizes, strides, groups), or an empty list. The feature map against Patch is
        /// judged by <see cref="VitRules"/>.
        /// </summary>
        public List<string> Problems(int imageSize)
        {
            var problems = new List<string>();
            if (Strides.Length != Channels.Length)
            {
                problems.Add("StemStrides has " + Strides.Length + " values but StemChannels has " + Channels.Length + "; give one stride per stage");
                return problems;
            }
            if (Stages > 8) problems.Add("the stem has " + Stages + " stages, above the supported 8");
            if (!IsEmpty && Groups <= 0) problems.Add("StemGroups is " + Groups + "; it must be positive");
            int size = imageSize;
            for (int i = 0; i < Stages && problems.Count == 0; i++)
            {
                string stage = "stem stage " + i.ToString(CultureInfo.InvariantCulture);
                if (Channels[i] <= 0 || Channels[i] > 4096) problems.Add(stage + " has " + Channels[i] + " channels; it must be 1 to 4096");
                else if (Channels[i] % Groups != 0) problems.Add(stage + " has " + Channels[i] + " channels, not a multiple of StemGroups " + Groups);
                if (Strides[i] != 1 && Strides[i] != 2) problems.Add(stage + " has stride " + Strides[i] + "; it must be 1 or 2");
                else if (size % Strides[i] != 0) problems.Add(stage + " reads a " + size + " × " + size + " map, which stride " + Strides[i] + " does not divide");
                else size /= Strides[i];
            }
            return problems;
        }
    }
}
