#!/usr/bin/env bash
# NativeAOT's final link needs a C toolchain: gcc or clang, and binutils' objcopy (zlib comes with the ILCompiler
# package). The Debian image CI runs on has gcc 12 and binutils; on a bare Debian machine this installs them with
# apt-get when it runs as root, and otherwise says what to install.
# Usage: bash .ci/native-toolchain.sh CALLER   (CALLER names the script in the error message)
set -euo pipefail
caller=${1:-native-toolchain}

if ! { command -v gcc || command -v clang; } >/dev/null || ! command -v objcopy >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq gcc binutils libc6-dev >/dev/null
  else
    echo "$caller: NativeAOT needs a C toolchain (gcc or clang, and binutils' objcopy); install them first." >&2
    exit 1
  fi
fi
