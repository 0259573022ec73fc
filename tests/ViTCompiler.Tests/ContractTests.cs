using ViTCompiler.Infrastructure;
using Xunit;

namespace ViTCompiler.Tests;

public class ContractTests
{
    // What code emitted by another generator version looks like to this runtime: the same base class, another contract.
    private sealed unsafe class FromAnotherGenerator() : CompiledVit(VitConfig.Tiny16 with { ImageSize = 32, Layers = 1 }, 0, contractVersion: CompiledVit.RuntimeContractVersion + 1)
    {
        protected override string KernelDescription => "none";
        protected override void PackWeights(float* parameters) { }
        protected override void ForwardCore(float* pixels, int batch, float* logits, float* attention) { }
        protected override float TrainStepCore(float* pixels, int* labels, int batch, in TrainStepOptions options, float* logits) => 0;
    }

    [Fact]
    public void Generated_code_for_another_runtime_contract_is_refused_naming_both_versions()
    {
        var e = Assert.Throws<InvalidOperationException>(() => new FromAnotherGenerator());
        Assert.Contains($"contract {CompiledVit.RuntimeContractVersion + 1}", e.Message);
        Assert.Contains($"implements contract {CompiledVit.RuntimeContractVersion}", e.Message);
        Assert.Contains(nameof(FromAnotherGenerator), e.Message);
    }

    [Fact]
    public void Code_from_this_generator_states_this_runtime_contract()
    {
        // The generated constructor passes the contract it was emitted for; a wrong one would throw here. The snapshot
        // tests show the argument in the text.
        Assert.Equal(OddWidth.ModelConfig, new OddWidth().Config);
    }

    [Fact]
    public void Infrastructure_types_are_hidden_from_completion()
    {
        foreach (Type type in typeof(Gemm).Assembly.GetExportedTypes().Where(t => t.Namespace == "ViTCompiler.Infrastructure"))
        {
            var browsable = (System.ComponentModel.EditorBrowsableAttribute?)Attribute.GetCustomAttribute(type, typeof(System.ComponentModel.EditorBrowsableAttribute));
            Assert.True(browsable?.State == System.ComponentModel.EditorBrowsableState.Never, $"{type.FullName} is visible to completion");
        }
    }
}
