namespace ViTCompiler.Analysis;

/// <summary>
/// One number per image patch, laid out as the model's patch grid: row 0 is the top row of patches, column 0 the left
/// column — the order in which a ViT flattens patches into tokens.
/// </summary>
public sealed class PatchMap
{
    private readonly double[] _values;

    /// <summary>Wraps <paramref name="values"/> (row-major, <paramref name="rows"/> × <paramref name="columns"/>; not copied).</summary>
    public PatchMap(int rows, int columns, double[] values)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        ArgumentNullException.ThrowIfNull(values);
        if (values.Length != rows * columns)
            throw new ArgumentException($"A {rows} × {columns} map needs {rows * columns} values; got {values.Length}.", nameof(values));
        Rows = rows;
        Columns = columns;
        _values = values;
    }

    /// <summary>Patches per image column (the grid's height).</summary>
    public int Rows { get; }

    /// <summary>Patches per image row (the grid's width).</summary>
    public int Columns { get; }

    /// <summary>The values, row-major.</summary>
    public ReadOnlySpan<double> Values => _values;

    /// <summary>The value of the patch at (<paramref name="row"/>, <paramref name="column"/>).</summary>
    public double this[int row, int column]
    {
        get
        {
            if ((uint)row >= (uint)Rows) throw new ArgumentOutOfRangeException(nameof(row), row, $"The map has {Rows} rows.");
            if ((uint)column >= (uint)Columns) throw new ArgumentOutOfRangeException(nameof(column), column, $"The map has {Columns} columns.");
            return _values[row * Columns + column];
        }
    }

    /// <summary>The smallest value.</summary>
    public double Min => _values.Min();

    /// <summary>The largest value.</summary>
    public double Max => _values.Max();

    /// <summary>The sum of the values (for an attention map: the attention mass that lands on patches).</summary>
    public double Sum => _values.Sum();

    /// <summary>A copy as a [row, column] array.</summary>
    public double[,] ToArray()
    {
        var result = new double[Rows, Columns];
        for (int r = 0; r < Rows; r++)
            for (int c = 0; c < Columns; c++)
                result[r, c] = _values[r * Columns + c];
        return result;
    }
}
