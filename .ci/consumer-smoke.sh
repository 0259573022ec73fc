#!/usr/bin/env bash
# The packages as a user meets them. Packs ViTCompiler and ViTCompiler.Imaging into a folder feed and checks what is
# inside; then, in a temp folder outside the repository: `dotnet new console`, `dotnet add package ViTCompiler`, a
# [VitModel] of its own with odd shapes, a build with warnings as errors, one Forward and one TrainStep (finite logits,
# a loss of ln(classes) at initialisation), a changed attribute and a rebuild (the new shapes must appear), and a
# NativeAOT publish whose binary must give the same answers; the README's quick start is built and run first. A second
# app references only ViTCompiler.Imaging, to check that the generator and the build settings reach it through that
# package, and loads a PNG and a TIFF with EXIF tags in a NativeAOT binary. Nothing comes from project references.
# Any failure exits non-zero.
#
# Stale packages: the packages get a version no one has restored before, <VersionPrefix>-smoke.<UTC time>.<pid>. The
# NuGet cache holds packages by id and version and never looks at a feed again for a version it has, so a fixed version
# would let an old copy stand in for the one just packed; a new version cannot be in it. The cache entries this run
# makes are deleted when it ends, and the shared cache keeps serving everything else (the NativeAOT compiler included).
#
# Needs: the .NET SDK, NuGet, unzip, and a C toolchain for the NativeAOT link (.ci/native-toolchain.sh installs it).
# Usage: bash .ci/consumer-smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

fail() { echo "consumer-smoke: FAILED: $*" >&2; exit 1; }
expect() { # expect PATTERN TEXT: the text must contain the pattern (grep -E)
  grep -Eq -- "$1" <<<"$2" || fail "expected /$1/ in: $2"
}

bash .ci/native-toolchain.sh consumer-smoke
if ! command -v unzip >/dev/null; then
  { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; } || fail "unzip is needed to look inside the packages; install it first."
  apt-get update -qq && apt-get install -y -qq unzip >/dev/null
fi
step() { echo; echo "consumer-smoke: $*"; }
started=$SECONDS

