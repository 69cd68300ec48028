# Profiling's cost in one process (bench/Sdk.Bench `agent`), where runs of separate processes are
# too noisy to resolve 1 %: the same CPU-bound round (bench/workloads/cpu.pl's work) alternately
# with the profiler on (continuous, manual, 101 Hz) and off, each round's CPU time taken for the
# whole process (every thread: the sampler's and the client's flusher included; user + system;
# the agent's aggregation runs in its own process and is not counted here).
# Prints the median ratio of adjacent profiled/unprofiled rounds, then the same for pairs of
# unprofiled rounds (the noise floor).
use strict;
use warnings;
use Sentry::SDK;

my $dir = "/tmp/perlsentry-rounds-$$";
Sentry::SDK->init({ profile_session_sample_rate => 1.0, profile_lifecycle => 'manual', envelope_dir => $dir, cache_dir => '' });
END { system('rm', '-rf', $dir) if defined $dir }

use FindBin;
use lib $FindBin::Bin;
use CpuWork;

sub cpu { my ($u, $s) = times; $u + $s }
sub round {
    my ($profiled) = @_;
    Sentry::SDK->start_profiler if $profiled;
    my $c0 = cpu();
    my $sum = 0;
    $sum += CpuWork::unit() for 1 .. 8;
    my $used = cpu() - $c0;
    Sentry::SDK->stop_profiler if $profiled;
    return $used;
}
my $med = sub { my @s = sort { $a <=> $b } @_; $s[@s / 2] };
round(0) for 1 .. 2;   # warm
my (@ratio, @floor);
my $rounds = $ARGV[0] // 21;
for my $i (1 .. $rounds) {
    # Which goes first alternates: the second of two rounds is not always the slower.
    my ($on, $off) = $i % 2 ? (round(1), round(0)) : reverse(round(0), round(1));
    push @ratio, $on / $off;
    my ($a, $b) = (round(0), round(0));
    push @floor, $i % 2 ? $a / $b : $b / $a;
}
printf "%.4f %.4f\n", $med->(@ratio), $med->(@floor);
