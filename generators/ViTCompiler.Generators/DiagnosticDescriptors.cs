using Microsoft.CodeAnalysis;

namespace ViTCompiler.Generators
{
    /// <summary>Every diagnostic the generator reports. Ids are stable; messages say what to change.</summary>
    internal static class DiagnosticDescriptors
    {
        private const string Category = "ViTCompiler";

        public static readonly DiagnosticDescriptor NotPartial = new(
            id: "VIT0001",
            title: "A [VitModel] class must be partial",
            messageFormat: "Class '{0}' has [VitModel] but is not partial; declare it 'partial' so the generated half can be added",
            category: Category, defaultSeverity: DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor ImageNotDivisible = new(
            id: "VIT0002",
            title: "ImageSize must be a multiple of Patch",
            messageFormat: "[VitModel] on '{0}': ImageSize {1} is not a multiple of Patch {2}, so the image cannot be cut into whole patches",
            category: Category, defaultSeverity: DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor HiddenNotDivisible = new(
            id: "VIT0003",
            title: "Hidden must be a multiple of Heads",
            messageFormat: "[VitModel] on '{0}': Hidden {1} is not a multiple of Heads {2}, so the heads cannot share the width equally",
            category: Category, defaultSeverity: DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor NotPositive = new(
            id: "VIT0004",
            title: "Sizes must be positive",
            messageFormat: "[VitModel] on '{0}': {1} is {2}; it must be positive{3}",
            category: Category, defaultSeverity: DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor TooLarge = new(
            id: "VIT0005",
            title: "Model too large",
            messageFormat: "[VitModel] on '{0}': {1}",
            category: Category, defaultSeverity: DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor Nested = new(
            id: "VIT0006",
            title: "A [VitModel] class cannot be nested",
            messageFormat: "Class '{0}' has [VitModel] but is nested inside '{1}'; declare it at namespace level",
            category: Category, defaultSeverity: DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor Generic = new(
            id: "VIT0007",
            title: "A [VitModel] class cannot be generic",
            messageFormat: "Class '{0}' has [VitModel] but is generic; the generated code fixes every shape, so remove the type parameters",
            category: Category, defaultSeverity: DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor HasBaseClass = new(
            id: "VIT0008",
            title: "A [VitModel] class cannot have a base class",
            messageFormat: "Class '{0}' has [VitModel] but derives from '{1}'; generated models derive from ViTCompiler.CompiledVit, so remove the base class",
            category: Category, defaultSeverity: DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor BadValue = new(
            id: "VIT0009",
            title: "Invalid [VitModel] setting",
            messageFormat: "[VitModel] on '{0}': {1}",
            category: Category, defaultSeverity: DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor StaticOrAbstract = new(
            id: "VIT0010",
            title: "A [VitModel] class cannot be static or abstract",
            messageFormat: "Class '{0}' has [VitModel] but is {1}; the generated model is instantiated, so make it a plain class",
            category: Category, defaultSeverity: DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor UnsafeNotAllowed = new(
            id: "VIT0011",
            title: "Generated models need unsafe code",
            messageFormat: "Class '{0}' has [VitModel], but the project does not allow unsafe code, which the generated kernels use; set <AllowUnsafeBlocks>true</AllowUnsafeBlocks> in the project file",
            category: Category, defaultSeverity: DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor BadStem = new(
            id: "VIT0012",
            title: "Invalid convolutional stem",
            messageFormat: "[VitModel] on '{0}': {1}",
            category: Category, defaultSeverity: DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor FeatureNotDivisible = new(
            id: "VIT0013",
            title: "The stem's feature map must be a multiple of Patch",
            messageFormat: "[VitModel] on '{0}': the convolutional stem's feature map is {1} × {1}, not a multiple of Patch {2}, so it cannot be cut into whole patches",
            category: Category, defaultSeverity: DiagnosticSeverity.Error, isEnabledByDefault: true);
    }
}
