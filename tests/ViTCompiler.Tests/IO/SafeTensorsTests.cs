using System.Buffers.Binary;
using System.Text;
using ViTCompiler.IO;
using Xunit;

namespace ViTCompiler.Tests.IO;

public class SafeTensorsTests
{
    private static readonly float[] Six = [1f, -2f, 0.5f, 3.25f, -0f, 1e-3f];

    [Fact]
    public void Writer_output_reads_back_with_shapes_values_and_metadata()
    {
        using var dir = new TempDirectory();
        string path = dir.File("t.safetensors");
        SafeTensors.Write(path,
            [new SafeTensorsEntry("b.weight", [2, 3], Six), new SafeTensorsEntry("a", [1], [7f]), new SafeTensorsEntry("scalar", [], [9f])],
            new Dictionary<string, string> { ["step"] = "12", ["note"] = "héllo & <tags>" });
        using SafeTensorsFile file = SafeTensors.Open(path);
        Assert.Equal(["a", "b.weight", "scalar"], file.Tensors.Select(t => t.Name)); // sorted by name, as the reference writes
        Assert.Equal([2L, 3L], file["b.weight"].Shape);
        Assert.Equal(SafeTensorsDType.F32, file["b.weight"].DType);
        Assert.Equal(Six, file.ReadFloats("b.weight"));
        Assert.Equal([9f], file.ReadFloats("scalar"));
        Assert.Equal("12", file.Metadata["step"]);
        Assert.Equal("héllo & <tags>", file.Metadata["note"]);
    }

