using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace ViTCompiler.Generators.Model
{
    /// <summary>
    /// A diagnostic as plain data: the descriptor, the message arguments, and a location reduced to file path and span,
    /// so that no syntax tree is kept alive by the incremental pipeline's cache.
    /// </summary>
    internal sealed record DiagnosticInfo(DiagnosticDescriptor Descriptor, ImmutableEquatableArray<string> Arguments, string? FilePath, TextSpan Span, LinePositionSpan LineSpan)
    {
        public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, Location? location, params string[] arguments)
        {
            FileLinePositionSpan lines = location?.GetLineSpan() ?? default;
            return new DiagnosticInfo(descriptor, arguments.ToEquatable(), location?.SourceTree?.FilePath, location?.SourceSpan ?? default, lines.Span);
        }

        public Diagnostic ToDiagnostic()
        {
            Location location = FilePath is null ? Location.None : Location.Create(FilePath, Span, LineSpan);
            object[] args = new object[Arguments.Count];
            for (int i = 0; i < args.Length; i++) args[i] = Arguments[i];
            return Diagnostic.Create(Descriptor, location, args);
        }
    }
}
