#!/usr/bin/env bash
# The same CPU-bound script (bench/workloads/cpu.pl) under plain perl, perl-sentry run,
# perl-sentry profile (101 Hz), the seed's SIGALRM + caller() sampler (101 Hz) and Devel::NYTProf.
# Runs alternate; each figure is the median of the script's own timing of its work.
set -euo pipefail
trap 'echo "compare.sh: this failed (exit $?): $BASH_COMMAND" >&2' ERR   # set -e stops without saying what
cd "$(dirname "$0")/.."
cli=${PERLSENTRY_CLI:-artifacts/perl-sentry/perl-sentry}
w=bench/workloads
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rounds=${ROUNDS:-7}
declare -A t
for r in $(seq 1 "$rounds"); do
  t[perl]+="$(perl $w/cpu.pl) "
  t[run]+="$("$cli" run $w/cpu.pl) "
  t[runxs]+="$(PERLSENTRY_XS_SAMPLES=0 "$cli" run $w/cpu.pl) "
  t[profile]+="$("$cli" profile -o "$tmp/p" --force $w/cpu.pl 2>/dev/null) "
  t[seed]+="$(perl -I$w -MSeedSampler $w/cpu.pl) "
  t[nytprof]+="$(NYTPROF=file=$tmp/nytprof.out perl -d:NYTProf $w/cpu.pl) "
done
med() { printf "%s\n" $1 | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(med "${t[perl]}")
row() { local m; m=$(med "${t[$1]}"); awk -v n="$2" -v m="$m" -v b="$base" 'BEGIN { printf "| %s | %.3f s | %.2f× |\n", n, m, m / b }'; }
row perl "plain \`perl\`"
row run "\`perl-sentry run\` (hosted, not profiled; XS-call sampling on, the default)"
row runxs "\`perl-sentry run\` without XS-call sampling (\`PERLSENTRY_XS_SAMPLES=0\`), not profiled"
row profile "\`perl-sentry profile\` (101 Hz, XS-call sampling on)"
row seed "seed design: \`\$SIG{ALRM}\` + \`caller()\` (101 Hz)"
row nytprof "Devel::NYTProf 6.12 (\`perl -d:NYTProf\`)"
echo "| seed design: one sample (the handler's caller() walk) at depth 50 | $(perl -I$w $w/seed_cost.pl) µs | |"