    [Fact]
    public void Writer_pads_the_header_with_spaces_to_a_multiple_of_8_and_writes_compact_sorted_json()
    {
        using var dir = new TempDirectory();
        string path = dir.File("t.safetensors");
        SafeTensors.Write(path, [new SafeTensorsEntry("z", [2], [1f, 2f]), new SafeTensorsEntry("y", [1], [3f])], new Dictionary<string, string> { ["format"] = "pt" });
        byte[] bytes = File.ReadAllBytes(path);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, (8 + n) % 8);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.Equal("{\"__metadata__\":{\"format\":\"pt\"},\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"z\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
            header.TrimEnd(' '));
        Assert.Equal(8 + n + 12, bytes.Length);
        // Byte-for-byte what the independent reference-style writer produces.
        var reference = new RawSafeTensors { Metadata = new() { ["format"] = "pt" } }.AddF32("z", [2], [1f, 2f]).AddF32("y", [1], [3f]);
        reference.Write(dir.File("r.safetensors"));
        Assert.Equal(File.ReadAllBytes(dir.File("r.safetensors")), bytes);
    }

    [Fact]
    public void A_file_written_the_way_HuggingFace_writes_it_loads()
    {
        // Mixed dtypes: the reference writer puts wider types first, then sorts by name; the header is padded.
        using var dir = new TempDirectory();
        string path = dir.File("hf.safetensors");
        new RawSafeTensors { Metadata = new() { ["format"] = "pt" } }
            .AddF16("h", [2], [1.5f, -2f])
            .AddF32("f", [3], [1f, 2f, 3f])
            .AddBF16("b", [1], [0.5f])
            .Write(path);
        using SafeTensorsFile file = SafeTensors.Open(path);
        Assert.Equal(["f", "b", "h"], file.Tensors.Select(t => t.Name));
        Assert.Equal([1f, 2f, 3f], file.ReadFloats("f"));
        Assert.Equal([1.5f, -2f], file.ReadFloats("h"));
        Assert.Equal([0.5f], file.ReadFloats("b"));
        Assert.Equal("pt", file.Metadata["format"]);
    }

    [Fact]
    public void F16_BF16_and_F64_convert_exactly_on_representable_values()
    {
        // Every finite half is exactly a float; bfloat16 is the top half of a float; small dyadic numbers survive F64.
        var halves = new List<float>();
        for (int bits = 0; bits < 0x10000; bits++)
        {
            Half h = BitConverter.UInt16BitsToHalf((ushort)bits);
            if (Half.IsFinite(h)) halves.Add((float)h);
        }
        float[] bf = [0f, -0f, 1f, -1f, 0.15625f, 3.0e38f, -2.5e-38f, 65536f, 1.0e-40f /* subnormal in bf16 too */];
        for (int i = 0; i < bf.Length; i++) bf[i] = BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(bf[i]) & 0xFFFF0000);
        float[] doubles = [0.1f, -7.75f, 1e-30f, 123456.5f];
        using var dir = new TempDirectory();
        string path = dir.File("types.safetensors");
        new RawSafeTensors().AddF16("h", [halves.Count], halves.ToArray()).AddBF16("b", [bf.Length], bf).AddF64("d", [doubles.Length], doubles).Write(path);
        using SafeTensorsFile file = SafeTensors.Open(path);
        Assert.Equal(halves.ToArray(), file.ReadFloats("h"));
        Assert.Equal(bf, file.ReadFloats("b"));
        Assert.Equal(doubles, file.ReadFloats("d"));
    }

    [Fact]
    public void A_failed_write_leaves_the_previous_file_intact_and_no_temporary_file()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.safetensors");
        SafeTensors.Write(path, [new SafeTensorsEntry("a", [2], [1f, 2f])]);
        byte[] before = File.ReadAllBytes(path);
        int calls = 0;
        TensorData failing = () => ++calls == 2 ? throw new IOException("disk full (simulated)") : new float[] { 5f, 6f };
        var e = Assert.Throws<IOException>(() => SafeTensors.Write(path,
            [new SafeTensorsEntry("a", [2], failing), new SafeTensorsEntry("b", [2], failing), new SafeTensorsEntry("c", [2], failing)]));
        Assert.Contains("simulated", e.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Writer_rejects_data_of_the_wrong_length_and_duplicate_names_without_touching_the_target()
    {
        using var dir = new TempDirectory();
        string path = dir.File("x.safetensors");
        var e = Assert.Throws<ArgumentException>(() => SafeTensors.Write(path, [new SafeTensorsEntry("a", [2, 2], [1f, 2f, 3f])]));
        Assert.Contains("'a'", e.Message);
        Assert.Contains("4", e.Message);
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(path, [new SafeTensorsEntry("a", [1], [1f]), new SafeTensorsEntry("a", [1], [1f])]));
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    // ---- hostile files: each must fail with a WeightsFileException naming the file and the problem ----

    private static string Header(string name = "a", string dtype = "F32", string shape = "[2]", string offsets = "[0,8]") =>
        $"{{\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":{offsets}}}}}";

    private static void Rejects(byte[] bytes, params string[] fragments)
    {
        using var dir = new TempDirectory();
        string path = dir.File("bad.safetensors");
        File.WriteAllBytes(path, bytes);
        IoAssert.Fails(path, () => SafeTensors.Open(path).Dispose(), fragments);
    }

    private static void RejectsHeader(string header, int dataBytes, params string[] fragments)
    {
        using var dir = new TempDirectory();
        string path = dir.File("bad.safetensors");
        RawSafeTensors.WriteRaw(path, header, new byte[dataBytes]);
        IoAssert.Fails(path, () => SafeTensors.Open(path).Dispose(), fragments);
    }

    [Fact]
    public void Empty_and_truncated_files_are_rejected() => Rejects([1, 2, 3], "3 bytes", "truncated");

    [Fact]
    public void A_file_cut_inside_its_header_is_rejected()
    {
        using var dir = new TempDirectory();
        string good = dir.File("good.safetensors");
        SafeTensors.Write(good, [new SafeTensorsEntry("a", [4], [1f, 2f, 3f, 4f])]);
        byte[] bytes = File.ReadAllBytes(good);
        Rejects(bytes[..20], "header length", "only 12 bytes follow");
    }

    [Fact]
    public void A_file_cut_inside_its_data_is_rejected()
    {
        using var dir = new TempDirectory();
        string good = dir.File("good.safetensors");
        SafeTensors.Write(good, [new SafeTensorsEntry("a", [4], [1f, 2f, 3f, 4f])]);
        byte[] bytes = File.ReadAllBytes(good);
        Rejects(bytes[..^3], "'a'", "run past the end of the data section");
    }

    [Fact]
    public void A_header_length_beyond_the_file_is_rejected()
    {
        byte[] bytes = new byte[64];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1000);
        Rejects(bytes, "1,000 bytes", "only 56 bytes follow");
    }

    [Fact]
    public void A_huge_header_length_is_rejected_before_anything_is_allocated()
    {
        byte[] bytes = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue);
        Rejects(bytes, "header length field");
    }

    [Fact]
    public void A_header_length_above_the_cap_is_rejected_even_when_the_file_is_that_long()
    {
        using var dir = new TempDirectory();
        string path = dir.File("big.safetensors");
        using (var s = File.Create(path))
        {
            byte[] prefix = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, 200_000_000);
            s.Write(prefix);
            s.SetLength(8 + 200_000_000L); // sparse file: cheap
        }
        IoAssert.Fails(path, () => SafeTensors.Open(path).Dispose(), "200,000,000", "limit");
    }

    [Fact]
    public void Invalid_json_is_rejected() => RejectsHeader("{\"a\":{\"dtype\":\"F32\",", 0, "not valid JSON");

    [Fact]
    public void Invalid_utf8_is_rejected()
    {
        byte[] header = [.. "{\"a"u8, 0xFF, 0xFE, .. "\":{}}"u8];
        byte[] bytes = new byte[8 + header.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        Rejects(bytes, "UTF-8");
    }

    [Fact]
    public void A_non_object_header_is_rejected() => RejectsHeader("[1,2,3]", 0, "not an object");

    [Fact]
    public void Offsets_past_the_data_are_rejected() => RejectsHeader(Header(offsets: "[0,800]"), 8, "'a'", "run past the end");

    [Fact]
    public void Offsets_that_do_not_match_the_shape_are_rejected() => RejectsHeader(Header(shape: "[3]", offsets: "[0,8]"), 8, "'a'", "needs 12 bytes", "span 8");

    [Fact]
    public void Reversed_offsets_are_rejected() => RejectsHeader(Header(offsets: "[8,0]"), 8, "ends before it starts");

    [Fact]
    public void Overlapping_tensors_are_rejected() => RejectsHeader(
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
        "'a'", "'b'", "overlap");

    [Fact]
    public void Gaps_and_trailing_bytes_are_rejected()
    {
        RejectsHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "[0, 4)", "no tensor");
        RejectsHeader(Header(), 12, "12 bytes", "cover only 8");
    }

    [Fact]
    public void Unknown_dtypes_and_malformed_entries_are_rejected()
    {
        RejectsHeader(Header(dtype: "F128"), 8, "unknown dtype 'F128'");
        RejectsHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 0, "'a'", "no data_offsets");
        RejectsHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "non-negative integers");
        RejectsHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":1}}", 8, "unknown field 'extra'");
        RejectsHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}", 8, "more elements than any file can hold");
        RejectsHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "'a' twice");
    }

    [Fact]
    public void Metadata_must_map_strings_to_strings() =>
        RejectsHeader("{\"__metadata__\":{\"step\":12},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "'step'", "must be strings");

    [Fact]
    public void Reading_an_integer_tensor_as_floats_names_the_tensor_and_its_type()
    {
        using var dir = new TempDirectory();
        string path = dir.File("ints.safetensors");
        new RawSafeTensors().Add("ids", "I64", [2], new byte[16]).Write(path);
        using SafeTensorsFile file = SafeTensors.Open(path);
        Assert.Equal(SafeTensorsDType.I64, file["ids"].DType);
        IoAssert.Fails(path, () => file.ReadFloats("ids"), "'ids'", "I64");
        IoAssert.Fails(path, () => file.ReadFloats("nope"), "no tensor named 'nope'");
    }

    [Fact]
    public void Random_garbage_never_crashes_or_hangs_the_reader()
    {
        // A small fuzz: random bytes, and a valid file with random single-byte corruptions. Each either opens (and then
        // reads) or fails with WeightsFileException; nothing else may escape.
        using var dir = new TempDirectory();
        string good = dir.File("good.safetensors");
        SafeTensors.Write(good, [new SafeTensorsEntry("a", [3], [1f, 2f, 3f]), new SafeTensorsEntry("b", [2, 2], [1f, 2f, 3f, 4f])],
            new Dictionary<string, string> { ["k"] = "v" });
        byte[] original = File.ReadAllBytes(good);
        var rng = new Random(1234);
        string path = dir.File("fuzz.safetensors");
        for (int round = 0; round < 300; round++)
        {
            byte[] bytes = (byte[])original.Clone();
            if (round % 3 == 0) rng.NextBytes(bytes);
            else for (int k = 0; k < 1 + round % 4; k++) bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
            File.WriteAllBytes(path, bytes);
            try
            {
                using SafeTensorsFile file = SafeTensors.Open(path);
                foreach (SafeTensorInfo t in file.Tensors)
                    if (t.DType.IsFloatReadable() && t.ElementCount < 1000) file.ReadFloats(t.Name);
            }
            catch (WeightsFileException e)
            {
                Assert.Contains(path, e.Message);
            }
        }
    }
}
