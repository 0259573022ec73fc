using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Pbm;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Tga;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Formats.Tiff.Constants;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.PixelFormats;
using ViTCompiler.Data;
using ViTCompiler.IO;
using ViTCompiler.Reference;
using ViTCompiler.Tests.Imaging;
using ViTCompiler.Tests.IO;

namespace ViTCompiler.Tests.Reliability;

/// <summary>The loaders the corpus feeds: each has seed files, a load that does what <c>vit</c> does, and the exceptions that count as clean.</summary>
internal enum HostileKind
{
    /// <summary>timm weights, a training checkpoint, a third-party file without metadata (<c>Weights.Detect/ReadConfig/Load</c>).</summary>
    SafeTensors,
    /// <summary>A HuggingFace folder: model.safetensors, config.json, preprocessor_config.json.</summary>
    HuggingFace,
    /// <summary>The paper's JAX .npz, stored and deflated.</summary>
    Npz,
    /// <summary>An IDX image and label pair, plain and gzip.</summary>
    Idx,
    /// <summary>Every format ImageSharp decodes here: PNG, JPEG, GIF, BMP, WebP, TIFF, TGA, PBM.</summary>
    Image,
}

/// <summary>
/// One input: the files to write into a fresh folder (<paramref name="Write"/>), and the path inside it that the loader
/// is given. <paramref name="Worst"/> marks the named worst cases whose peak memory the test bounds.
/// </summary>
internal sealed record HostileCase(int Index, HostileKind Kind, string Name, string Entry, Action<string> Write, bool Worst = false);

/// <summary>
/// The hostile-input corpus: seeded mutations of small valid files of every kind, plus named cases (the issue's bombs
/// and limit-edge files). The same seed always gives the same cases, so a failure names a case that can be re-run.
/// </summary>
internal static class HostileCorpus
{
    /// <summary>The configuration of the seed weights: tiny, so a load takes microseconds.</summary>
    public static readonly VitConfig SeedConfig = new() { ImageSize = 8, Channels = 3, Patch = 4, Layers = 1, Hidden = 8, Heads = 2, MlpDim = 16, Classes = 3 };

    /// <summary>Head count passed for files that do not record it (what <c>vit --heads</c> would give).</summary>
    public const int SeedHeads = 2;

    /// <summary>The corpus for <paramref name="seed"/>: the named cases, then <paramref name="mutations"/> mutations spread over the kinds.</summary>
    public static IReadOnlyList<HostileCase> Build(ulong seed, int mutations)
    {
        var cases = new List<HostileCase>();
        void Add(HostileKind kind, string name, string entry, Action<string> write, bool worst = false) =>
            cases.Add(new HostileCase(cases.Count, kind, name, entry, write, worst));
        Named(Add);

        Seed[][] byKind = Seeds().GroupBy(s => s.Kind).Select(g => g.ToArray()).ToArray();
        var random = new VitRandom(seed);
        for (int m = 0; m < mutations; m++)
        {
            // Every kind in turn, so each loader gets the same share however many seeds its formats have.
            Seed[] ofKind = byKind[m % byKind.Length];
            Seed s = ofKind[random.NextInt(ofKind.Length)];
            var files = s.Files.ToDictionary(f => f.Key, f => f.Value);
            string target = s.Files.Keys.ElementAt(random.NextInt(s.Files.Count));
            (byte[] mutated, string how) = Mutate(files[target], target, random);
            files[target] = mutated;
            Add(s.Kind, $"{s.Name}/{target}: {how}", s.Entry, folder => WriteAll(folder, files));
        }
        return cases;
    }

    private static void WriteAll(string folder, IReadOnlyDictionary<string, byte[]> files)
    {
        foreach ((string name, byte[] bytes) in files) File.WriteAllBytes(Path.Combine(folder, name), bytes);
    }

    // ---- seeds ----------------------------------------------------------------------------------------------------

    /// <summary>A valid input: its files by name, and the path (relative to its folder) the loader gets.</summary>
    private sealed record Seed(HostileKind Kind, string Name, IReadOnlyDictionary<string, byte[]> Files, string Entry);

