using System;
using System.Text;

namespace ViTCompiler.Generators
{
    /// <summary>Writes C# with integer indentation; <see cref="Block"/> opens a brace and closes it on dispose.</summary>
    internal sealed class SourceWriter
    {
        private readonly StringBuilder _text = new();
        private int _indent;

        public SourceWriter Line(string line = "")
        {
            if (line.Length > 0) _text.Append(' ', 4 * _indent).Append(line);
            _text.Append('\n');
            return this;
        }

        /// <summary>Writes several lines (e.g. a raw string literal), each at the current indentation.</summary>
        public SourceWriter Lines(string text)
        {
            foreach (string line in text.Replace("\r\n", "\n").TrimEnd('\n').Split('\n')) Line(line);
            return this;
        }

        public IDisposable Block(string header)
        {
            Line(header);
            Line("{");
            _indent++;
            return new Closer(this, "}");
        }

        /// <summary>A brace block closed by "};" or "});" and the like.</summary>
        public IDisposable Block(string header, string closing)
        {
            Line(header);
            Line("{");
            _indent++;
            return new Closer(this, closing);
        }

        /// <summary>Indents the lines written until disposed, without braces (for bodies whose braces are written by hand).</summary>
        public IDisposable Indented()
        {
            _indent++;
            return new Closer(this, null);
        }

        public override string ToString() => _text.ToString();

        private sealed class Closer : IDisposable
        {
            private readonly SourceWriter _writer;
            private readonly string? _closing;
            public Closer(SourceWriter writer, string? closing) { _writer = writer; _closing = closing; }
            public void Dispose()
            {
                _writer._indent--;
                if (_closing is not null) _writer.Line(_closing);
            }
        }
    }
}
