#!/usr/bin/env perl
# The seed plan's profiling demo, made to run for real:
#   perl-sentry profile examples/profiling_demo.pl     (a flame graph now, no account needed)
#   perl-sentry run examples/profiling_demo.pl         (with SENTRY_DSN set, once Sentry::SDK ships)
# The workload is the seed's: a recursive computation, I/O-like waits, a background job in phases.
use strict;
use warnings;
use feature qw(say signatures);
no warnings qw(experimental::signatures);
use Time::HiRes ();

# Sentry::SDK is the next piece of PerlSentry; until it is installed the demo still runs and
# `perl-sentry profile` still profiles it (the profiler needs no SDK calls).
my $sdk = eval { require Sentry::SDK; 1 } ? 'Sentry::SDK' : undef;
if ($sdk) {
    $sdk->init({
        dsn                  => $ENV{SENTRY_DSN},
        enable_profiling     => 1,
        profiles_sample_rate => 1.0,
        profile_lifecycle    => 'manual',
        sampling_interval_us => 5000,
    });
}

$| = 1;
say "Sentry profiling demo";
say "=" x 40;

say "\n1. Manual profiling: expensive computation";
$sdk->start_profiler({ name => 'expensive-computation' }) if $sdk;
my $sum = expensive_computation(1000);
$sdk->stop_profiler if $sdk;
say "   result $sum";

say "\n2. Profiling a code block: data processing";
my $result = $sdk ? $sdk->profile('data-processing', sub { process_data_with_recursion(5) })
                  : process_data_with_recursion(5);
say "   processed result: $result";

say "\n3. A background job in three phases";
my $txn = $sdk ? $sdk->start_transaction({ name => 'background-job', op => 'task' }) : undef;
simulate_background_job();
$txn->finish if $txn;
say "\nDemo complete.";

sub expensive_computation ($iterations) {
    my $result = 0;
    for my $i (1 .. $iterations) {
        $result += fibonacci($i % 20);
        usleep(1000) if $i % 100 == 0;    # simulate I/O
    }
    return $result;
}

sub fibonacci ($n) {
    return $n if $n <= 1;
    return fibonacci($n - 1) + fibonacci($n - 2);
}

sub process_data_with_recursion ($depth) {
    return 1 if $depth <= 0;
    usleep(2000);                         # simulate processing
    return process_data_with_recursion($depth - 1) + $depth;
}

sub simulate_background_job {
    say "   phase 1: data validation";
    expensive_computation(200);
    say "   phase 2: data transformation";
    process_data_with_recursion(3);
    say "   phase 3: result generation";
    expensive_computation(150);
}

# core sleep() takes whole seconds (sleep(0.1) sleeps 0 s): wait with select, as the seed meant.
sub usleep ($microseconds) {
    select(undef, undef, undef, $microseconds / 1_000_000);
}
