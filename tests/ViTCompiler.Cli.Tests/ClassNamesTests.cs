using Xunit;

namespace ViTCompiler.Cli.Tests;

public class ClassNamesTests
{
    [Fact]
    public void ImageNet_has_the_standard_1000_names_in_class_order()
    {
        IReadOnlyList<string> names = ClassNames.ImageNet;
        Assert.Equal(1000, names.Count);
        Assert.Equal("tench", names[0]);
        Assert.Equal("great white shark", names[2]);
        Assert.Equal("tabby", names[281]);
        Assert.Equal("golden retriever", names[207]);
        Assert.Equal("toilet tissue", names[999]);
    }

    [Fact]
    public void Names_come_from_the_file_then_the_class_count()
    {
        Assert.Same(ClassNames.ImageNet, ClassNames.For(VitConfig.Base16, null));
        Assert.Equal("Trouser", ClassNames.For(Cli.FashionConfig, null)![1]);
        Assert.Null(ClassNames.For(Cli.FashionConfig with { Classes = 7 }, null));
        Assert.Equal(["a", "b"], ClassNames.For(Cli.FashionConfig with { Classes = 2 }, ["a", "b"]));
        Assert.Equal("class 4", ClassNames.Name(null, 4));
    }
}