    private static Seed[] Seeds()
    {
        using var temp = new TempDirectory();
        byte[] Saved(string name, Action<string> save)
        {
            string path = temp.File(name);
            save(path);
            return File.ReadAllBytes(path);
        }
        var model = new ReferenceVitModel(SeedConfig, seed: 5);
        var seeds = new List<Seed>
        {
            Single(HostileKind.SafeTensors, "timm", "w.safetensors", Saved("timm.safetensors", p => TimmWeights.Save(p, model))),
            Single(HostileKind.SafeTensors, "checkpoint", "w.safetensors", Saved("ckpt.safetensors", p => VitCheckpoint.Save(p, model,
                new Dictionary<string, float[]> { ["optimizer.m"] = new float[SeedConfig.ParameterCount] }, new Dictionary<string, string> { ["labels"] = "[\"a\",\"b\",\"c\"]" }))),
            Single(HostileKind.SafeTensors, "timm-without-metadata", "w.safetensors", Saved("raw.safetensors", p =>
            {
                var raw = new RawSafeTensors();
                foreach (ParameterTensor t in SeedConfig.Layout) raw.AddF16(t.Name, t.Shape.Select(d => (long)d).ToArray(), t.Of(model.Parameters));
                raw.Write(p);
            })),
            Single(HostileKind.Npz, "jax", "w.npz", Saved("jax.npz", p => JaxFixture.Write(p, model))),
            Single(HostileKind.Npz, "jax-deflated", "w.npz", Saved("jaxz.npz", p => JaxFixture.Write(p, model, new JaxFixture.Options(Compress: true, Descr: "<f2")))),
        };

        string hf = temp.File("hf");
        Directory.CreateDirectory(hf);
        HuggingFaceWeights.Save(hf, model, ["a", "b", "c"], new ViTCompiler.IO.ImagePreprocessing { Height = 8, Width = 8 });
        seeds.Add(new Seed(HostileKind.HuggingFace, "hf", Directory.GetFiles(hf).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes), "."));

        byte[] pixels = Enumerable.Range(0, 4 * 5 * 6).Select(i => (byte)(i * 37)).ToArray();
        foreach (string gz in new[] { "", ".gz" })
        {
            byte[] images = Saved("images" + gz, p => Idx.WriteImages(p, pixels, 4, 5, 6));
            byte[] labels = Saved("labels" + gz, p => Idx.WriteLabels(p, [0, 2, 1, 2]));
            seeds.Add(new Seed(HostileKind.Idx, "idx" + gz, new Dictionary<string, byte[]> { ["images" + gz] = images, ["labels" + gz] = labels }, "images" + gz));
        }