suffix="smoke.$(date -u +%Y%m%d%H%M%S).$$"
version=$(dotnet msbuild src/ViTCompiler/ViTCompiler.csproj -getProperty:Version -p:VersionSuffix="$suffix")
cache=$(dotnet nuget locals global-packages --list | sed 's/^global-packages: *//')
work=$(mktemp -d)
cleanup() {
  rm -rf "$work" "$cache/vitcompiler/$version" "$cache/vitcompiler.imaging/$version"
  rmdir "$cache/vitcompiler" "$cache/vitcompiler.imaging" 2>/dev/null || true # only when no other version is there
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------------------------------
step "packing $version"
feed=$work/feed
for project in src/ViTCompiler src/ViTCompiler.Imaging; do
  dotnet pack "$project" -c Release -o "$feed" --version-suffix "$suffix" -nologo -v q
done

# Every file a package holds, less the packaging's own bookkeeping; it must be exactly the expected list, so a test
# assembly, a sample or the generator's Roslyn dependency that slipped in fails here.
contents() { unzip -Z1 "$1" | grep -Ev '^(_rels/|package/|\[Content_Types\]\.xml$|[^/]*\.nuspec$)' | sort | tr '\n' ' '; }
check_package() { # check_package FILE EXPECTED-FILES...
  local file=$1; shift
  [ -f "$file" ] || fail "$file was not produced; the feed holds: $(ls "$feed")"
  unzip -l "$file"
  local actual expected
  actual=$(contents "$file")
  expected="$(printf '%s\n' "$@" | sort | tr '\n' ' ')"
  [ "$actual" = "$expected" ] || fail "$(basename "$file") holds [$actual], expected [$expected]"
}
check_package "$feed/ViTCompiler.$version.nupkg" README.md lib/net10.0/ViTCompiler.dll lib/net10.0/ViTCompiler.xml \
  analyzers/dotnet/cs/ViTCompiler.Generators.dll buildTransitive/ViTCompiler.props buildTransitive/ViTCompiler.targets
check_package "$feed/ViTCompiler.$version.snupkg" lib/net10.0/ViTCompiler.pdb
check_package "$feed/ViTCompiler.Imaging.$version.nupkg" README.md lib/net10.0/ViTCompiler.Imaging.dll lib/net10.0/ViTCompiler.Imaging.xml
check_package "$feed/ViTCompiler.Imaging.$version.snupkg" lib/net10.0/ViTCompiler.Imaging.pdb

nuspec=$(unzip -p "$feed/ViTCompiler.$version.nupkg" ViTCompiler.nuspec)
expect '<license type="expression">MIT</license>' "$nuspec"
expect '<readme>README.md</readme>' "$nuspec"
expect "<version>$version</version>" "$nuspec"
# The generator is packed, not depended on: the one package dependency is System.Numerics.Tensors (TensorPrimitives).
expect '<dependency id="System.Numerics.Tensors" version="[^"]+" exclude="Build,Analyzers" />' "$nuspec"
[ "$(grep -c '<dependency ' <<<"$nuspec")" = 1 ] || fail "ViTCompiler should depend on System.Numerics.Tensors alone: $nuspec"
# Imaging depends on ViTCompiler of the same version with nothing excluded, so the generator and buildTransitive flow.
expect "<dependency id=\"ViTCompiler\" version=\"$version\" include=\"All\" />" "$(unzip -p "$feed/ViTCompiler.Imaging.$version.nupkg" ViTCompiler.Imaging.nuspec)"

# ---------------------------------------------------------------------------------------------------------------------
step "a console app that adds the package"
app=$work/MyVitApp
dotnet new console --output "$app" --name MyVitApp --no-restore >/dev/null
cd "$app"
# The feed beside the user's own sources (they serve the NativeAOT compiler packages).
cat > nuget.config <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="vitcompiler-smoke" value="$feed" />
  </packageSources>
</configuration>
EOF
dotnet add package ViTCompiler --version "$version" --source "$feed"
grep -q "Include=\"ViTCompiler\" Version=\"$version\"" MyVitApp.csproj || fail "dotnet add package did not add ViTCompiler $version: $(cat MyVitApp.csproj)"
grep -q ProjectReference MyVitApp.csproj && fail "the app has a ProjectReference"

# The README's quick start, copied as a user would (the package's README must show the same program).
quick_start() { awk '/^```csharp$/ { on = 1; next } on && /^```$/ { exit } on' "$1"; }
quick_start "$repo/README.md" > Program.cs
[ -s Program.cs ] || fail "no csharp block in README.md"
[ "$(quick_start "$repo/src/ViTCompiler/README.md")" = "$(cat Program.cs)" ] ||
  fail "the quick start in src/ViTCompiler/README.md (the package's) differs from README.md's"
dotnet build -c Release -warnaserror -nologo -v q
readme=$(dotnet run -c Release --no-build)
echo "$readme"
# The README says what the program prints: 7 × 7 patches + [class] = 50 tokens, and ln 10 at initialisation.
grep -qF "prints \`$readme\`" "$repo/README.md" || fail "README.md does not say that its quick start prints '$readme'"
rm Program.cs

step "a model of its own"
declare_model() { # declare_model ATTRIBUTE-ARGUMENTS
  cat > MyVit.cs <<EOF
using ViTCompiler;

[VitModel($1)]
public partial class MyVit { }
EOF
}
cat > Program.cs <<'EOF'
using ViTCompiler;

const int batch = 4;
var model = new MyVit(seed: 0);
var random = new Random(1);
float[] pixels = new float[batch * MyVit.Channels * MyVit.ImageSize * MyVit.ImageSize];
for (int i = 0; i < pixels.Length; i++) pixels[i] = (float)(random.NextDouble() * 2 - 1);
int[] labels = Enumerable.Range(0, batch).Select(i => i % model.Config.Classes).ToArray();
float[] logits = new float[batch * model.Config.Classes];

model.Forward(pixels, batch, logits);
float loss = model.TrainStep(pixels, labels, batch, new TrainStepOptions(), default);

Console.WriteLine($"config: {MyVit.ModelConfig}");
Console.WriteLine($"shapes: ImageSize={MyVit.ImageSize} Patch={MyVit.Patch} Tokens={MyVit.Tokens} Hidden={MyVit.Hidden} " +
                  $"Heads={MyVit.Heads} HeadDim={MyVit.HeadDim} Layers={MyVit.Layers} Classes={MyVit.DefaultClasses} Parameters={MyVit.ParameterCount}");
Console.WriteLine($"forward: {logits.Length} logits, all finite: {logits.All(float.IsFinite)}");
Console.WriteLine($"train step: loss {loss:F6} ln(classes) {Math.Log(model.Config.Classes):F6}");
Console.WriteLine($"engine: {model.Engine}");
EOF

# run_checks OUTPUT TOKENS HEAD-DIM: the shapes the attribute implies, finite logits, loss = ln(classes) at
# initialisation (the head starts at zero, so every class gets the same logit).
run_checks() {
  echo "$1"
  expect "Tokens=$2 " "$1"
  expect "HeadDim=$3 " "$1"
  expect 'all finite: True' "$1"
  awk '/^train step:/ { d = $4 - $6; if (d < 0) d = -d; exit !(d < 1e-3) }' <<<"$1" || fail "the loss is not ln(classes) at initialisation"
}

declare_model "ImageSize = 20, Patch = 5, Hidden = 24, Heads = 3, Layers = 2, Classes = 7"
dotnet build -c Release -warnaserror -nologo -v q
first=$(dotnet run -c Release --no-build)
run_checks "$first" 17 8   # (20/5)² patches + [class] = 17 tokens; 24/3 = 8 per head

step "changing the attribute and rebuilding"
declare_model "ImageSize = 18, Patch = 3, Hidden = 30, Heads = 5, Layers = 1, Classes = 4"
dotnet build -c Release -warnaserror -nologo -v q
second=$(dotnet run -c Release --no-build)
run_checks "$second" 37 6  # (18/3)² + 1 = 37 tokens; 30/5 = 6 per head
[ "$first" != "$second" ] || fail "the rebuilt app prints what the first build printed"

# ---------------------------------------------------------------------------------------------------------------------
step "NativeAOT publish"
dotnet publish -c Release -r linux-x64 -p:PublishAot=true -warnaserror -nologo -v q -o "$app/aot"
binary=$app/aot/MyVitApp
[ -x "$binary" ] || fail "$binary was not produced"
echo "consumer-smoke: $binary is $(stat -c %s "$binary") bytes"
native=$("$binary")
run_checks "$native" 37 6
# The package's buildTransitive targets pick x86-64-v3 when the app does not choose: AVX2 code, even on AVX-512 CPUs.
if grep -qw avx2 /proc/cpuinfo; then expect 'engine: generated, Vector256' "$native"; fi
[ "$(grep -v '^engine:' <<<"$native")" = "$(grep -v '^engine:' <<<"$second")" ] || fail "the NativeAOT binary's numbers differ from the JIT's"

step "a project that turns unsafe code off"
# The package turns AllowUnsafeBlocks on only where the project leaves it unset; a project's own false must stand and
# be reported as VIT0011 naming the property, not as compiler errors inside generated code.
set +e
refused=$(dotnet build -c Release -p:AllowUnsafeBlocks=false -nologo -v q 2>&1)
code=$?
set -e
[ "$code" -ne 0 ] || fail "a build with AllowUnsafeBlocks=false succeeded"
expect 'error VIT0011: .*AllowUnsafeBlocks' "$refused"
grep -q 'error CS0227' <<<"$refused" && fail "the generated code was compiled without unsafe code: $refused"
echo "consumer-smoke: refused as expected: $(grep -m1 -o 'error VIT0011: .*' <<<"$refused" | sed 's| \[/[^]]*\]$||')"

# ---------------------------------------------------------------------------------------------------------------------
step "an app that references only ViTCompiler.Imaging"
imaging=$work/ImagingApp
dotnet new console --output "$imaging" --name ImagingApp --no-restore >/dev/null
cd "$imaging"
cp "$app/nuget.config" .
dotnet add package ViTCompiler.Imaging --version "$version" --source "$feed"
cat > Program.cs <<'EOF'
using ViTCompiler;
using ViTCompiler.Imaging;

var loader = new ImageLoader(ImagePreprocessing.Google(GreyVit.ImageSize) with { Color = ColorMode.Grey });
float[] pixels = new float[GreyVit.Channels * GreyVit.ImageSize * GreyVit.ImageSize];
loader.Load(args[0], pixels);
float[] logits = new float[GreyVit.DefaultClasses];
new GreyVit(seed: 0).Forward(pixels, 1, logits);
Console.WriteLine($"image: {pixels.Length} values in [{pixels.Min():F3}, {pixels.Max():F3}]");
Console.WriteLine($"forward: {logits.Length} logits, all finite: {logits.All(float.IsFinite)}");

[VitModel(ImageSize = 28, Channels = 1, Patch = 7, Layers = 1, Hidden = 16, Heads = 2, Classes = 3)]
public partial class GreyVit { }
EOF
# ImageSharp's two collapsed trim warnings, as the package's README says (ImageLoader handles the one that matters).
sed -i 's|</TargetFramework>|</TargetFramework><NoWarn>$(NoWarn);IL2104;IL3053</NoWarn>|' ImagingApp.csproj
dotnet publish -c Release -r linux-x64 -p:PublishAot=true -warnaserror -nologo -v q -o "$imaging/aot"
fixtures=$repo/tests/ViTCompiler.Cli.Tests/Fixtures
grey=$("$imaging/aot/ImagingApp" "$fixtures/bar.png")
echo "$grey"
# bar.png (TestImages.Png): black with a bar of grey 166…235; Google's (x/255 − 0.5)/0.5 maps 0 → −1 and 235 → 0.843.
expect 'image: 784 values in \[-1\.000, 0\.843\]' "$grey"
expect 'all finite: True' "$grey"
# A TIFF with EXIF tags: ImageSharp reads EXIF value types by reflection, which NativeAOT must have been prepared for.
tiff=$("$imaging/aot/ImagingApp" "$fixtures/exif-tags.tif")
echo "$tiff"
expect 'all finite: True' "$tiff"

echo
echo "consumer-smoke: all checks passed ($version, $((SECONDS - started)) s)"
