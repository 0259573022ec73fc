using System.Buffers.Binary;
using System.IO.Compression;
using ViTCompiler.Data;
using Xunit;

namespace ViTCompiler.Tests.Data;

public class IdxTests
{
    // Three 2 × 3 images whose bytes are all different, so any misalignment shows.
    private static readonly byte[] s_pixels = Enumerable.Range(0, 18).Select(i => (byte)(i * 13 + 7)).ToArray();
    private static readonly byte[] s_labels = [2, 0, 1];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Written_files_read_back_identically(bool gzip)
    {
        using var temp = new TempFolder();
        string suffix = gzip ? ".gz" : "";
        string images = temp.File("images-idx3-ubyte" + suffix), labels = temp.File("labels-idx1-ubyte" + suffix);
        Idx.WriteImages(images, s_pixels, count: 3, rows: 2, columns: 3);
        Idx.WriteLabels(labels, s_labels);

        byte[] raw = File.ReadAllBytes(images);
        Assert.Equal(gzip, raw[0] == 0x1F && raw[1] == 0x8B);

        IdxImages read = Idx.ReadImages(images);
        Assert.Equal((3, 2, 3), (read.Count, read.Rows, read.Columns));
        Assert.Equal(s_pixels, read.Pixels);
        Assert.Equal(s_labels, Idx.ReadLabels(labels));

        LabeledImages set = Idx.Load(images, labels, classes: 4);
        Assert.Equal((3, 1, 2, 3, 4), (set.Count, set.Channels, set.Height, set.Width, set.Classes));
        Assert.Equal(s_pixels, set.Pixels.ToArray());
        Assert.Equal([2, 0, 1], set.Labels.ToArray());
        Assert.Equal(s_pixels[6..12], set.Image(1).ToArray());
        Assert.Null(set.ClassNames);
        Assert.Equal("3", set.ClassName(3));
    }

    [Fact]
    public void Compression_is_detected_from_the_content_not_the_name()
    {
        using var temp = new TempFolder();
        string gz = temp.File("a.gz"), plainNamedGz = temp.File("b.gz");
        Idx.WriteImages(gz, s_pixels, 3, 2, 3);
        Idx.WriteImages(temp.File("b"), s_pixels, 3, 2, 3);
        File.Move(gz, temp.File("gzip-without-suffix"));
        File.Move(temp.File("b"), plainNamedGz);

        Assert.Equal(s_pixels, Idx.ReadImages(temp.File("gzip-without-suffix")).Pixels);
        Assert.Equal(s_pixels, Idx.ReadImages(plainNamedGz).Pixels);
    }

    [Fact]
    public void Classes_default_to_the_largest_label_plus_one_or_the_names()
    {
        using var temp = new TempFolder();
        Idx.WriteImages(temp.File("i"), s_pixels, 3, 2, 3);
        Idx.WriteLabels(temp.File("l"), s_labels);
        Assert.Equal(3, Idx.Load(temp.File("i"), temp.File("l")).Classes);
        LabeledImages named = Idx.Load(temp.File("i"), temp.File("l"), classNames: ["a", "b", "c", "d", "e"]);
        Assert.Equal(5, named.Classes);
        Assert.Equal("c", named.ClassName(named.Label(0)));
    }

    // ---- corrupt files: each must fail with an InvalidDataException that names the file and the problem ----

