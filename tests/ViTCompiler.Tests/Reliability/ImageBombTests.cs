using ViTCompiler.Data;
using ViTCompiler.Imaging;
using ViTCompiler.Tests.Data;
using ViTCompiler.Tests.Imaging;
using Xunit;

namespace ViTCompiler.Tests.Reliability;

/// <summary>
/// Issue 10, case 1: a 1 × 1 PNG with a zTXt chunk of 1 GiB of compressed zeros (a 1 MB file) made ImageSharp's text
/// reader, inside Identify and before any size check, allocate until OutOfMemoryException; six 256 MiB chunks took 10 GB.
/// </summary>
public class ImageBombTests
{
    private static readonly ImagePreprocessing s_options = new() { Size = 8, Normalization = ChannelNormalization.Google };

    /// <summary>Managed bytes this thread allocated while loading <paramref name="path"/> (ImageSharp's text reader allocates on the caller's thread).</summary>
    private static long AllocatedLoading(string path)
    {
        var loader = new ImageLoader(s_options);
        float[] pixels = new float[loader.ValuesPerImage];
        long before = GC.GetAllocatedBytesForCurrentThread();
        loader.Load(path, pixels);
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Fact]
    public void Compressed_text_and_profile_chunks_are_not_inflated()
    {
        using var temp = new TempFolder();
        using var pixel = TestImages.Make(1, 1, (_, _) => TestImages.Red);
        const long Inflated = 64L << 20; // each; before the fix this alone allocated ~500 MB and took seconds
        byte[] png = HostileFiles.WithChunks(TestImages.Encode(pixel, ".png"),
            HostileFiles.CompressedText(Inflated), HostileFiles.InternationalText(Inflated), HostileFiles.ColourProfile(Inflated));
        string path = temp.File("bomb.png");
        File.WriteAllBytes(path, png);
        Assert.True(png.Length < 1 << 20);

        long allocated = AllocatedLoading(path);
        Assert.True(allocated < 16 << 20, $"loading a {png.Length:N0}-byte PNG allocated {allocated:N0} bytes: its metadata was inflated");
    }

    [Fact]
    public void A_text_bomb_in_a_batch_leaves_the_other_images_classified()
    {
        using var temp = new TempFolder();
        using var good = TestImages.Make(8, 8, (_, _) => TestImages.Green);
        string first = TestImages.Save(good, temp.File("a.png")), last = TestImages.Save(good, temp.File("c.png"));
        string bomb = temp.File("b.png");
        // The file: 1 GiB of text in 1 MB. Inflating it ends in OutOfMemoryException (a .NET string cannot hold
        // it), which no one caught, so the images after it were never classified.
        File.WriteAllBytes(bomb, HostileFiles.TextBombPng(chunks: 1, bytesEach: 1L << 30));

        ImageBatch batch = new ImageLoader(s_options).LoadBatch([first, bomb, last]);
        // The bomb's pixel is valid, so with its text skipped it simply loads.
        Assert.Equal(3, batch.Count);
        Assert.Empty(batch.Failures);
    }
}
