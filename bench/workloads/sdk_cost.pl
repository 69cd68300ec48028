# Costs of the SDK's calls on the Perl thread (bench/Sdk.Bench): with the defaults and the DSN in
# SENTRY_DSN (disk cache on), else envelopes to a temporary folder. Runs under perl-sentry run (the
# engine in-process) or plain perl (the engine is the agent). "warmup" only makes sure the engine is up.
use strict;
use warnings;
use Time::HiRes qw(time clock_gettime CLOCK_THREAD_CPUTIME_ID);
use File::Temp qw(tempdir);
use Sentry::SDK;

my $dir = tempdir(CLEANUP => 1);
Sentry::SDK->init({ ($ENV{SENTRY_DSN} ? () : (envelope_dir => $dir)), traces_sample_rate => 1.0, profiles_sample_rate => 1.0 });
if (($ARGV[0] // '') eq 'warmup') { Sentry::SDK->capture_message('warm'); Sentry::SDK->flush(5); exit 0 }

# Each call is timed on its own, between stretches of the app's own work (~0.2 ms of Perl), as calls
# happen in a program: the SDK's background work (the sender, the agent) runs in those gaps, not
# queued up behind a tight loop of calls. Two figures per call: the CPU time of the Perl thread
# (clock_gettime(CLOCK_THREAD_CPUTIME_ID); what the SDK makes this thread do, its own GC included,
# preemption by other processes not), and the median wall time of one call (what a request waits,
# including any wait for the agent).
sub app_work { my $t = 0; $t += $_ % 7 for 1 .. 2_000; $t }
my $clock_cost = do {   # the two clock reads themselves, subtracted
    my ($c, $w) = (0, 0);
    for (1 .. 2000) { my $c0 = clock_gettime(CLOCK_THREAD_CPUTIME_ID); my $t0 = time; my $t1 = time; $w += $t1 - $t0; $c += clock_gettime(CLOCK_THREAD_CPUTIME_ID) - $c0 }
    [$c / 2000, $w / 2000];
};
sub per_call {
    my ($n, $code) = @_;
    $code->() for 1 .. 50;   # warm: first calls compile paths in the engine
    Sentry::SDK->flush(30);
    my ($cpu, @wall) = (0);
    for (1 .. $n) {
        app_work();
        my $c0 = clock_gettime(CLOCK_THREAD_CPUTIME_ID);
        my $t0 = time;
        $code->();
        my $t1 = time;
        $cpu += clock_gettime(CLOCK_THREAD_CPUTIME_ID) - $c0;
        push @wall, $t1 - $t0;
    }
    Sentry::SDK->flush(30);
    @wall = sort { $a <=> $b } @wall;
    return ($cpu / $n - $clock_cost->[0], $wall[@wall / 2] - $clock_cost->[1]);
}
sub median { my @s = sort { $a <=> $b } @_; $s[@s / 2] }
sub row {
    my ($what, $n, $code) = @_;
    my ($cpu, $wall) = per_call($n, $code);
    printf "| %s, Perl-thread CPU (mean) | %.1f µs |\n", $what, 1e6 * $cpu;
    printf "| %s, wall (median of single calls) | %.1f µs |\n", $what, 1e6 * $wall;
}

sub work { my $t = 0; for my $i (1 .. 200_000) { $t += ($i % 7) * ($i % 11) } $t }

my $tx_spans = sub {
    my $tx = Sentry::SDK->start_transaction({ name => 'bench', op => 'task', sampled => 1 });
    $tx->start_child({ op => "op$_" })->finish for 1 .. 3;
    $tx->finish;
};
my $profiler = Sentry::SDK->get_profiler;
row('`capture_message`', 2000, sub { Sentry::SDK->capture_message('bench') });
row('`capture_exception` (a die string, stack of 3)', 2000, sub { eval { die "x\n" }; Sentry::SDK->capture_exception($@) });
$profiler->profile_lifecycle('manual');
row('transaction with 3 spans, not profiled', 2000, $tx_spans);
row('unsampled transaction (`sampled => 0`)', 2000, sub { Sentry::SDK->start_transaction({ name => 'x', sampled => 0 })->finish });
$profiler->profile_lifecycle('trace');
row('transaction with 3 spans, profiled (markers, export, envelope)', 300, $tx_spans);

# What profiling adds to a transaction, in steady state: the same transaction profiled and not, in
# alternating rounds of 200 calls after 4,000 warm-up calls (the engine's code has been recompiled at
# its final tier by then; the first profiled transaction of a process is first_calls.pl's row). Each
# round gives the difference of its two means; the median of those differences is the cost of
# profiling itself (markers, the export's hand-off, the profile item), with the machine's drift over
# the run cancelled round by round.
{
    for my $lifecycle (('trace', 'manual') x 2) {
        $profiler->profile_lifecycle($lifecycle);
        for (1 .. 1000) { app_work(); $tx_spans->() }
        Sentry::SDK->flush(30);
    }
    my (@on, @off, @diff);
    for (1 .. 11) {
        $profiler->profile_lifecycle('trace');
        my ($on) = per_call(200, $tx_spans);
        $profiler->profile_lifecycle('manual');
        my ($off) = per_call(200, $tx_spans);
        push @on, $on; push @off, $off; push @diff, $on - $off;
    }
    $profiler->profile_lifecycle('trace');
    printf "| transaction with 3 spans in steady state, profiled, Perl-thread CPU (median of 11 rounds' means) | %.1f µs |\n", 1e6 * median(@on);
    printf "| transaction with 3 spans in steady state, not profiled, Perl-thread CPU (median of 11 rounds' means) | %.1f µs |\n", 1e6 * median(@off);
    printf "| what profiling adds to that transaction (markers, export hand-off, profile item), Perl-thread CPU (median of 11 rounds' differences; goal ≤ 40 µs) | %.1f µs |\n", 1e6 * median(@diff);
}

# A CPU-bound transaction, profiled vs not, alternating rounds. In-process, the sampler goes on for 2 s
# after a profile ends, so the unprofiled rounds there are sampled too: the in-process figure is what a
# transaction's profile adds beyond the sampling (markers, export); the sampling's own cost is
# Profiler.Bench's row. The agent's client stops its sampler at once: its rounds are not sampled.
my (@plain, @prof);
for (1 .. 21) {
    $profiler->profile_lifecycle('manual');
    my $t0 = time; my $tx = Sentry::SDK->start_transaction({ name => 'w', sampled => 1 }); work(); $tx->finish; push @plain, time - $t0;
    $profiler->profile_lifecycle('trace');
    $t0 = time; $tx = Sentry::SDK->start_transaction({ name => 'w', sampled => 1 }); work(); $tx->finish; push @prof, time - $t0;
}
printf "| a CPU-bound transaction, profiled vs not (21 alternating rounds, medians of wall time; in-process the unprofiled rounds are sampled too, within the sampler's 2 s linger) | %+.2f %% (rounds of %.0f ms) |\n",
    100 * (median(@prof) / median(@plain) - 1), 1e3 * median(@plain);
