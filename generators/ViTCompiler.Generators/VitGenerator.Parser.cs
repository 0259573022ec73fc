using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using ViTCompiler.Generators.Model;

namespace ViTCompiler.Generators
{
    public sealed partial class VitGenerator
    {
        /// <summary>What the transform step hands on: a spec when the declaration is valid, and the diagnostics.</summary>
        internal sealed record ParseResult(VitSpec? Spec, ImmutableEquatableArray<DiagnosticInfo> Diagnostics);

        /// <summary>Turns one [VitModel] class into a <see cref="VitSpec"/>, or into diagnostics that say what to fix.</summary>
        internal static class Parser
        {
            public static ParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
            {
                var type = (INamedTypeSymbol)context.TargetSymbol;
                var syntax = (ClassDeclarationSyntax)context.TargetNode;
                AttributeData attribute = context.Attributes[0];
                Location classLocation = syntax.Identifier.GetLocation();
                Location attributeLocation = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken).GetLocation() ?? classLocation;
                var diagnostics = new List<DiagnosticInfo>();
                string name = type.Name;

                if (!syntax.Modifiers.Any(SyntaxKind.PartialKeyword))
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotPartial, classLocation, name));
                if (type.ContainingType is not null)
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.Nested, classLocation, name, type.ContainingType.ToDisplayString()));
                if (type.TypeParameters.Length > 0)
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.Generic, classLocation, name));
                if (type.IsStatic || type.IsAbstract)
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.StaticOrAbstract, classLocation, name, type.IsStatic ? "static" : "abstract"));
                if (type.BaseType is { SpecialType: not SpecialType.System_Object } baseType && !type.IsStatic)
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.HasBaseClass, classLocation, name, baseType.ToDisplayString()));

                // An argument that does not bind yet (the user is typing) is the compiler's error to report; until it binds
                // there is nothing to generate, and unboxing its null value would take the whole generator down.
                foreach (KeyValuePair<string, TypedConstant> argument in attribute.NamedArguments)
                    if (argument.Value.Kind == TypedConstantKind.Error || argument.Value.Value is null)
                        return new ParseResult(null, diagnostics.ToEquatable());

                VitShape shape = ReadShape(attribute);
                ValidateShape(shape, name, attributeLocation, diagnostics);
                cancellationToken.ThrowIfCancellationRequested();

                if (diagnostics.Count > 0) return new ParseResult(null, diagnostics.ToEquatable());
                string? ns = type.ContainingNamespace.IsGlobalNamespace ? null : type.ContainingNamespace.ToDisplayString();
                return new ParseResult(new VitSpec(ns, name, shape, Planner.Plan(shape)), ImmutableEquatableArray<DiagnosticInfo>.Empty);
            }

            private static VitShape ReadShape(AttributeData attribute)
            {
                // The defaults are the attribute's own (ViT-B/16 at 224×224, 1000 classes); only set properties appear here.
                int imageSize = 224, channels = 3, patch = 16, layers = 12, hidden = 768, heads = 12, mlpDim = 0, classes = 1000, pooling = 0;
                double epsilon = 1e-6;
                bool qkvBias = true;
                foreach (KeyValuePair<string, TypedConstant> argument in attribute.NamedArguments)
                {
                    object? value = argument.Value.Value;
                    switch (argument.Key)
                    {
                        case "ImageSize": imageSize = (int)value!; break;
                        case "Channels": channels = (int)value!; break;
                        case "Patch": patch = (int)value!; break;
                        case "Layers": layers = (int)value!; break;
                        case "Hidden": hidden = (int)value!; break;
                        case "Heads": heads = (int)value!; break;
                        case "MlpDim": mlpDim = (int)value!; break;
                        case "Classes": classes = (int)value!; break;
                        case "Pooling": pooling = (int)value!; break;
                        case "LayerNormEpsilon": epsilon = (double)value!; break;
                        case "QkvBias": qkvBias = (bool)value!; break;
                    }
                }
                return new VitShape(imageSize, channels, patch, layers, hidden, heads, mlpDim, classes, pooling, epsilon, qkvBias);
            }

            private static void ValidateShape(VitShape s, string name, Location location, List<DiagnosticInfo> diagnostics)
            {
                void NotPositive(string property, int value, string hint = "") =>
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotPositive, location, name, property, value.ToString(), hint));

                int before = diagnostics.Count;
                if (s.ImageSize <= 0) NotPositive("ImageSize", s.ImageSize);
                if (s.Channels <= 0) NotPositive("Channels", s.Channels);
                if (s.Patch <= 0) NotPositive("Patch", s.Patch);
                if (s.Layers <= 0) NotPositive("Layers", s.Layers);
                if (s.Hidden <= 0) NotPositive("Hidden", s.Hidden);
                if (s.Heads <= 0) NotPositive("Heads", s.Heads);
                if (s.MlpDim < 0) NotPositive("MlpDim", s.MlpDim, " (or 0, meaning 4 × Hidden)");
                if (s.Classes <= 0) NotPositive("Classes", s.Classes);
                if (s.Pooling is not (0 or 1))
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.BadValue, location, name, $"Pooling {s.Pooling} is not a VitPooling value (ClassToken or Mean)"));
                // ε is used as a float: it must survive the conversion as a positive, finite value.
                float epsilon = (float)s.LayerNormEpsilon;
                if (!(epsilon > 0) || float.IsInfinity(epsilon))
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.BadValue, location, name,
                        $"LayerNormEpsilon {s.LayerNormEpsilon.ToString("R", CultureInfo.InvariantCulture)} must be a positive number within float range (1.2e-38 to 3.4e38)"));
                if (diagnostics.Count > before) return; // divisibility and size are meaningless on non-positive values

                if (s.ImageSize % s.Patch != 0)
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ImageNotDivisible, location, name, s.ImageSize.ToString(), s.Patch.ToString()));
                if (s.Hidden % s.Heads != 0)
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.HiddenNotDivisible, location, name, s.Hidden.ToString(), s.Heads.ToString()));
                if (diagnostics.Count > before) return;

                string? tooLarge = VitGeometry.LimitProblem(s.ImageSize, s.Channels, s.Patch, s.Layers, s.Hidden, s.MlpDim, s.Classes, !s.MeanPooling, s.QkvBias);
                if (tooLarge is not null)
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.TooLarge, location, name, tooLarge));
            }
        }
    }
}
