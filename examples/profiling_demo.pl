#!/usr/bin/env perl
# The seed plan's profiling demo, running for real:
#   perl-sentry profile examples/profiling_demo.pl   a flame graph now, no account needed
#   perl-sentry run examples/profiling_demo.pl       envelopes to ./sentry-envelopes (or $PERLSENTRY_ENVELOPE_DIR)
#   SENTRY_DSN=https://key@o0.ingest.sentry.io/1 perl-sentry run examples/profiling_demo.pl
# Changed from the seed: traces_sample_rate is set, because Sentry profiles only sampled
# transactions (part 3 would send nothing without it).
use strict;
use warnings;
use feature qw(say signatures);
no warnings qw(experimental::signatures);
use Sentry::SDK;

Sentry::SDK->init({
    dsn                  => $ENV{SENTRY_DSN},
    envelope_dir         => $ENV{SENTRY_DSN} ? undef : ($ENV{PERLSENTRY_ENVELOPE_DIR} || 'sentry-envelopes'),
    traces_sample_rate   => 1.0,
    enable_profiling     => 1,
    profiles_sample_rate => 1.0,      # profile 100% for the demo
    profile_lifecycle    => 'manual', # manual control first
    sampling_interval_us => 5000,     # 5 ms sampling for more detail
});

$| = 1;
say "Sentry profiling demo";
say "=" x 40;

say "\n1. Manual profiling";
my $profile = Sentry::SDK->start_profiler({ name => 'expensive-computation' });
say "   started profiler: expensive-computation";
my $sum = expensive_computation(1000);
my $stopped = Sentry::SDK->stop_profiler();
say "   stopped: ", scalar @{ $stopped->samples }, " samples, sent with transaction ", $stopped->transaction_id;

say "\n2. Code block profiling";
my $result = Sentry::SDK->profile('data-processing', sub { process_data_with_recursion(5) });
say "   processed result: $result";

say "\n3. Transaction-based profiling";
Sentry::SDK->get_profiler->profile_lifecycle('trace');
my $transaction = Sentry::SDK->start_transaction({ name => 'background-job', op => 'task' });
say "   transaction started; profiled: ", Sentry::SDK->get_profiler->start_transaction_profiling($transaction) ? 'yes' : 'no';
simulate_background_job();
$transaction->finish();
say "   transaction finished: profile ", $transaction->profile_id // 'none';

Sentry::SDK->flush(5);
say "\nDemo complete: ", $ENV{SENTRY_DSN} ? 'check the Profiling tab of your Sentry project.'
    : 'envelopes are in ' . ($ENV{PERLSENTRY_ENVELOPE_DIR} || 'sentry-envelopes') . '.';

sub expensive_computation ($iterations) {
    my $result = 0;
    for my $i (1 .. $iterations) {
        $result += fibonacci($i % 20);
        usleep(1000) if $i % 100 == 0;   # simulate I/O
    }
    return $result;
}

sub fibonacci ($n) {
    return $n if $n <= 1;
    return fibonacci($n - 1) + fibonacci($n - 2);
}

sub process_data_with_recursion ($depth) {
    return 1 if $depth <= 0;
    usleep(2000);   # simulate processing
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

sub usleep ($microseconds) {
    select(undef, undef, undef, $microseconds / 1_000_000);
}
