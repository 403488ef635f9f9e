#!/usr/bin/env bash
# cmake --install into a temporary prefix, then a project outside the tree
# (tests/install/consumer) finds the package with find_package(rappel),
# builds against rappel::client and runs: Connect to a closed port must give
# Unavailable.
# Usage: install_test.sh BUILD_DIR CONSUMER_SOURCE_DIR CXX_COMPILER GENERATOR BUILD_TYPE [CXX_FLAGS]
set -euo pipefail
build=$1 consumer=$2 cxx=$3 generator=$4 build_type=$5 cxx_flags=${6:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$work/prefix" > "$work/install.log" \
  || fail "cmake --install: $(cat "$work/install.log")"
for f in bin/rappeld include/rappel/client.h share/doc/rappel/rappeld.example.toml; do
  [[ -e $work/prefix/$f ]] || fail "$f was not installed"
done
for f in lib/systemd/system/rappeld.service lib/sysusers.d/rappel.conf; do
  [[ -e $work/prefix/$f ]] || fail "$f was not installed"
done
# The unit starts the rappeld of the prefix it was installed to.
grep -q "^ExecStart=$work/prefix/bin/rappeld " "$work/prefix/lib/systemd/system/rappeld.service" ||
  fail "ExecStart= is not the installed rappeld: $(grep ^ExecStart= "$work"/prefix/lib/systemd/system/rappeld.service)"
ls "$work"/prefix/lib*/cmake/rappel/rappelConfig.cmake > /dev/null || fail "no rappelConfig.cmake"
ls "$work"/prefix/lib*/cmake/rappel/rappelConfigVersion.cmake > /dev/null || fail "no version file"

# Nothing from the source or build tree: only the prefix (and /usr).
cmake -S "$consumer" -B "$work/consumer" -G "$generator" \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE="$build_type" -DCMAKE_CXX_FLAGS="$cxx_flags" \
  -DCMAKE_EXE_LINKER_FLAGS="$cxx_flags" > "$work/configure.log" 2>&1 \
  || fail "configure: $(cat "$work/configure.log")"
cmake --build "$work/consumer" > "$work/build.log" 2>&1 || fail "build: $(cat "$work/build.log")"

# Port 1 on loopback: closed (the test for an unreachable rappelctl uses it too).
"$work/consumer/consumer" 1 || fail "the consumer failed"
# The version file: 0.1 is satisfied (above), 1.0 is not.
if cmake -S "$consumer" -B "$work/consumer-v1" -G "$generator" -DCMAKE_PREFIX_PATH="$work/prefix" \
     -DCMAKE_CXX_COMPILER="$cxx" -DRAPPEL_WANTED=1.0 > "$work/configure-v1.log" 2>&1; then
  fail "find_package(rappel 1.0) accepted version $(grep -o 'PACKAGE_VERSION "[^"]*"' "$work"/prefix/lib*/cmake/rappel/rappelConfigVersion.cmake)"
fi
grep -q 'Could not find a configuration file for package "rappel"' "$work/configure-v1.log" || fail "refusal: $(cat "$work/configure-v1.log")"

echo "install: all checks passed"
