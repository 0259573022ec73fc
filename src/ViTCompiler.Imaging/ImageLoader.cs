using System.Buffers;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Pbm;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Tga;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Metadata;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using SixLabors.ImageSharp.Processing.Processors.Transforms;
using ViTCompiler.IO;

namespace ViTCompiler.Imaging;

/// <summary>
/// Images that a batch load produced, and the files it skipped.
/// </summary>
/// <param name="Pixels">Count × C × S × S normalised floats (NCHW): the loaded images, packed, in input order. May be longer than needed when the caller supplied it.</param>
/// <param name="Count">Images loaded.</param>
/// <param name="Paths">The loaded files, index = image index in <paramref name="Pixels"/>.</param>
/// <param name="SourceIndices">For each loaded image, its index in the list of paths given.</param>
/// <param name="Failures">The files that could not be used, in input order, with the reason.</param>
public sealed record ImageBatch(float[] Pixels, int Count, IReadOnlyList<string> Paths, IReadOnlyList<int> SourceIndices, IReadOnlyList<ImageLoadFailure> Failures);

/// <summary>
/// Loads image files (PNG, JPEG, BMP, GIF, WebP, TIFF, TGA, PBM) as model inputs: decode to RGB or grey, resize,
/// crop, normalise, and write C × S × S floats. Safe to use from several threads at once.
/// </summary>
/// <remarks>
/// Files are treated as untrusted. Each must be a regular file (not a pipe or device) and is read whole (up to
/// <see cref="ImagePreprocessing.MaxFileBytes"/>); a PNG's chunks must be complete, with correct checksums and an end
/// chunk, and a JPEG must have its end marker (see <see cref="ImagePreprocessing.AllowTruncatedJpeg"/>). The format and
/// dimensions are identified from the header alone, and a file is refused before decoding when it declares more than
/// <see cref="ImagePreprocessing.MaxPixels"/> pixels, has an extension naming a different format, or is not an image.
/// Metadata (text, EXIF, ICC profiles) is not decoded at all. Animated GIF and multi-page TIFF files are decoded to
/// their first frame only. Whatever the decoder throws, running out of memory included, is turned into one
/// <see cref="ImageLoadException"/> naming the file, so one bad file never ends a batch.
/// EXIF orientation is not applied, matching PIL's <c>Image.open</c> and therefore HuggingFace and torchvision.
/// </remarks>
public sealed class ImageLoader
{
    private readonly Configuration _configuration;
    private readonly IResampler _resampler;

    /// <summary>
    /// ImageSharp 2.1 reads EXIF value types with <c>Enum.GetValues(typeof(ExifDataType))</c>, which under NativeAOT needs
    /// the <c>ExifDataType[]</c> type to have been compiled; nothing creates one, so every TIFF and every JPEG, PNG or
    /// WebP carrying EXIF metadata failed to decode in a published binary ("ExifDataType[] is missing native code").
    /// Creating one here, reached from the constructor, makes the compiler generate it for every application that
    /// loads images. (This is the IL3050 warning ILC reports inside ImageSharp.)
    /// </summary>
    private static readonly Array s_nativeAotExifTypes = new ExifDataType[1];

    /// <summary>A loader with <paramref name="options"/> (default: <see cref="ImagePreprocessing.Google"/> at 224).</summary>
    /// <exception cref="ArgumentException">An option is unusable; the message names it.</exception>
    public ImageLoader(ImagePreprocessing? options = null)
    {
        Options = (options ?? ImagePreprocessing.Google()).Validate();
        GC.KeepAlive(s_nativeAotExifTypes);
        // A configuration of our own: Configuration.Default.Clone() would share the global format registry.
        _configuration = new Configuration(
            new PngConfigurationModule(), new JpegConfigurationModule(), new GifConfigurationModule(), new BmpConfigurationModule(),
            new PbmConfigurationModule(), new TgaConfigurationModule(), new TiffConfigurationModule(), new WebpConfigurationModule());
        // Metadata is never used here (EXIF orientation is not applied, colour profiles are not converted), so the decoders
        // skip it. That also closes a door: a PNG's zTXt/iTXt text chunks are zlib streams that ImageSharp would otherwise
        // inflate whole, during Identify and before any size check, so 1 MB of file could demand gigabytes (issue 10).
        ImageFormatManager formats = _configuration.ImageFormatsManager;
        formats.SetDecoder(PngFormat.Instance, new PngDecoder { IgnoreMetadata = true });
        formats.SetDecoder(JpegFormat.Instance, new JpegDecoder { IgnoreMetadata = true });
        formats.SetDecoder(GifFormat.Instance, new GifDecoder { IgnoreMetadata = true, DecodingMode = FrameDecodingMode.First });
        formats.SetDecoder(TiffFormat.Instance, new TiffDecoder { IgnoreMetadata = true, DecodingMode = FrameDecodingMode.First });
        formats.SetDecoder(WebpFormat.Instance, new WebpDecoder { IgnoreMetadata = true });
        _resampler = Options.Resampling switch
        {
            Resampling.Bicubic => KnownResamplers.Bicubic,
            Resampling.Nearest => KnownResamplers.NearestNeighbor,
            Resampling.Lanczos => KnownResamplers.Lanczos3,
            Resampling.Box => KnownResamplers.Box,
            _ => KnownResamplers.Triangle,
        };
    }

