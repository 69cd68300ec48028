#!/usr/bin/env bash
# Runs the benchmarks side by side and rewrites bench/RESULTS.md. Needs a Release build
# (./build.sh Bench does both). PERLSENTRY_CLI names the perl-sentry to time.
set -euo pipefail
trap 'echo "run.sh: this failed (exit $?): $BASH_COMMAND" >&2' ERR   # set -e stops without saying what
cd "$(dirname "$0")/.."
cli=${PERLSENTRY_CLI:-artifacts/perl-sentry/perl-sentry}
bridge=bench/Bridge.Bench/bin/Release/net10.0/PerlSentry.Bridge.Bench
out=bench/RESULTS.md.new
{
  echo "# Benchmark results"
  echo
  echo "Written by \`bench/run.sh\` (\`./build.sh Bench\`) on $(date -u +%Y-%m-%d). Machine: $(nproc) cores,"
  echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), perl $(perl -e 'printf "%vd", $^V'), $(dotnet --version | sed 's/^/.NET SDK /')."
  echo "The machine is shared and noisy: every figure is a median of interleaved or repeated runs, and each"
  echo "comparison was measured side by side in the same run."
  echo
  echo "## Bridge call cost (bench/Bridge.Bench, \`calls\`)"
  echo
  echo "A Perl loop calls each kind of sub 2,000,000 times; the loop's own cost (the same loop with"
  echo "\`\$x = \$i + 1\` as its body) is subtracted. C# → Perl is 200,000 \`Call\`s from the owner thread."
  echo "A call of a C# sub that perl compiled knowing the sub runs the bridge's own call op, not perl's"
  echo "entersub; the row with \`PERLSENTRY_ENTERSUB=1\` is the same call through entersub, for comparison."
  echo
  echo "| what | cost |"
  echo "|---|---|"
  "$bridge" calls
  # The same process-level benchmark without entersub wrapped (the default wraps it), run next.
  PERLSENTRY_ENTERSUB=1 "$bridge" calls | grep -E 'cs_inc' | sed 's/^| /| through perl'"'"'s entersub (`PERLSENTRY_ENTERSUB=1`, separate process run right after): /'
  PERLSENTRY_XS_SAMPLES=0 "$bridge" calls-xs
  echo
  echo "## The interpreter pool (bench/Bridge.Bench, \`pool\`)"
  echo
  echo "\`PerlSentry.Hosting.PerlPool\` with 2 interpreters, no Sentry options, calling \`sub echo { \$_[0] }\`."
  echo
  echo "| what | cost |"
  echo "|---|---|"
  "$bridge" pool
  echo
  echo "Fresh or cloned interpreters (\`clone\`): what a pool interpreter costs to make with a web stack loaded."
  echo
  echo "| what | cost |"
  echo "|---|---|"
  "$bridge" clone
  echo
  echo "## Start-up (bench/Bridge.Bench, \`startup\`)"
  echo
  echo "Wall time from process start to exit, \`perl -e 1\` and \`perl-sentry run -e 1\` run alternately."
  echo
  echo "| what | median |"
  echo "|---|---|"
  "$bridge" startup "$cli" 31
  echo
  echo "## Profiler (bench/Profiler.Bench)"
  echo
  echo "In one hosted interpreter: CPU time of the same CPU-bound rounds unprofiled and profiled"
  echo "(alternating, with an unprofiled-twice row as the noise floor); the capture cost of one sample"
  echo "on the Perl thread (back-to-back samples from a C# sub at the given depth); the share of ticks"
  echo "on workloads with a known split; the store's retained memory for a 30 s profile."
  echo
  echo "| what | result |"
  echo "|---|---|"
  bench/Profiler.Bench/bin/Release/net10.0/PerlSentry.Profiler.Bench all
  echo
  sdk=bench/Sdk.Bench/bin/Release/net10.0/PerlSentry.Sdk.Bench
  echo "## The SDK on the Perl thread (bench/Sdk.Bench \`costs\`, bench/workloads/sdk_cost.pl)"
  echo
  echo "The same script under \`perl-sentry run\` (the engine in-process) and under plain \`perl\` (the engine is"
  echo "the agent), one after the other, with the defaults: a DSN (a Sentry stand-in on 127.0.0.1) and the disk"
  echo "cache on. Each call is timed on its own between stretches of the program's own work (~0.2 ms of"
  echo "Perl): the mean CPU time of the Perl thread (\`CLOCK_THREAD_CPUTIME_ID\`) and the median wall time of"
  echo "one call (which includes any wait for the agent). 2,000 calls a row (300 profiled)."
  echo
  "$sdk" costs "$cli"
  echo
  echo "The engine's share without Perl (bench/Sdk.Bench \`engine\`: the seam's calls in a C# loop, the"
  echo "thread's CPU and the bytes it allocated per call, medians of 5 × 2,000):"
  echo
  echo "| what | cost |"
  echo "|---|---|"
  "$sdk" engine
  echo
  echo "## The transport under pressure and the agent (bench/Sdk.Bench \`transport\`, \`agent\`)"
  echo
  echo "| what | result |"
  echo "|---|---|"
  "$sdk" transport "$cli"
  "$sdk" agent "$cli"
  echo
  echo "## \`perl-sentry serve\` vs Starman (bench/Sdk.Bench \`serve\`)"
  echo
  echo "Debian's Starman and \`perl-sentry serve\`, 2 workers each, loaded by Debian's \`wrk\` (2 threads) on the"
  echo "same 2 cores. Both servers of a comparison run at once: each is warmed (3 s of load against Starman, 12 s"
  echo "traced against untraced), then they are measured in turn in 2 s slices (9 pairs against Starman, 15 for"
  echo "traced JSON, 6 for traced hello world, in the order AB BA AB …, each after 1 s of load not measured and"
  echo "followed by 0.5 s for the work it leaves behind), and the ratio in a row is the median of the pairs' ratios (the req/s and ms beside it are"
  echo "each server's median): this shared machine drifts by more than 3% between separate rounds of fresh servers."
  echo "Traced servers send to a Sentry stand-in on 127.0.0.1, in the benchmark's process: it reads each envelope and"
  echo "answers 200, on the same 2 cores. Starman's workers keep serving a keep-alive connection until it closes:"
  echo "with 64 keep-alive connections, 2 are answered and 62 wait unanswered for the whole run (checked by hand:"
  echo "\`ss -ti\` shows bytes received on 2 of wrk's 64 sockets), and wrk counts only answered requests. So"
  echo "Starman's p99 on the keep-alive rows is the latency of 2 connections, while \`serve\` answers all 64 in turn."
  echo "The rows with \`Connection: close\` (each request on a new connection, both servers) and the 2-connection"
  echo "row compare like with like."
  echo
  echo "| what | result |"
  echo "|---|---|"
  "$sdk" serve "$cli" 3 60
  echo
  echo "## The same script under each profiler (bench/compare.sh)"
  echo
  echo "\`bench/workloads/cpu.pl\` (recursion, small subs, map, sprintf) times its own work; runs alternate,"
  echo "medians of ${ROUNDS:-3}. The seed design is \`bench/workloads/SeedSampler.pm\`, the plan's sampler as written."
  echo
  echo "| run | work time | vs perl |"
  echo "|---|---|---|"
  ROUNDS=${ROUNDS:-3} bench/compare.sh
} > "$out"
mv "$out" bench/RESULTS.md
cat bench/RESULTS.md
