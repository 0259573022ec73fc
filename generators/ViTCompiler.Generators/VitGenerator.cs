using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using ViTCompiler.Generators.Model;

namespace ViTCompiler.Generators
{
    /// <summary>
    /// Emits, for every class marked [VitModel], a shape-fixed Vision Transformer: constants, parameter layout, packed
    /// weights, the forward pass and the register-tiled micro-kernels for each instruction set.
    /// </summary>
    [Generator(LanguageNames.CSharp)]
    public sealed partial class VitGenerator : IIncrementalGenerator
    {
        public const string AttributeName = "ViTCompiler.VitModelAttribute";

        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            IncrementalValuesProvider<ParseResult> models = context.SyntaxProvider
                .ForAttributeWithMetadataName(AttributeName,
                    static (node, _) => node is ClassDeclarationSyntax,
                    static (syntax, cancellationToken) => Parser.Parse(syntax, cancellationToken))
                .WithTrackingName(TrackingNames.Models);

            IncrementalValuesProvider<DiagnosticInfo> diagnostics = models
                .SelectMany(static (result, _) => result.Diagnostics)
                .WithTrackingName(TrackingNames.Diagnostics);
            context.RegisterSourceOutput(diagnostics, static (output, diagnostic) => output.ReportDiagnostic(diagnostic.ToDiagnostic()));

            // Only a bool leaves the compilation, so an edit elsewhere does not re-run the emitter.
            IncrementalValueProvider<bool> allowsUnsafe = context.CompilationProvider
                .Select(static (compilation, _) => compilation.Options is CSharpCompilationOptions { AllowUnsafe: true })
                .WithTrackingName(TrackingNames.AllowsUnsafe);

            IncrementalValuesProvider<(VitSpec Spec, bool AllowsUnsafe)> specs = models
                .Where(static result => result.Spec is not null)
                .Select(static (result, _) => result.Spec!)
                .Combine(allowsUnsafe)
                .WithTrackingName(TrackingNames.Specs);

            context.RegisterSourceOutput(specs, static (output, item) =>
            {
                if (!item.AllowsUnsafe)
                {
                    output.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.UnsafeNotAllowed, Location.None, item.Spec.ClassName));
                    return;
                }
                output.AddSource(Emitter.HintName(item.Spec), Emitter.Emit(item.Spec));
            });
        }

        /// <summary>Names of the pipeline steps, for tests that check what the incremental cache reused.</summary>
        public static class TrackingNames
        {
            public const string Models = nameof(Models);
            public const string Diagnostics = nameof(Diagnostics);
            public const string AllowsUnsafe = nameof(AllowsUnsafe);
            public const string Specs = nameof(Specs);
        }
    }
}
