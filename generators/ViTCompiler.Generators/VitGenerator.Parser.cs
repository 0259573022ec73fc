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
                    if (argument.Value.Kind == TypedConstantKind.Error
                        || (argument.Value.Kind == TypedConstantKind.Array ? argument.Value.Values.Any(v => v.Kind == TypedConstantKind.Error || v.Value is null) : argument.Value.Value is null))
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
                // Only the properties the user set appear as arguments; the rest take the attribute's defaults.
                int imageSize = VitDefaults.ImageSize, channels = VitDefaults.Channels, patch = VitDefaults.Patch, layers = VitDefaults.Layers,
                    hidden = VitDefaults.Hidden, heads = VitDefaults.Heads, mlpDim = VitDefaults.MlpDim, classes = VitDefaults.Classes, pooling = 0;
                double epsilon = VitDefaults.LayerNormEpsilon;
                bool qkvBias = VitDefaults.QkvBias;
                int[] stemChannels = new int[0], stemStrides = new int[0];
                int stemGroups = VitDefaults.StemGroups;
                // An array argument's elements are constants too; `null` is read as no stem.
                static int[] Ints(TypedConstant array) => array.IsNull ? new int[0] : array.Values.Select(v => (int)v.Value!).ToArray();
                foreach (KeyValuePair<string, TypedConstant> argument in attribute.NamedArguments)
                {
                    if (argument.Value.Kind == TypedConstantKind.Array) continue;
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
                        case "StemGroups": stemGroups = (int)value!; break;
                    }
                }
                foreach (KeyValuePair<string, TypedConstant> argument in attribute.NamedArguments)
                {
                    if (argument.Key == "StemChannels") stemChannels = Ints(argument.Value);
                    else if (argument.Key == "StemStrides") stemStrides = Ints(argument.Value);
                }
                return new VitShape(imageSize, channels, patch, layers, hidden, heads, mlpDim, classes, pooling, epsilon, qkvBias,
                    stemChannels.ToEquatable(), stemStrides.ToEquatable(), stemGroups);
            }

            // The rules are VitRules' (shared with VitConfig.Validate); each broken one becomes its own diagnostic.
            private static void ValidateShape(VitShape s, string name, Location location, List<DiagnosticInfo> diagnostics)
            {
                foreach (VitProblem problem in VitRules.Check(s.ImageSize, s.Channels, s.Patch, s.Layers, s.Hidden, s.Heads, s.MlpDim, s.Classes,
                             s.Pooling, s.LayerNormEpsilon, s.QkvBias, s.Stem))
                {
                    DiagnosticDescriptor descriptor = problem.Rule switch
                    {
                        VitRule.NotPositive => DiagnosticDescriptors.NotPositive,
                        VitRule.ImageNotDivisible => DiagnosticDescriptors.ImageNotDivisible,
                        VitRule.HiddenNotDivisible => DiagnosticDescriptors.HiddenNotDivisible,
                        VitRule.TooLarge => DiagnosticDescriptors.TooLarge,
                        VitRule.BadStem => DiagnosticDescriptors.BadStem,
                        VitRule.FeatureNotDivisible => DiagnosticDescriptors.FeatureNotDivisible,
                        _ => DiagnosticDescriptors.BadValue,
                    };
                    var arguments = new string[problem.Arguments.Length + 1];
                    arguments[0] = name;
                    problem.Arguments.CopyTo(arguments, 1);
                    diagnostics.Add(DiagnosticInfo.Create(descriptor, location, arguments));
                }
            }
        }
    }
}