        using Image<Rgb24> picture = TestImages.Make(12, 10, (x, y) => new Rgb24((byte)(x * 20), (byte)(y * 25), (byte)((x * y) % 256)));
        foreach ((string name, IImageEncoder encoder) in ImageEncoders())
        {
            using var stream = new MemoryStream();
            picture.Save(stream, encoder);
            string file = "image" + Path.GetExtension(name);
            seeds.Add(Single(HostileKind.Image, name, file, stream.ToArray()));
        }
        return seeds.ToArray();
    }

    private static Seed Single(HostileKind kind, string name, string file, byte[] bytes) => new(kind, name, new Dictionary<string, byte[]> { [file] = bytes }, file);

    /// <summary>One encoder per variant worth mutating; the name's extension is the file's.</summary>
    private static (string Name, IImageEncoder Encoder)[] ImageEncoders() =>
    [
        ("png.png", new PngEncoder()),
        ("png-palette.png", new PngEncoder { ColorType = PngColorType.Palette }),
        ("png-grey16.png", new PngEncoder { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit16 }),
        ("png-interlaced.png", new PngEncoder { InterlaceMethod = PngInterlaceMode.Adam7 }),
        ("jpeg.jpg", new SixLabors.ImageSharp.Formats.Jpeg.JpegEncoder { Quality = 90 }),
        ("gif.gif", new SixLabors.ImageSharp.Formats.Gif.GifEncoder()),
        ("bmp.bmp", new SixLabors.ImageSharp.Formats.Bmp.BmpEncoder()),
        ("webp-lossless.webp", new WebpEncoder { FileFormat = WebpFileFormatType.Lossless }),
        ("webp-lossy.webp", new WebpEncoder { FileFormat = WebpFileFormatType.Lossy }),
        ("tiff-deflate.tif", new TiffEncoder { Compression = TiffCompression.Deflate }),
        ("tiff-lzw.tif", new TiffEncoder { Compression = TiffCompression.Lzw }),
        ("tga-rle.tga", new TgaEncoder { Compression = TgaCompression.RunLength }),
        ("pbm.ppm", new PbmEncoder { Encoding = PbmEncoding.Binary, ColorType = PbmColorType.Rgb }),
    ];

    // ---- mutations ------------------------------------------------------------------------------------------------

    private static readonly uint[] s_interesting = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x10000, 0x40000000];

    /// <summary>One random change to <paramref name="bytes"/>; format-aware ones re-seal checksums or lengths so the change reaches the parser behind them.</summary>
    private static (byte[] Bytes, string How) Mutate(byte[] bytes, string file, VitRandom random)
    {
        string extension = Path.GetExtension(file);
        if (extension == ".json" && random.NextInt(2) == 0) return MutateJson(bytes, random);
        int choice = random.NextInt(10);
        if (choice == 9)
        {
            // Inside a container: the change then has to be caught by the parser of what is inside, not by the wrapper.
            if (extension == ".png") return Reseal(bytes, random, MutatePngKeepingChecksums);
            if (extension == ".safetensors") return MutateSafeTensorsHeader(bytes, random);
            if (extension == ".gz") return MutateInsideGzip(bytes, random);
            if (extension == ".npz") return MutateInsideZip(bytes, random);
            choice = random.NextInt(9);
        }
        byte[] b = (byte[])bytes.Clone();
        int at = b.Length == 0 ? 0 : random.NextInt(b.Length);
        switch (choice)
        {
            case 0:
            {
                int flips = 1 + random.NextInt(8);
                for (int i = 0; i < flips; i++) b[random.NextInt(b.Length)] ^= (byte)(1 << random.NextInt(8));
                return (b, $"{flips} bit flips");
            }
            case 1:
                b[at] = (byte)s_interesting[random.NextInt(5)];
                return (b, $"byte {at} = 0x{b[at]:X2}");
            case 2:
            {
                at = Math.Min(at, Math.Max(0, b.Length - 4));
                uint value = s_interesting[random.NextInt(s_interesting.Length)];
                if (random.NextInt(2) == 0) BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(at), value);
                else BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), value);
                return (b, $"u32 at {at} = 0x{value:X8}");
            }
            case 3:
                return (b[..at], $"truncated to {at} of {b.Length} bytes");
            case 4:
            {
                byte[] junk = RandomBytes(random, 1 + random.NextInt(64));
                return ([.. b.AsSpan(0, at), .. junk, .. b.AsSpan(at)], $"{junk.Length} random bytes inserted at {at}");
            }
            case 5:
            {
                int length = Math.Min(1 + random.NextInt(64), b.Length - at);
                return ([.. b.AsSpan(0, at), .. b.AsSpan(at + length)], $"{length} bytes deleted at {at}");
            }
            case 6:
            {
                int length = Math.Min(1 + random.NextInt(256), b.Length - at);
                return ([.. b.AsSpan(0, at + length), .. b.AsSpan(at, length), .. b.AsSpan(at + length)], $"{length} bytes at {at} repeated");
            }
            case 7:
                return ([.. b, .. RandomBytes(random, 1 + random.NextInt(256))], "junk appended");
            default:
            {
                int length = Math.Min(1 + random.NextInt(16), b.Length - at);
                RandomBytes(random, length).CopyTo(b, at);
                return (b, $"{length} random bytes at {at}");
            }
        }
    }

    private static byte[] RandomBytes(VitRandom random, int count)
    {
        byte[] b = new byte[count];
        for (int i = 0; i < count; i++) b[i] = (byte)random.NextInt(256);
        return b;
    }

    private static readonly string[] s_hostileNumbers =
        ["-1", "0", "1e309", "-0.0", "3.5", "2147483648", "9223372036854775808", "1" + new string('0', 400), "null", "\"8\"", "[]", "{}", "true"];

    /// <summary>Replaces one JSON number (or, without numbers, one string) with a hostile value.</summary>
    private static (byte[] Bytes, string How) MutateJson(byte[] bytes, VitRandom random)
    {
        string text = Encoding.UTF8.GetString(bytes);
        MatchCollection numbers = Regex.Matches(text, @"-?\d+(\.\d+)?([eE][-+]?\d+)?");
        MatchCollection strings = Regex.Matches(text, "\"[^\"]*\"");
        MatchCollection pool = numbers.Count > 0 && random.NextInt(3) > 0 ? numbers : strings;
        if (pool.Count == 0) return (bytes, "unchanged (no JSON values)");
        Match victim = pool[random.NextInt(pool.Count)];
        string replacement = random.NextInt(4) == 0 ? new string('[', 5000) : s_hostileNumbers[random.NextInt(s_hostileNumbers.Length)];
        string changed = text[..victim.Index] + replacement + text[(victim.Index + victim.Length)..];
        return (Encoding.UTF8.GetBytes(changed), $"JSON value {Echo(victim.Value)} at {victim.Index} → {Echo(replacement)}");
    }

    private static string Echo(string s) => s.Length <= 24 ? s : s[..20] + "…";

    /// <summary>A safetensors header value changed, the length field rewritten to match, so the JSON checks see it.</summary>
    private static (byte[] Bytes, string How) MutateSafeTensorsHeader(byte[] bytes, VitRandom random)
    {
        if (bytes.Length < 8) return (bytes, "unchanged (too short)");
        long length = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (length > bytes.Length - 8) return (bytes, "unchanged (header length)");
        (byte[] header, string how) = MutateJson(bytes[8..(8 + (int)length)], random);
        byte[] prefix = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        return ([.. prefix, .. header, .. bytes.AsSpan(8 + (int)length)], "header " + how);
    }

    private static (byte[] Bytes, string How) MutateInsideGzip(byte[] bytes, VitRandom random)
    {
        byte[] inner;
        using (var gzip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress))
        using (var plain = new MemoryStream())
        {
            gzip.CopyTo(plain);
            inner = plain.ToArray();
        }
        (byte[] changed, string how) = Mutate(inner, "inner", random);
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(changed);
        return (output.ToArray(), "inside gzip: " + how);
    }

    private static (byte[] Bytes, string How) MutateInsideZip(byte[] bytes, VitRandom random)
    {
        var entries = new List<(string Name, byte[] Data)>();
        using (var zip = new ZipArchive(new MemoryStream(bytes), ZipArchiveMode.Read))
            foreach (ZipArchiveEntry e in zip.Entries)
            {
                using Stream s = e.Open();
                using var m = new MemoryStream();
                s.CopyTo(m);
                entries.Add((e.FullName, m.ToArray()));
            }
        int victim = random.NextInt(entries.Count);
        (byte[] changed, string how) = random.NextInt(3) == 0
            ? (Encoding.ASCII.GetBytes(Encoding.ASCII.GetString(entries[victim].Data).Replace("False", "True")), "fortran_order True")
            : Mutate(entries[victim].Data, "entry", random);
        entries[victim] = (entries[victim].Name, changed);
        using var output = new MemoryStream();
        using (var zip = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
            foreach ((string name, byte[] data) in entries)
            {
                using Stream s = zip.CreateEntry(name, CompressionLevel.Fastest).Open();
                s.Write(data);
            }
        return (output.ToArray(), $"inside zip entry '{entries[victim].Name}': {how}");
    }

    private static (byte[] Bytes, string How) Reseal(byte[] png, VitRandom random, Func<byte[], VitRandom, (byte[], string)> mutate)
    {
        (byte[] changed, string how) = mutate(png, random);
        FixPngChecksums(changed);
        return (changed, how + ", checksums fixed");
    }

    /// <summary>Changes a chunk's content (not its framing), so the chunk walk passes and the decoder meets the change.</summary>
    private static (byte[] Bytes, string How) MutatePngKeepingChecksums(byte[] png, VitRandom random)
    {
        var chunks = new List<(int Start, int Length, string Type)>();
        for (int p = 8; p + 12 <= png.Length;)
        {
            int length = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(p));
            if (length < 0 || p + 12 + length > png.Length) break;
            chunks.Add((p, length, Encoding.ASCII.GetString(png, p + 4, 4)));
            p += 12 + length;
        }
        var withData = chunks.Where(c => c.Length > 0).ToList();
        if (withData.Count == 0) return (png, "unchanged (no chunk data)");
        (int start, int size, string type) = withData[random.NextInt(withData.Count)];
        byte[] b = (byte[])png.Clone();
        int flips = 1 + random.NextInt(4);
        for (int i = 0; i < flips; i++) b[start + 8 + random.NextInt(size)] ^= (byte)(1 << random.NextInt(8));
        return (b, $"{flips} bit flips in chunk {type}");
    }

    /// <summary>Recomputes every complete chunk's CRC.</summary>
    private static void FixPngChecksums(byte[] png)
    {
        for (int p = 8; p + 12 <= png.Length;)
        {
            long length = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(p));
            if (p + 12 + length > png.Length) return;
            BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(p + 8 + (int)length), TestImages.Crc32(png.AsSpan(p + 4, 4 + (int)length)));
            p += 12 + (int)length;
        }
    }

    // ---- named cases ----------------------------------------------------------------------------------------------

    private static void Named(Action<HostileKind, string, string, Action<string>, bool> add)
    {
        void Bytes(HostileKind kind, string name, string file, Func<byte[]> make, bool worst = false) =>
            add(kind, name, file, folder => File.WriteAllBytes(Path.Combine(folder, file), make()), worst);

        // Images: the issue's bombs, a file at the pixel limit (the most memory a valid image may take), huge claims per format.
        Bytes(HostileKind.Image, "png zTXt inflating to 1 GiB (issue 10, case 1)", "bomb.png", () => HostileFiles.TextBombPng(1, 1L << 30), worst: true);
        Bytes(HostileKind.Image, "png with six 256 MiB zTXt chunks", "bombs.png", () => HostileFiles.TextBombPng(6, 256L << 20), worst: true);
        Bytes(HostileKind.Image, "png iTXt and iCCP inflating to 256 MiB each", "profile.png", () =>
            HostileFiles.WithChunks(TestImages.Encode(TestImages.Quad(), ".png"), HostileFiles.InternationalText(256L << 20), HostileFiles.ColourProfile(256L << 20)), worst: true);
        Bytes(HostileKind.Image, "png at the pixel limit, 8000 × 8000 (worst valid image)", "limit.png", () => GreyPng(8000, 8000), worst: true);
        Bytes(HostileKind.Image, "png claiming 100,000 × 100,000", "claims.png", () => TestImages.PngClaiming(100_000, 100_000));
        Bytes(HostileKind.Image, "interlaced png whose header asks for more data than it holds (ImageSharp 2.1 loops forever)", "short.png", () =>
            TestImages.PngClaiming(2060, 10, TestImages.Encode(TestImages.Quad(), ".png", new PngEncoder { InterlaceMethod = PngInterlaceMode.Adam7 })));
        Bytes(HostileKind.Image, "png cut at 30 % (issue 10, case 2)", "cut.png", () => { byte[] p = TestImages.Encode(TestImages.Noise(64, 64, 9), ".png"); return p[..(p.Length * 3 / 10)]; });
        Bytes(HostileKind.Image, "jpeg claiming 65,500 × 65,500", "claims.jpg", () => JpegClaiming(65_500, 65_500));
        Bytes(HostileKind.Image, "gif claiming 65,535 × 65,535", "claims.gif", () => Patched(TestImages.Encode(TestImages.Quad(), ".gif"), (6, 0xFFFF, 2, false)));
        Bytes(HostileKind.Image, "bmp claiming 50,000 × 50,000", "claims.bmp", () => Patched(TestImages.Encode(TestImages.Quad(), ".bmp"), (18, 50_000, 4, false), (22, 50_000, 4, false)));
        Bytes(HostileKind.Image, "bmp with a negative width", "negative.bmp", () => Patched(TestImages.Encode(TestImages.Quad(), ".bmp"), (18, -4, 4, false)));
        Bytes(HostileKind.Image, "pgm claiming 100,000 × 100,000", "claims.pgm", () => Encoding.ASCII.GetBytes("P5\n100000 100000\n255\n\0\0\0\0"));
        Bytes(HostileKind.Image, "tga claiming 65,535 × 65,535", "claims.tga", () => Patched(Encode(TestImages.Quad(), new TgaEncoder()), (12, 0xFFFF, 2, false), (14, 0xFFFF, 2, false)));
        Bytes(HostileKind.Image, "webp claiming 16,384 × 16,384", "claims.webp", WebpClaimingMaximum);
        Bytes(HostileKind.Image, "tiff claiming 1,000,000 × 1,000,000", "claims.tif", () => TiffClaiming(1_000_000));

        // Weights.
        add(HostileKind.SafeTensors, "safetensors header at the 100 MB limit", "w.safetensors", folder =>
        {
            // Streamed: a 100 MB string would be the writer's memory, not the reader's.
            using var file = File.Create(Path.Combine(folder, "w.safetensors"));
            file.Write(BitConverter.GetBytes((ulong)SafeTensorsFile.MaxHeaderBytes));
            file.Write("{"u8);
            HostileFiles.WriteRepeated(file, (byte)' ', SafeTensorsFile.MaxHeaderBytes - 2);
            file.Write("}"u8);
        }, true);
        Bytes(HostileKind.SafeTensors, "safetensors header length 2^64 − 1", "w.safetensors", () => [.. BitConverter.GetBytes(ulong.MaxValue), .. "{}"u8]);
        Bytes(HostileKind.SafeTensors, "safetensors shape whose product overflows", "w.safetensors", () =>
            SafeTensorsWithHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,0]}}"));
        Bytes(HostileKind.SafeTensors, "safetensors offset of 5,000 digits", "w.safetensors", () =>
            SafeTensorsWithHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0," + new string('9', 5000) + "]}}"));
        Bytes(HostileKind.SafeTensors, "safetensors header nested 100,000 deep", "w.safetensors", () => SafeTensorsWithHeader(new string('[', 100_000)));
        Bytes(HostileKind.SafeTensors, "safetensors with 100,000 one-element tensors", "w.safetensors", ManyTensors, worst: true);
        Bytes(HostileKind.SafeTensors, "checkpoint whose config claims a 1.7-billion-parameter model", "w.safetensors", () => WithConfigMetadata(
            "{\"image_size\":2048,\"channels\":3,\"patch\":32,\"layers\":3,\"hidden\":8192,\"heads\":8,\"mlp_dim\":16384,\"classes\":1000,\"pooling\":\"class_token\",\"layer_norm_epsilon\":1e-6,\"qkv_bias\":true}"), worst: true);
        add(HostileKind.HuggingFace, "hf config.json claiming a 1.7-billion-parameter model", ".", folder => HuggingFaceClaiming(folder), true);
        // Found by the soak: JsonDocument accepts invalid UTF-8 inside strings, and reading the string later threw InvalidOperationException.
        add(HostileKind.HuggingFace, "hf config.json with an invalid UTF-8 byte in a label", ".", folder => HuggingFaceEdited(folder, HuggingFaceWeights.ConfigFileName, "\"a\""), false);
        add(HostileKind.HuggingFace, "hf preprocessor_config.json with an invalid UTF-8 byte in a string", ".", folder => HuggingFaceEdited(folder, HuggingFaceWeights.PreprocessorFileName, "\"ViTImageProcessor\""), false);
        Bytes(HostileKind.Npz, "npz entry inflating to 256 MiB behind a 1-element header", "w.npz", NpzBomb, worst: true);
        Bytes(HostileKind.Npz, "npz header at the 1 MiB limit", "w.npz", () => NpzWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }" + new string(' ', (1 << 20) - 80) + "\n"));
        add(HostileKind.Idx, "idx claiming 2,000,000,000 images of 1 × 1 with 4 bytes of data", "images", folder =>
            WriteIdx(folder, [0, 0, 8, 3, 0x77, 0x35, 0x94, 0x00, 0, 0, 0, 1, 0, 0, 0, 1, 1, 2, 3, 4], [0, 0, 8, 1, 0, 0, 0, 4, 0, 1, 0, 1]), false);
        add(HostileKind.Idx, "idx.gz whose data inflates to 256 MiB past its 1 image", "images.gz", folder =>
            WriteIdx(folder, Gzip([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28], 256 << 20), [0, 0, 8, 1, 0, 0, 0, 1, 7], gz: true), true);
    }

    private static byte[] Encode(Image image, IImageEncoder encoder)
    {
        using var stream = new MemoryStream();
        image.Save(stream, encoder);
        return stream.ToArray();
    }

    /// <summary><paramref name="bytes"/> with integer fields overwritten: (offset, value, size 2 or 4, big-endian).</summary>
    private static byte[] Patched(byte[] bytes, params (int At, int Value, int Size, bool BigEndian)[] fields)
    {
        foreach ((int at, int value, int size, bool big) in fields)
        {
            if (size == 2 && big) BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(at), (ushort)value);
            else if (size == 2) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(at), (ushort)value);
            else if (big) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(at), value);
            else BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at), value);
        }
        return bytes;
    }

    /// <summary>An 8-bit grey PNG of <paramref name="width"/> × <paramref name="height"/> black pixels, written directly (rows of filter 0 and zeros).</summary>
    private static byte[] GreyPng(int width, int height)
    {
        byte[] header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bit depth; colour type 0 (grey), compression, filter, interlace all 0
        return [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, .. HostileFiles.Chunk("IHDR", header),
            .. HostileFiles.Chunk("IDAT", HostileFiles.ZlibZeros((long)(width + 1) * height)), .. HostileFiles.Chunk("IEND", [])];
    }

    private static byte[] JpegClaiming(int width, int height)
    {
        byte[] jpeg = TestImages.Encode(TestImages.Quad(), ".jpg");
        for (int i = 2; i + 9 < jpeg.Length; i++)
            if (jpeg[i] == 0xFF && jpeg[i + 1] is 0xC0 or 0xC2)
                return Patched(jpeg, (i + 5, height, 2, true), (i + 7, width, 2, true));
        throw new InvalidOperationException("no SOF marker");
    }

    private static byte[] WebpClaimingMaximum()
    {
        byte[] webp = Encode(TestImages.Quad(), new WebpEncoder { FileFormat = WebpFileFormatType.Lossless });
        // VP8L: signature 0x2F at 20, then 14 bits width − 1, 14 bits height − 1 (little-endian bit order).
        uint bits = BinaryPrimitives.ReadUInt32LittleEndian(webp.AsSpan(21));
        bits = bits & 0xF0000000 | 0x3FFF | 0x3FFFu << 14;
        BinaryPrimitives.WriteUInt32LittleEndian(webp.AsSpan(21), bits);
        return webp;
    }

    private static byte[] TiffClaiming(int side)
    {
        byte[] tiff = Encode(TestImages.Quad(), new TiffEncoder());
        bool little = tiff[0] == (byte)'I';
        uint Read32(int at) => little ? BinaryPrimitives.ReadUInt32LittleEndian(tiff.AsSpan(at)) : BinaryPrimitives.ReadUInt32BigEndian(tiff.AsSpan(at));
        int ifd = (int)Read32(4);
        int count = little ? BinaryPrimitives.ReadUInt16LittleEndian(tiff.AsSpan(ifd)) : BinaryPrimitives.ReadUInt16BigEndian(tiff.AsSpan(ifd));
        for (int e = 0; e < count; e++)
        {
            int entry = ifd + 2 + 12 * e;
            int tag = little ? BinaryPrimitives.ReadUInt16LittleEndian(tiff.AsSpan(entry)) : BinaryPrimitives.ReadUInt16BigEndian(tiff.AsSpan(entry));
            if (tag is 256 or 257) // ImageWidth, ImageLength: make them LONG and huge
            {
                if (little) { BinaryPrimitives.WriteUInt16LittleEndian(tiff.AsSpan(entry + 2), 4); BinaryPrimitives.WriteInt32LittleEndian(tiff.AsSpan(entry + 8), side); }
                else { BinaryPrimitives.WriteUInt16BigEndian(tiff.AsSpan(entry + 2), 4); BinaryPrimitives.WriteInt32BigEndian(tiff.AsSpan(entry + 8), side); }
            }
        }
        return tiff;
    }

    private static byte[] SafeTensorsWithHeader(string header)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        return [.. BitConverter.GetBytes((ulong)json.Length), .. json];
    }

    private static byte[] ManyTensors()
    {
        var raw = new RawSafeTensors();
        for (int i = 0; i < 100_000; i++) raw.AddF32($"t{i}", [1], [i]);
        (string header, byte[] data) = raw.Layout();
        return [.. SafeTensorsWithHeader(header), .. data];
    }

    /// <summary>The seed checkpoint's tensors under a recorded configuration of another, far larger model.</summary>
    private static byte[] WithConfigMetadata(string config)
    {
        var raw = new RawSafeTensors { Metadata = new Dictionary<string, string> { [VitCheckpoint.FormatKey] = VitCheckpoint.FormatVersion, [VitCheckpoint.ConfigKey] = config } };
        var model = new ReferenceVitModel(SeedConfig);
        foreach (ParameterTensor t in SeedConfig.Layout) raw.AddF32(t.Name, t.Shape.Select(d => (long)d).ToArray(), t.Of(model.Parameters));
        (string header, byte[] data) = raw.Layout();
        return [.. SafeTensorsWithHeader(header), .. data];
    }

    private static void HuggingFaceClaiming(string folder)
    {
        HuggingFaceWeights.Save(folder, new ReferenceVitModel(SeedConfig));
        string config = Path.Combine(folder, HuggingFaceWeights.ConfigFileName);
        string text = File.ReadAllText(config);
        text = Regex.Replace(text, "\"hidden_size\":\\s*\\d+", "\"hidden_size\": 8192");
        text = Regex.Replace(text, "\"intermediate_size\":\\s*\\d+", "\"intermediate_size\": 16384");
        text = Regex.Replace(text, "\"num_hidden_layers\":\\s*\\d+", "\"num_hidden_layers\": 3");
        text = Regex.Replace(text, "\"image_size\":\\s*\\d+", "\"image_size\": 2048");
        text = Regex.Replace(text, "\"patch_size\":\\s*\\d+", "\"patch_size\": 32");
        File.WriteAllText(config, text);
    }

    /// <summary>A saved HuggingFace folder whose <paramref name="file"/> has the byte 0xFF put inside the string <paramref name="text"/>.</summary>
    private static void HuggingFaceEdited(string folder, string file, string text)
    {
        HuggingFaceWeights.Save(folder, new ReferenceVitModel(SeedConfig), ["a", "b", "c"], new ViTCompiler.IO.ImagePreprocessing());
        string path = Path.Combine(folder, file);
        byte[] bytes = File.ReadAllBytes(path);
        int at = bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(text));
        if (at < 0) throw new InvalidOperationException($"'{text}' is not in {file}");
        bytes[at + 1] = 0xFF;
        File.WriteAllBytes(path, bytes);
    }

    private static byte[] NpzBomb()
    {
        // A float32 array of shape (1,) whose entry goes on for 256 MiB of zeros after its 4 bytes.
        byte[] npy = JaxFixture.Npy([1], [0f]);
        using var output = new MemoryStream();
        using (var zip = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
        {
            using Stream s = zip.CreateEntry("embedding/bias.npy", CompressionLevel.Optimal).Open();
            s.Write(npy);
            HostileFiles.WriteRepeated(s, 0, 256L << 20);
        }
        return output.ToArray();
    }

    private static byte[] NpzWithHeader(string header)
    {
        using var output = new MemoryStream();
        using (var zip = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
        {
            using Stream s = zip.CreateEntry("a.npy", CompressionLevel.Optimal).Open();
            s.Write(JaxFixture.Npy([1], [0f], major: 2, header: header));
        }
        return output.ToArray();
    }

    private static byte[] Gzip(byte[] header, long zerosAfter)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(header);
            HostileFiles.WriteRepeated(gzip, 0, zerosAfter);
        }
        return output.ToArray();
    }

    private static void WriteIdx(string folder, byte[] images, byte[] labels, bool gz = false)
    {
        File.WriteAllBytes(Path.Combine(folder, gz ? "images.gz" : "images"), images);
        File.WriteAllBytes(Path.Combine(folder, gz ? "labels.gz" : "labels"), gz ? Gzip(labels, 0) : labels);
    }
}
