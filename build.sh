#!/usr/bin/env bash
# Bootstrap and build PerlSentry on a Debian/Ubuntu machine.
#   ./build.sh demo   build everything and run the demo
#   ./build.sh test   build everything and run every test (NUnit + prove), ending in "N passed, N failed"
# Other Cake targets: Native, Build, Bench, Pack.
set -euo pipefail
cd "$(dirname "$0")"
target=${1:-demo}
shift || true

# Debian packages the build, the tests and the benchmarks need: the compiler, Devel::NYTProf (compared
# against), and the servers and job runners whose process shapes the tests run (Starman, Plack,
# Mojolicious prefork/hypnotoad, Minion with its SQLite backend, Parallel::ForkManager), wrk for load,
# and the libraries the integrations patch (DBI with SQLite, LWP) for their tests.
packages=(gcc make perl libdevel-nytprof-perl libtest-exception-perl libmojolicious-perl
  starman libplack-perl libminion-perl libminion-backend-sqlite-perl libparallel-forkmanager-perl wrk
  libdbd-sqlite3-perl libwww-perl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# perl's headers (CORE/perl.h) ship with Debian's perl; some images need libperl-dev for them.
if command -v perl >/dev/null && [ ! -f "$(perl -MConfig -e 'print "$Config{archlibexp}/CORE/perl.h"')" ]; then
  missing+=(libperl-dev)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "build.sh: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v dotnet >/dev/null; then
  echo "build.sh: the .NET 10 SDK is required (dotnet on PATH); see https://learn.microsoft.com/dotnet/core/install/linux-debian" >&2
  exit 1
fi
perl -MConfig -e 'exit($Config{useshrplib} eq "true" ? 0 : 1)' || {
  echo "build.sh: this perl has no shared libperl (perl -V:useshrplib says false); PerlSentry embeds libperl.so." >&2
  exit 1
}

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
dotnet tool restore >/dev/null
case "$target" in
  demo) cake_target=Demo ;;
  test) cake_target=Test ;;
  *) cake_target=$target ;;
esac
exec dotnet cake build.cake --target="$cake_target" "$@"
