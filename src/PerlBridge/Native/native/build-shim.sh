#!/usr/bin/env bash
# Builds libperlbridge.so against the perl on PATH (or $PERLSENTRY_PERL), like an XS module.
# Usage: build-shim.sh OUTDIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build-shim.sh OUTDIR}
perl=${PERLSENTRY_PERL:-perl}
mkdir -p "$out"
ccopts=$("$perl" -MExtUtils::Embed -e ccopts)
core=$("$perl" -MConfig -e 'print "$Config{archlibexp}/CORE"')
if [ ! -f "$core/perl.h" ]; then
  echo "build-shim: $core/perl.h is missing: install the perl headers (Debian: libperl-dev)" >&2
  exit 1
fi
libperl=$("$perl" -MConfig -e 'print $Config{libperl}')
common=("$here"/pb_value.c "$here"/pb_registry.c "$here"/pb_sample.c "$here"/pb_client.c)
flags=(-O2 -g -fPIC -shared -Wall -Wextra -Wno-unused-parameter -Werror -fvisibility=hidden
       -DPB_EXPORT='__attribute__((visibility("default")))')
# The host's shim. Linked against the soname so the loader reuses the libperl the host opened RTLD_GLOBAL.
# shellcheck disable=SC2086
${CC:-gcc} "${flags[@]}" $ccopts -DPB_PERL_PATH="\"$("$perl" -e 'print $^X')\"" \
  -o "$out/libperlbridge.so.tmp" "${common[@]}" "$here"/pb_interp.c "$here"/pb_call.c "$here"/pb_signal.c \
  -L"$core" -l:"$libperl" -Wl,-rpath,"$core" -lpthread
mv "$out/libperlbridge.so.tmp" "$out/libperlbridge.so"
# The XS module PerlSentry::Client for plain perl (from the same sources, as Makefile.PL builds it):
# like every XS module it takes perl's symbols from the perl that loads it.
xsdir="$out/perl/auto/PerlSentry/Client"
mkdir -p "$xsdir"
# shellcheck disable=SC2086
${CC:-gcc} "${flags[@]}" $ccopts -o "$xsdir/Client.so.tmp" "${common[@]}" "$here"/pb_xs.c -lpthread
mv "$xsdir/Client.so.tmp" "$xsdir/Client.so"
# Record which perl this shim belongs to (key=value lines: read at every start, so no JSON parser).
"$perl" -MConfig -e '
  my ($path) = grep { -e } map { "$_/$Config{libperl}" } "$Config{archlibexp}/CORE", split " ", $Config{libpth};
  print "perl=$^X\nversion=$Config{version}\narchname=$Config{archname}\nlibperl=", $path // $Config{libperl}, "\n";' > "$out/libperlbridge.conf"
