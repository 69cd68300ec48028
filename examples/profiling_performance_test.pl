#!/usr/bin/env perl
# The seed plan's performance check: the same CPU-bound work without and with a profile, in
# alternating rounds, reported as a ratio. (bench/ holds the measured benchmarks; this is a quick look.)
#   perl-sentry run examples/profiling_performance_test.pl [rounds]
use strict;
use warnings;
use feature 'say';
use Time::HiRes qw(time);
use Sentry::SDK;

Sentry::SDK->init({
    envelope_dir         => $ENV{SENTRY_DSN} ? undef : ($ENV{PERLSENTRY_ENVELOPE_DIR} || 'sentry-envelopes'),
    dsn                  => $ENV{SENTRY_DSN},
    traces_sample_rate   => 1.0,
    profiles_sample_rate => 1.0,
});

my $rounds = shift // 5;
sub work { my $t = 0; for my $i (1 .. 400_000) { $t += ($i % 7) * ($i % 11) } $t }

my (@plain, @profiled);
for (1 .. $rounds) {
    my $t0 = time; work(); push @plain, time - $t0;
    $t0 = time;
    Sentry::SDK->profile('performance-round', \&work);
    push @profiled, time - $t0;
}
my $median = sub { my @s = sort { $a <=> $b } @_; $s[$#s / 2] };
my ($p, $q) = ($median->(@plain), $median->(@profiled));
say sprintf "median of %d rounds: %.1f ms plain, %.1f ms profiled, ratio %.3f", $rounds, $p * 1e3, $q * 1e3, $q / $p;
