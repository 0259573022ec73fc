namespace ViTCompiler.Data;

/// <summary>
/// A labelled image set held in memory as compactly as the files it came from: one byte per channel value (0–255),
/// images stored one after another, each as C × H × W (channel planes, rows top to bottom). Floats are made only a
/// batch at a time (see <see cref="ImageBatcher"/>), so 60,000 Fashion-MNIST images take 47 MB rather than 188 MB.
/// </summary>
/// <remarks>
/// Instances are immutable: the constructor takes ownership of the arrays it is given, and nothing here writes to
/// them. Subsets (<see cref="Slice"/>, <see cref="Select"/>, the split helpers) copy.
/// </remarks>
public sealed class LabeledImages
{
    private readonly byte[] _pixels;
    private readonly int[] _labels;
    private readonly string[]? _classNames;

    /// <summary>
    /// Wraps <paramref name="pixels"/> (Count × C × H × W bytes) and <paramref name="labels"/> (Count values in
    /// [0, <paramref name="classes"/>)) without copying them, after checking that they agree.
    /// </summary>
    /// <param name="pixels">All images, each C × H × W bytes, back to back. Owned by the new instance from now on.</param>
    /// <param name="labels">One label per image. Owned by the new instance from now on.</param>
    /// <param name="channels">C: 1 for grey, 3 for RGB.</param>
    /// <param name="height">H in pixels.</param>
    /// <param name="width">W in pixels.</param>
    /// <param name="classes">Number of classes; every label must be below it.</param>
    /// <param name="classNames">Optional names, one per class, index = label.</param>
    /// <exception cref="ArgumentException">Sizes disagree, a label is out of range, or the names do not match the classes.</exception>
    public LabeledImages(byte[] pixels, int[] labels, int channels, int height, int width, int classes, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        if (channels <= 0 || height <= 0 || width <= 0)
            throw new ArgumentException($"Image dimensions must be positive; got C × H × W = {channels} × {height} × {width}.");
        long perImage = (long)channels * height * width;
        if (perImage > Array.MaxLength)
            throw new ArgumentException($"One image of {channels} × {height} × {width} = {perImage:N0} bytes is too large for an in-memory image set.");
        if (classes <= 0)
            throw new ArgumentException($"The number of classes must be positive; got {classes}.", nameof(classes));
        if ((long)labels.Length * perImage != pixels.Length)
            throw new ArgumentException(
                $"{labels.Length:N0} labels need {labels.Length * perImage:N0} pixel bytes ({channels} × {height} × {width} each), " +
                $"but {pixels.Length:N0} were given. Check that images and labels come from the same split.");
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classes)
                throw new ArgumentException($"Label {labels[i]} of image {i} is outside [0, {classes}); the set declares {classes} classes.", nameof(labels));
        }
        if (classNames is not null)
        {
            if (classNames.Count != classes)
                throw new ArgumentException($"{classNames.Count} class names were given for {classes} classes; give one name per class or none.", nameof(classNames));
            _classNames = new string[classes];
            for (int c = 0; c < classes; c++)
            {
                _classNames[c] = classNames[c] ?? throw new ArgumentException($"Class name {c} is null.", nameof(classNames));
            }
        }
        _pixels = pixels;
        _labels = labels;
        Channels = channels;
        Height = height;
        Width = width;
        Classes = classes;
    }

    /// <summary>Number of images.</summary>
    public int Count => _labels.Length;

    /// <summary>C: channels per image (1 grey, 3 RGB).</summary>
    public int Channels { get; }

    /// <summary>H: rows per image.</summary>
    public int Height { get; }

    /// <summary>W: columns per image.</summary>
    public int Width { get; }

    /// <summary>Number of classes; every label is in [0, Classes).</summary>
    public int Classes { get; }

    /// <summary>Bytes (and, once normalised, floats) per image: C × H × W.</summary>
    public int PixelsPerImage => Channels * Height * Width;

    /// <summary>All images, Count × C × H × W bytes.</summary>
    public ReadOnlySpan<byte> Pixels => _pixels;

    /// <summary>All labels, one per image.</summary>
    public ReadOnlySpan<int> Labels => _labels;

    /// <summary>Class names indexed by label, or null when the source had none.</summary>
    public IReadOnlyList<string>? ClassNames => _classNames;

    /// <summary>The C × H × W bytes of image <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> Image(int index)
    {
        if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"The set holds {Count} images.");
        return new ReadOnlySpan<byte>(_pixels, index * PixelsPerImage, PixelsPerImage);
    }

    /// <summary>The label of image <paramref name="index"/>.</summary>
    public int Label(int index) => _labels[index];

    /// <summary>The name of class <paramref name="label"/>, or the number as text when the set has no names.</summary>
    public string ClassName(int label)
    {
        if ((uint)label >= (uint)Classes) throw new ArgumentOutOfRangeException(nameof(label), label, $"The set has {Classes} classes.");
        return _classNames?[label] ?? label.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>How many images carry each label (index = label).</summary>
    public int[] CountPerClass()
    {
        int[] counts = new int[Classes];
        foreach (int label in _labels) counts[label]++;
        return counts;
    }

    /// <summary>A copy of images [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>).</summary>
    public LabeledImages Slice(int start, int count)
    {
        if (start < 0 || count < 0 || start > Count - count)
            throw new ArgumentOutOfRangeException(nameof(count), $"Images [{start}, {start + (long)count}) are not inside a set of {Count}.");
        byte[] pixels = _pixels.AsSpan(start * PixelsPerImage, count * PixelsPerImage).ToArray();
        int[] labels = _labels.AsSpan(start, count).ToArray();
        return new LabeledImages(pixels, labels, Channels, Height, Width, Classes, _classNames);
    }

    /// <summary>A copy holding the images at <paramref name="indices"/>, in that order (repeats allowed).</summary>
    public LabeledImages Select(ReadOnlySpan<int> indices)
    {
        int perImage = PixelsPerImage;
        long total = (long)indices.Length * perImage;
        if (total > Array.MaxLength)
            throw new ArgumentException($"{indices.Length:N0} images of {perImage:N0} bytes do not fit in one image set.", nameof(indices));
        byte[] pixels = new byte[total];
        int[] labels = new int[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            int source = indices[i];
            if ((uint)source >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(indices), source, $"Index {i} of the selection is {source}, outside a set of {Count}.");
            _pixels.AsSpan(source * perImage, perImage).CopyTo(pixels.AsSpan(i * perImage, perImage));
            labels[i] = _labels[source];
        }
        return new LabeledImages(pixels, labels, Channels, Height, Width, Classes, _classNames);
    }

    /// <summary>
    /// Splits off the last <paramref name="validationCount"/> images as a validation set: (Count − k first images,
    /// k last images). Fashion-MNIST and MNIST files are already in random order, so this is a fair split for them;
    /// for a set sorted by class (an image folder), <see cref="Select"/> a shuffled index list instead.
    /// </summary>
    public (LabeledImages Train, LabeledImages Validation) SplitLast(int validationCount)
    {
        if (validationCount < 0 || validationCount > Count)
            throw new ArgumentOutOfRangeException(nameof(validationCount), validationCount, $"Cannot hold out {validationCount} of {Count} images.");
        return (Slice(0, Count - validationCount), Slice(Count - validationCount, validationCount));
    }

    /// <summary>Splits off the first <paramref name="validationCount"/> images: (k first images, Count − k last images).</summary>
    public (LabeledImages Validation, LabeledImages Train) SplitFirst(int validationCount)
    {
        if (validationCount < 0 || validationCount > Count)
            throw new ArgumentOutOfRangeException(nameof(validationCount), validationCount, $"Cannot hold out {validationCount} of {Count} images.");
        return (Slice(0, validationCount), Slice(validationCount, Count - validationCount));
    }

    /// <summary>"10,000 images, 1 × 28 × 28, 10 classes".</summary>
    public override string ToString() => $"{Count:N0} images, {Channels} × {Height} × {Width}, {Classes} classes";
}
