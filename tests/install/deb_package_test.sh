#!/usr/bin/env bash
# The Debian packages (packaging/CMakeLists.txt): cpack -G DEB from the build
# tree, lintian without errors, then each package unpacked (dpkg -x) into a
# scratch root: the installed rappeld and rappelctl answer --version, the
# configuration is a conffile, the unit starts /usr/bin/rappeld, the
# maintainer scripts run (on the scratch root),
# rappel-client.pc works from the scratch root and a program built with it
# links the shared library and runs, the bash completion completes.
# Exit 77 (skipped) only when the packages cannot be built from this tree:
# a build type other than RelWithDebInfo/Release, a sanitizer build, or one
# without the tools.
# Usage: deb_package_test.sh BUILD_DIR BUILD_TYPE BUILD_TOOLS SANITIZE CONSUMER_MAIN CXX_COMPILER
set -euo pipefail
build=$1 build_type=$2 build_tools=$3 sanitize=$4 consumer_main=$5 cxx=$6
fail() { echo "FAIL: $*" >&2; exit 1; }

case $build_type in
  RelWithDebInfo | Release) ;;
  *) echo "SKIP: the packages are built from a RelWithDebInfo or Release tree, not $build_type"; exit 77 ;;
esac
case ${build_tools^^} in
  ON | TRUE | 1 | YES) ;;
  *) echo "SKIP: RAPPEL_BUILD_TOOLS is off (no rappelctl to package)"; exit 77 ;;
esac
case ${sanitize^^} in
  ON | TRUE | 1 | YES) echo "SKIP: a sanitizer build is not packaged"; exit 77 ;;
esac
for tool in cpack lintian dpkg-deb pkg-config; do
  command -v "$tool" > /dev/null || fail "$tool not found (tools/install-deps installs it)"
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The packages go to the scratch directory, not the build tree.
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/out" > "$work/cpack.log" 2>&1 ||
  fail "cpack: $(cat "$work/cpack.log")"
rappel_deb=$(ls "$work"/out/rappel_*.deb) || fail "no rappel package: $(cat "$work/cpack.log")"
dev_deb=$(ls "$work"/out/rappel-dev_*.deb) || fail "no rappel-dev package: $(cat "$work/cpack.log")"

# Errors fail (lintian exits 1 on them, 2 when it cannot check); warnings
# are printed for the log.
rc=0
lintian --fail-on error "$rappel_deb" "$dev_deb" > "$work/lintian.log" 2>&1 || rc=$?
grep '^[WE]: ' "$work/lintian.log" || true
if ((rc != 0)) || grep -q '^E: ' "$work/lintian.log"; then
  fail "lintian (exit $rc): $(cat "$work/lintian.log")"
fi

root=$work/root
dpkg -x "$rappel_deb" "$root"
dpkg -x "$dev_deb" "$root"
version=$(dpkg-deb -f "$rappel_deb" Version)
upstream=${version%-*}
out=$("$root/usr/bin/rappeld" --version) || fail "the installed rappeld --version failed: $out"
[[ $out =~ ^rappeld\ $upstream\ \(commit\ [0-9a-f]+ ]] ||
  fail "rappeld --version says '$out', the package is $version"
out=$("$root/usr/bin/rappelctl" --version) || fail "the installed rappelctl --version failed: $out"
[[ $out == "rappelctl $upstream "* ]] || fail "rappelctl --version says '$out'"

# The configuration: a conffile (an operator's edits survive upgrades).
dpkg-deb --ctrl-tarfile "$rappel_deb" | tar -xO ./conffiles > "$work/conffiles" 2> /dev/null ||
  fail "the rappel package has no conffiles"
grep -qx /etc/rappel/rappeld.toml "$work/conffiles" || fail "conffiles: $(cat "$work/conffiles")"
[[ -s $root/etc/rappel/rappeld.toml ]] || fail "/etc/rappel/rappeld.toml is not in the package"
"$root/usr/bin/rappeld" --check-config "$root/etc/rappel/rappeld.toml" --data-dir "$work/store" \
  > "$work/check.log" 2>&1 || fail "the packaged configuration does not check: $(cat "$work/check.log")"
grep -q '^ExecStart=/usr/bin/rappeld ' "$root/lib/systemd/system/rappeld.service" ||
  fail "the unit does not start /usr/bin/rappeld: $(grep ^ExecStart= "$root/lib/systemd/system/rappeld.service")"
for f in usr/lib/sysusers.d/rappel.conf usr/share/man/man8/rappeld.8.gz usr/share/man/man1/rappelctl.1.gz \
         usr/share/doc/rappel/copyright usr/share/doc/rappel-dev/changelog.Debian.gz \
         usr/include/rappel/client.h; do
  [[ -s $root/$f ]] || fail "$f is not in the packages"
done

# The maintainer scripts, on the scratch root (DPKG_ROOT, as dpkg --root
# runs them): postinst creates the rappel user there; prerm and postrm pass.
dpkg-deb -e "$rappel_deb" "$work/control"
DPKG_ROOT=$root sh -e "$work/control/postinst" configure > "$work/postinst.log" 2>&1 ||
  fail "postinst configure: $(cat "$work/postinst.log")"
grep -q '^rappel:x:[0-9]*:[0-9]*:.*:/var/lib/rappel:' "$root/etc/passwd" ||
  fail "postinst did not create the rappel user: $(cat "$work/postinst.log")"
DPKG_ROOT=$root sh -e "$work/control/prerm" remove || fail "prerm remove failed"
DPKG_ROOT=$root sh -e "$work/control/postrm" remove || fail "postrm remove failed"

# The shared library: its SONAME, and a program built from the scratch root
# with pkg-config only (the blocking and the Asio client) runs on it.
lib=$(ls "$root"/usr/lib/librappel-client.so.*.*)
soname=$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')
[[ $soname =~ ^librappel-client\.so\.[0-9]+$ && -L $root/usr/lib/$soname ]] ||
  fail "SONAME '$soname' of $lib, or its link, is wrong"
export PKG_CONFIG_PATH=$root/usr/lib/pkgconfig
flags=$(pkg-config --cflags --libs rappel-client) || fail "pkg-config --cflags --libs rappel-client failed"
[[ $flags == *-lrappel-client* ]] || fail "pkg-config gives no -lrappel-client: $flags"
# shellcheck disable=SC2086 # the flags are words
"$cxx" -std=c++20 -O0 "$consumer_main" $flags -Wl,-rpath,"$root/usr/lib" -o "$work/consumer" \
  > "$work/consumer.log" 2>&1 || fail "building with pkg-config's flags: $(cat "$work/consumer.log")"
ldd "$work/consumer" | grep -q "$soname => $root/usr/lib/" || fail "the program does not use $soname: $(ldd "$work/consumer")"
"$work/consumer" 1 > "$work/consumer.log" 2>&1 || fail "the program on the shared library: $(cat "$work/consumer.log")"

# The bash completion, on the packaged rappelctl.
completed=$(bash -c 'source "$1"; COMP_WORDS=("$2" appointment bo); COMP_CWORD=2; _rappelctl "$2";
                     echo "${COMPREPLY[*]}"' _ "$root/usr/share/bash-completion/completions/rappelctl" \
                     "$root/usr/bin/rappelctl")
[[ $completed == book ]] || fail "completing 'rappelctl appointment bo' gave '$completed'"

echo "deb_package: all checks passed ($(basename "$rappel_deb"), $(basename "$dev_deb"))"