    /// <summary>The preprocessing this loader applies.</summary>
    public ImagePreprocessing Options { get; }

    /// <summary>Values per loaded image: C × S × S.</summary>
    public int ValuesPerImage => Options.ValuesPerImage;

    /// <summary>
    /// Loads <paramref name="path"/> as normalised C × S × S floats (channel planes R, G, B, or one grey plane)
    /// into <paramref name="destination"/>.
    /// </summary>
    /// <exception cref="ImageLoadException">The file cannot be used; the message says why.</exception>
    public void Load(string path, Span<float> destination)
    {
        CheckDestination(destination.Length);
        byte[] bytes = ArrayPool<byte>.Shared.Rent(ValuesPerImage);
        try
        {
            LoadBytes(path, bytes.AsSpan(0, ValuesPerImage));
            Options.Normalization.Apply(bytes.AsSpan(0, ValuesPerImage), destination, Options.Channels);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    /// <summary>As <see cref="Load(string, Span{float})"/> for an encoded image already in memory; <paramref name="name"/> is used in errors.</summary>
    public void Load(byte[] encoded, string name, Span<float> destination)
    {
        CheckDestination(destination.Length);
        byte[] bytes = ArrayPool<byte>.Shared.Rent(ValuesPerImage);
        try
        {
            LoadBytes(encoded, name, bytes.AsSpan(0, ValuesPerImage));
            Options.Normalization.Apply(bytes.AsSpan(0, ValuesPerImage), destination, Options.Channels);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    /// <summary>
    /// Loads <paramref name="path"/> resized and cropped but not normalised: C × S × S bytes (0–255) into
    /// <paramref name="destination"/>, the layout of <see cref="ViTCompiler.Data.LabeledImages"/>.
    /// </summary>
    /// <exception cref="ImageLoadException">The file cannot be used; the message says why.</exception>
    public void LoadBytes(string path, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(path);
        LoadBytes(ReadFile(path), path, destination);
    }

    /// <summary>As <see cref="LoadBytes(string, Span{byte})"/> for an encoded image in memory; <paramref name="name"/> is used in errors.</summary>
    public void LoadBytes(byte[] encoded, string name, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        ArgumentNullException.ThrowIfNull(name);
        if (destination.Length < ValuesPerImage)
            throw new ArgumentException($"The destination holds {destination.Length:N0} bytes; one {Options.Channels} × {Options.Size} × {Options.Size} image needs {ValuesPerImage:N0}.", nameof(destination));
        if (encoded.Length == 0) throw new ImageLoadException(name, "the file is empty (0 bytes).", ImageLoadProblem.Damaged);
        using Image<Rgb24> image = Decode(encoded, name);
        try
        {
            if (Options.Color == ColorMode.Grey)
            {
                using Image<L8> grey = ToGrey(image);
                Fit(grey, name);
                grey.CopyPixelDataTo(destination[..ValuesPerImage]);
            }
            else
            {
                Fit(image, name);
                CopyPlanar(image, destination);
            }
        }
        catch (ImageLoadException) { throw; }
        catch (Exception e) when (e is ImageProcessingException or InvalidOperationException || IsMemoryFailure(e))
        {
            throw new ImageLoadException(name, $"resizing failed ({e.Message}).", e);
        }
    }

    /// <summary>
    /// Loads every path it can into one new array; a file that fails is reported in
    /// <see cref="ImageBatch.Failures"/> and the rest are still loaded.
    /// </summary>
    public ImageBatch LoadBatch(IReadOnlyList<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        long needed = (long)paths.Count * ValuesPerImage;
        if (needed > Array.MaxLength)
            throw new ArgumentException($"{paths.Count:N0} images of {ValuesPerImage:N0} floats do not fit in one array; load them in smaller batches.", nameof(paths));
        ImageBatch batch = LoadBatch(paths, new float[needed]);
        if (batch.Count == paths.Count) return batch;
        return batch with { Pixels = batch.Pixels.AsSpan(0, batch.Count * ValuesPerImage).ToArray() };
    }

    /// <summary>
    /// Loads every path it can into <paramref name="destination"/> (at least paths.Count × C × S × S floats),
    /// packing the successes at the front in input order; failures are reported, not thrown.
    /// </summary>
    public ImageBatch LoadBatch(IReadOnlyList<string> paths, float[] destination)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(destination);
        if (destination.Length < (long)paths.Count * ValuesPerImage)
            throw new ArgumentException($"The destination holds {destination.Length:N0} floats; {paths.Count} images need {(long)paths.Count * ValuesPerImage:N0}.", nameof(destination));
        var loaded = new List<string>(paths.Count);
        var indices = new List<int>(paths.Count);
        var failures = new List<ImageLoadFailure>();
        for (int i = 0; i < paths.Count; i++)
        {
            try
            {
                Load(paths[i], destination.AsSpan(loaded.Count * ValuesPerImage, ValuesPerImage));
                loaded.Add(paths[i]);
                indices.Add(i);
            }
            catch (ImageLoadException e)
            {
                failures.Add(new ImageLoadFailure(e.Path, e.Problem, e));
            }
        }
        return new ImageBatch(destination, loaded.Count, loaded, indices, failures);
    }

    private void CheckDestination(int length)
    {
        if (length < ValuesPerImage)
            throw new ArgumentException($"The destination holds {length:N0} floats; one {Options.Channels} × {Options.Size} × {Options.Size} image needs {ValuesPerImage:N0}.", "destination");
    }

    private byte[] ReadFile(string path)
    {
        try
        {
            if (!File.Exists(path))
                throw new ImageLoadException(path, Directory.Exists(path) ? "this is a folder, not an image file." : "the file does not exist.");
            using FileStream stream = FileGuard.OpenRegularFile(path, problem => new ImageLoadException(path, $"this {problem}."), bufferSize: 1);
            long length = stream.Length;
            if (length == 0) throw new ImageLoadException(path, "the file is empty (0 bytes).", ImageLoadProblem.Damaged);
            if (length > Options.MaxFileBytes)
                throw new ImageLoadException(path, $"the file is {length:N0} bytes, above the limit of {Options.MaxFileBytes:N0} (ImagePreprocessing.MaxFileBytes); raise the limit only for files you trust.", ImageLoadProblem.TooLarge);
            byte[] bytes = new byte[length];
            stream.ReadExactly(bytes);
            return bytes;
        }
        catch (Exception e) when (e is IOException and not ImageLoadException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ImageLoadException(path, $"the file cannot be read ({e.Message}).", e);
        }
    }

    /// <summary>Identifies, checks and decodes; every failure becomes an <see cref="ImageLoadException"/>.</summary>
    private Image<Rgb24> Decode(byte[] encoded, string name)
    {
        // The chunk structure first: a cut-off PNG decodes "successfully" with its missing rows black.
        if (encoded.AsSpan().StartsWith(PngSignature) && PngChunks.Problem(encoded) is string damaged)
            throw new ImageLoadException(name, $"{damaged} (an interrupted download or copy?); re-download or re-export the file.", ImageLoadProblem.Damaged);

        IImageInfo? info;
        IImageFormat? format;
        try
        {
            info = Image.Identify(_configuration, encoded, out format);
        }
        catch (UnknownImageFormatException)
        {
            info = null;
            format = null;
        }
        catch (Exception e) when (IsMemoryFailure(e))
        {
            throw OutOfMemory(name, e);
        }
        catch (Exception e)
        {
            throw new ImageLoadException(name, $"the image header is damaged, so its size cannot be read ({e.Message.TrimEnd('.')}); re-download or re-export the file.", ImageLoadProblem.Damaged, e);
        }
        if (info is null || format is null)
            throw new ImageLoadException(name, $"this is not an image in a supported format (PNG, JPEG, BMP, GIF, WebP, TIFF, TGA, PBM); it starts with the bytes {Hex(encoded)}.", ImageLoadProblem.NotAnImage);

        string extension = Path.GetExtension(name).TrimStart('.');
        if (!Options.AllowExtensionMismatch && extension.Length > 0
            && _configuration.ImageFormatsManager.FindFormatByFileExtension(extension) is { } named && named != format)
            throw new ImageLoadException(name, $"the name says {named.Name} (.{extension}) but the content is {format.Name}; rename the file, or set ImagePreprocessing.AllowExtensionMismatch if this is expected.", ImageLoadProblem.NotAnImage);

        long pixels = (long)info.Width * info.Height;
        if (info.Width <= 0 || info.Height <= 0)
            throw new ImageLoadException(name, $"the {format.Name} header declares an empty {info.Width} × {info.Height} image.", ImageLoadProblem.Damaged);
        if (pixels > Options.MaxPixels)
            throw new ImageLoadException(name,
                $"the {format.Name} header declares {info.Width:N0} × {info.Height:N0} = {pixels:N0} pixels, above the limit of {Options.MaxPixels:N0} " +
                "(ImagePreprocessing.MaxPixels), so it was not decoded; raise the limit only for files you trust.", ImageLoadProblem.TooLarge);

        // After the pixel limit, which bounds the inflating this does.
        if (format is PngFormat && PngChunks.ImageDataProblem(encoded) is string shortData)
            throw new ImageLoadException(name, $"{shortData}; re-download or re-export the file.", ImageLoadProblem.Damaged);

        if (format is JpegFormat && !Options.AllowTruncatedJpeg && !HasJpegEnd(encoded))
            throw new ImageLoadException(name,
                "the JPEG data is truncated: the image data has no end-of-image marker (an interrupted download or copy?). " +
                "Set ImagePreprocessing.AllowTruncatedJpeg to decode what is there, with the missing part grey.", ImageLoadProblem.Damaged);

        try
        {
            return Image.Load<Rgb24>(_configuration, encoded, _configuration.ImageFormatsManager.FindDecoder(format));
        }
        catch (Exception e) when (IsMemoryFailure(e))
        {
            throw OutOfMemory(name, e);
        }
        catch (Exception e)
        {
            (string what, ImageLoadProblem kind) = e switch
            {
                InvalidImageContentException => ("is damaged or truncated", ImageLoadProblem.Damaged),
                NotSupportedException or ImageFormatException => ("uses a variant the decoder does not support", ImageLoadProblem.Unsupported),
                _ => ("could not be decoded", ImageLoadProblem.Damaged),
            };
            throw new ImageLoadException(name, $"the {format.Name} data {what} ({e.Message.TrimEnd('.')}); re-download or re-export the file.", kind, e);
        }
    }

    private static ReadOnlySpan<byte> PngSignature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    // One image that needs more memory than there is must not end a batch: its arrays are garbage once this unwinds.
    private static bool IsMemoryFailure(Exception e) => e is OutOfMemoryException or SixLabors.ImageSharp.Memory.InvalidMemoryOperationException;

    private static ImageLoadException OutOfMemory(string name, Exception e) =>
        new(name, $"decoding it needs more memory than is available ({e.Message.TrimEnd('.')}); lower ImagePreprocessing.MaxPixels, or decode it on a larger machine.", ImageLoadProblem.TooLarge, e);

    /// <summary>
    /// Whether a JPEG's compressed image data is followed by an end-of-image marker (FF D9). The decoder fills a
    /// missing tail with grey without complaint; PIL refuses such files ("image file is truncated"), and so do we.
    /// </summary>
    /// <remarks>
    /// The header segments are skipped by their lengths, so an end marker inside an embedded thumbnail (APP1) does
    /// not count; after the first start-of-scan, FF D9 cannot occur except as the marker, since the entropy-coded
    /// data stuffs every FF byte as FF 00.
    /// </remarks>
    private static bool HasJpegEnd(ReadOnlySpan<byte> data)
    {
        int position = 2; // after SOI (FF D8)
        while (true)
        {
            while (position < data.Length && data[position] == 0xFF && position + 1 < data.Length && data[position + 1] == 0xFF) position++; // fill bytes
            if (position + 1 >= data.Length || data[position] != 0xFF) return false;
            byte marker = data[position + 1];
            if (marker == 0xDA) break; // start of scan: the image data follows
            if (marker == 0xD9) return false; // end before any image data
            if (marker is 0x01 or (>= 0xD0 and <= 0xD7))
            {
                position += 2;
                continue;
            }
            if (position + 3 >= data.Length) return false;
            position += 2 + (data[position + 2] << 8 | data[position + 3]);
        }
        return data[position..].IndexOf((ReadOnlySpan<byte>)[0xFF, 0xD9]) >= 0;
    }

    /// <summary>Scales and crops <paramref name="image"/> in place to Size × Size as <see cref="ImagePreprocessing.Resize"/> says.</summary>
    private void Fit<TPixel>(Image<TPixel> image, string name) where TPixel : unmanaged, IPixel<TPixel>
    {
        int size = Options.Size;
        int width = image.Width, height = image.Height;
        if (Options.Resize == ResizeStrategy.Direct)
        {
            if (width != size || height != size) image.Mutate(c => c.Resize(Resize(size, size)));
            return;
        }

        // Shorter side to R, longer side R·long/short rounded down (exactly, in integers, where Python's float
        // division could land a hair below a whole number), then the central square, offsets rounded down.
        int shorter = Options.EffectiveShorterSide;
        long longer = (long)shorter * Math.Max(width, height) / Math.Min(width, height);
        if (longer * shorter > Options.MaxPixels || longer > int.MaxValue)
            throw new ImageLoadException(name,
                $"its aspect ratio ({width} × {height}) is too extreme: scaling the shorter side to {shorter} would make {longer:N0} × {shorter} pixels, " +
                $"above the limit of {Options.MaxPixels:N0} (ImagePreprocessing.MaxPixels).", ImageLoadProblem.TooLarge);
        int newWidth = width <= height ? shorter : (int)longer;
        int newHeight = width <= height ? (int)longer : shorter;
        int top = (newHeight - size) / 2, left = (newWidth - size) / 2;
        image.Mutate(c =>
        {
            if (newWidth != width || newHeight != height) c.Resize(Resize(newWidth, newHeight));
            if (newWidth != size || newHeight != size) c.Crop(new Rectangle(left, top, size, size));
        });
    }

    private ResizeOptions Resize(int width, int height) => new()
    {
        Size = new Size(width, height),
        Mode = ResizeMode.Stretch,
        Sampler = _resampler,
        Compand = false, // PIL and torchvision resize the stored (gamma-encoded) values directly
    };

    /// <summary>Luma with PIL's fixed-point ITU-R 601 weights: L = (19595 R + 38470 G + 7471 B + 2^15) >> 16.</summary>
    private Image<L8> ToGrey(Image<Rgb24> image)
    {
        var grey = new Image<L8>(_configuration, image.Width, image.Height);
        image.ProcessPixelRows(grey, static (source, target) =>
        {
            for (int y = 0; y < source.Height; y++)
            {
                Span<Rgb24> from = source.GetRowSpan(y);
                Span<L8> to = target.GetRowSpan(y);
                for (int x = 0; x < from.Length; x++)
                {
                    Rgb24 p = from[x];
                    to[x] = new L8((byte)((p.R * 19595 + p.G * 38470 + p.B * 7471 + 0x8000) >> 16));
                }
            }
        });
        return grey;
    }

    /// <summary>Interleaved R G B rows → three planes R, G, B.</summary>
    private static void CopyPlanar(Image<Rgb24> image, Span<byte> destination)
    {
        int plane = image.Width * image.Height;
        Rgb24[] rented = ArrayPool<Rgb24>.Shared.Rent(plane);
        try
        {
            Span<Rgb24> pixels = rented.AsSpan(0, plane);
            image.CopyPixelDataTo(pixels);
            Span<byte> red = destination[..plane], green = destination.Slice(plane, plane), blue = destination.Slice(2 * plane, plane);
            for (int i = 0; i < plane; i++)
            {
                red[i] = pixels[i].R;
                green[i] = pixels[i].G;
                blue[i] = pixels[i].B;
            }
        }
        finally
        {
            ArrayPool<Rgb24>.Shared.Return(rented);
        }
    }

    private static string Hex(byte[] data) =>
        string.Join(' ', data.Take(8).Select(b => b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture)));
}