    private static byte[] Header(int magic, params int[] sizes)
    {
        byte[] header = new byte[4 + 4 * sizes.Length];
        BinaryPrimitives.WriteInt32BigEndian(header, magic);
        for (int i = 0; i < sizes.Length; i++) BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), sizes[i]);
        return header;
    }

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest)) gzip.Write(data);
        return output.ToArray();
    }

    private static void AssertImagesRejected(byte[] content, string expected)
    {
        using var temp = new TempFolder();
        string path = temp.File("bad-images-idx3-ubyte");
        File.WriteAllBytes(path, content);
        var e = Assert.Throws<InvalidDataException>(() => Idx.ReadImages(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    public static IEnumerable<object[]> CorruptImageFiles()
    {
        byte[] good = [.. Header(Idx.ImagesMagic, 3, 2, 3), .. s_pixels];
        yield return ["empty", Array.Empty<byte>(), "empty (0 bytes)"];
        yield return ["not IDX at all", "hello, world, this is text"u8.ToArray(), "does not start with the IDX image magic number 0x00000803"];
        yield return ["a label file", (byte[])[.. Header(Idx.LabelsMagic, 3), .. s_labels], "paths swapped"];
        yield return ["float values", (byte[])[.. Header(0x00000D03, 3, 2, 3), .. new byte[72]], "32-bit float"];
        yield return ["two bytes", new byte[] { 0, 0 }, "inside the 4-byte magic"];
        yield return ["header cut short", good[..10], "inside the 16-byte header"];
        yield return ["data cut short", good[..^5], "truncated"];
        yield return ["extra data", (byte[])[.. good, 1, 2, 3], "3 unexpected byte(s)"];
        yield return ["zero rows", (byte[])[.. Header(Idx.ImagesMagic, 3, 0, 3)], "rows = 0"];
        yield return ["negative count", (byte[])[.. Header(Idx.ImagesMagic, -1, 2, 3)], "image count = 4294967295"];
        yield return ["absurd side", (byte[])[.. Header(Idx.ImagesMagic, 1, 100_000, 3)], "larger than the 65536 pixels per side"];
        yield return ["absurd total", (byte[])[.. Header(Idx.ImagesMagic, 100_000_000, 28, 28)], "more than one in-memory image set can hold"];
        yield return ["gzip cut short", Gzip(good[..^5]), "truncated"];
        yield return ["gzip with extra data", Gzip([.. good, 9]), "more data follows"];
        // A header promising 784 MB behind a file of a few hundred bytes: must report truncation, not allocate it all.
        yield return ["gzip promising far more", Gzip([.. Header(Idx.ImagesMagic, 1_000_000, 28, 28), .. new byte[1000]]), "ends after 1,000 bytes"];
        yield return ["damaged gzip", (byte[])[0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], "gzip data is damaged"];
    }

    [Theory]
    [MemberData(nameof(CorruptImageFiles))]
    public void Corrupt_image_files_are_rejected_with_a_clear_message(string what, byte[] content, string expected)
    {
        _ = what;
        AssertImagesRejected(content, expected);
    }

    [Fact]
    public void Corrupt_label_files_are_rejected_with_a_clear_message()
    {
        using var temp = new TempFolder();
        string path = temp.File("labels");
        File.WriteAllBytes(path, [.. Header(Idx.ImagesMagic, 3, 2, 3), .. s_pixels]);
        Assert.Contains("not a label file", Assert.Throws<InvalidDataException>(() => Idx.ReadLabels(path)).Message);
        File.WriteAllBytes(path, [.. Header(Idx.LabelsMagic, 5), 1, 2]);
        var e = Assert.Throws<InvalidDataException>(() => Idx.ReadLabels(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("only 2 bytes follow", e.Message);
    }

    [Fact]
    public void Images_and_labels_of_different_counts_are_rejected()
    {
        using var temp = new TempFolder();
        string images = temp.File("images"), labels = temp.File("labels");
        Idx.WriteImages(images, s_pixels, 3, 2, 3);
        Idx.WriteLabels(labels, [0, 1]);
        var e = Assert.Throws<InvalidDataException>(() => Idx.Load(images, labels));
        Assert.Contains($"'{images}' holds 3 images but '{labels}' holds 2 labels", e.Message);
    }

    [Fact]
    public void Labels_outside_the_class_count_are_rejected()
    {
        using var temp = new TempFolder();
        string images = temp.File("images"), labels = temp.File("labels");
        Idx.WriteImages(images, s_pixels, 3, 2, 3);
        Idx.WriteLabels(labels, [0, 1, 7]);
        var e = Assert.Throws<InvalidDataException>(() => Idx.Load(images, labels, classes: 2));
        Assert.Contains(labels, e.Message);
        Assert.Contains("label 7 of image 2 is outside [0, 2)", e.Message);
    }

    [Fact]
    public void A_missing_file_is_reported_by_name()
    {
        string path = Path.Combine(Path.GetTempPath(), "no-such-idx-" + Guid.NewGuid().ToString("N"));
        var e = Assert.Throws<FileNotFoundException>(() => Idx.ReadImages(path));
        Assert.Contains(path, e.Message);
    }
}
