// Compiled into both the runtime library and the source generator (linked there, like VitGeometry.cs): the defaults a
// [VitModel] attribute, a VitConfig and the generator's parser start from, and the rules all three check, live here once.
// netstandard2.0 only: no spans, no records.
using System.Collections.Generic;
using System.Globalization;

namespace ViTCompiler
{
    /// <summary>The paper's ViT-B/16 at 224 × 224 with 1000 classes: what every unset property of a model takes.</summary>
    internal static class VitDefaults
    {
        public const int ImageSize = 224;
        public const int Channels = 3;
        public const int Patch = 16;
        public const int Layers = 12;
        public const int Hidden = 768;
        public const int Heads = 12;
        /// <summary>0 means 4 × Hidden.</summary>
        public const int MlpDim = 0;
        public const int Classes = 1000;
        /// <summary>The paper's JAX code and timm; HuggingFace checkpoints record 1e-12.</summary>
        public const double LayerNormEpsilon = 1e-6;
        public const bool QkvBias = true;
        /// <summary>GroupNorm groups of every stem stage (only used when the model has a convolutional stem).</summary>
        public const int StemGroups = 8;
    }

    /// <summary>Which rule a configuration breaks; the generator maps each to its own diagnostic id.</summary>
    internal enum VitRule
    {
        /// <summary>A size is zero or negative (VIT0004).</summary>
        NotPositive,
        /// <summary>A value outside its domain: an unknown pooling, an epsilon that is not a positive float (VIT0005).</summary>
        BadValue,
        /// <summary>ImageSize is not a multiple of Patch (VIT0002).</summary>
        ImageNotDivisible,
        /// <summary>Hidden is not a multiple of Heads (VIT0003).</summary>
        HiddenNotDivisible,
        /// <summary>Beyond what one 32-bit-indexed block can hold (VIT0009).</summary>
        TooLarge,
        /// <summary>The convolutional stem is malformed: stride, channels, groups, stage count (VIT0012).</summary>
        BadStem,
        /// <summary>The stem's feature map side is not a multiple of Patch (VIT0013).</summary>
        FeatureNotDivisible,
    }

    /// <summary>One broken rule: <see cref="Arguments"/> fill the matching diagnostic's message after the class name.</summary>
    internal sealed class VitProblem
    {
        public VitProblem(VitRule rule, string message, params string[] arguments)
        {
            Rule = rule;
            Message = message;
            Arguments = arguments;
        }

        public VitRule Rule { get; }
        /// <summary>The problem as one clause, e.g. "Hidden 100 is not a multiple of Heads 3".</summary>
        public string Message { get; }
        public string[] Arguments { get; }
    }

    /// <summary>The rules a ViT configuration must satisfy, checked the same way at compile time and at run time.</summary>
    internal static class VitRules
    {
        /// <summary>
        /// Every broken rule, in a fixed order. Divisibility is judged only when every size is positive, and the size
        /// limits only when the shapes divide, since each later rule is meaningless when an earlier one fails.
        /// </summary>
        public static List<VitProblem> Check(int imageSize, int channels, int patch, int layers, int hidden, int heads,
            int mlpDim, int classes, int pooling, double layerNormEpsilon, bool qkvBias, VitStem? stem = null)
        {
            stem ??= VitStem.None;
            var problems = new List<VitProblem>();
            void NotPositive(string property, int value, string hint = "")
            {
                string text = value.ToString(CultureInfo.InvariantCulture);
                problems.Add(new VitProblem(VitRule.NotPositive, property + " is " + text + "; it must be positive" + hint, property, text, hint));
            }
            void Bad(string message) => problems.Add(new VitProblem(VitRule.BadValue, message, message));

            if (imageSize <= 0) NotPositive("ImageSize", imageSize);
            if (channels <= 0) NotPositive("Channels", channels);
            if (patch <= 0) NotPositive("Patch", patch);
            if (layers <= 0) NotPositive("Layers", layers);
            if (hidden <= 0) NotPositive("Hidden", hidden);
            if (heads <= 0) NotPositive("Heads", heads);
            if (mlpDim < 0) NotPositive("MlpDim", mlpDim, " (or 0, meaning 4 × Hidden)");
            if (classes <= 0) NotPositive("Classes", classes);
            if (pooling != 0 && pooling != 1) Bad("Pooling " + pooling.ToString(CultureInfo.InvariantCulture) + " is not a VitPooling value (ClassToken or Mean)");
            // The compiled code uses ε as a float, so it must survive that conversion as a positive, finite value.
            float epsilon = (float)layerNormEpsilon;
            if (!(epsilon > 0) || float.IsInfinity(epsilon))
                Bad("LayerNormEpsilon " + layerNormEpsilon.ToString("R", CultureInfo.InvariantCulture) + " must be a positive number within float range (1.2e-38 to 3.4e38)");
            if (problems.Count > 0) return problems;

            foreach (string stemProblem in stem.Problems(imageSize))
                problems.Add(new VitProblem(VitRule.BadStem, stemProblem, stemProblem));
            if (problems.Count > 0) return problems;

            int featureSize = stem.FeatureSize(imageSize);
            if (!stem.IsEmpty && featureSize % patch != 0)
                problems.Add(new VitProblem(VitRule.FeatureNotDivisible, "the stem's feature map is " + featureSize + " × " + featureSize + ", not a multiple of Patch " + patch,
                    featureSize.ToString(CultureInfo.InvariantCulture), patch.ToString(CultureInfo.InvariantCulture)));
            else if (imageSize % patch != 0)
                problems.Add(new VitProblem(VitRule.ImageNotDivisible, "ImageSize " + imageSize + " is not a multiple of Patch " + patch,
                    imageSize.ToString(CultureInfo.InvariantCulture), patch.ToString(CultureInfo.InvariantCulture)));
            if (hidden % heads != 0)
                problems.Add(new VitProblem(VitRule.HiddenNotDivisible, "Hidden " + hidden + " is not a multiple of Heads " + heads,
                    hidden.ToString(CultureInfo.InvariantCulture), heads.ToString(CultureInfo.InvariantCulture)));
            if (problems.Count > 0) return problems;

            string? tooLarge = VitGeometry.LimitProblem(imageSize, channels, patch, layers, hidden, mlpDim, classes, pooling == 0, qkvBias, stem);
            if (tooLarge != null) problems.Add(new VitProblem(VitRule.TooLarge, tooLarge, tooLarge));
            return problems;
        }
    }
}
