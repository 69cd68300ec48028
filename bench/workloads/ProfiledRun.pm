package ProfiledRun;
# Loaded with -MProfiledRun: the script runs under the SDK with continuous profiling at 101 Hz,
# started by hand before the script's own code (bench/Sdk.Bench, plain perl through the agent).
use strict;
use warnings;
use Sentry::SDK;

Sentry::SDK->init({ profile_session_sample_rate => 1.0, profile_lifecycle => 'manual', envelope_dir => "/tmp/perlsentry-bench-$$", cache_dir => '' });
Sentry::SDK->start_profiler({ name => 'cpu' });
END { Sentry::SDK->stop_profiler; system('rm', '-rf', "/tmp/perlsentry-bench-$$") }
1;
