# Costs of the SDK's calls on the Perl thread (bench/Sdk.Bench): with the defaults and the DSN in
# SENTRY_DSN (disk cache on), else envelopes to a temporary folder. Runs under perl-sentry run (the
# engine in-process) or plain perl (the engine is the agent). "warmup" only makes sure the engine is up.
use strict;
use warnings;
use Time::HiRes qw(time);
use File::Temp qw(tempdir);
use Sentry::SDK;

my $dir = tempdir(CLEANUP => 1);
Sentry::SDK->init({ ($ENV{SENTRY_DSN} ? () : (envelope_dir => $dir)), traces_sample_rate => 1.0, profiles_sample_rate => 1.0 });
if (($ARGV[0] // '') eq 'warmup') { Sentry::SDK->capture_message('warm'); Sentry::SDK->flush(5); exit 0 }

sub per_call {
    my ($n, $code) = @_;
    $code->() for 1 .. 50;   # warm: first calls compile paths in the engine
    Sentry::SDK->flush(30);
    my @t;
    for (1 .. 5) {
        my $t0 = time;
        $code->() for 1 .. $n;
        push @t, (time - $t0) / $n;
        Sentry::SDK->flush(30);
    }
    @t = sort { $a <=> $b } @t;
    return $t[2];
}

sub work { my $t = 0; for my $i (1 .. 200_000) { $t += ($i % 7) * ($i % 11) } $t }

my $tx_spans = sub {
    my $tx = Sentry::SDK->start_transaction({ name => 'bench', op => 'task', sampled => 1 });
    $tx->start_child({ op => "op$_" })->finish for 1 .. 3;
    $tx->finish;
};
my $profiler = Sentry::SDK->get_profiler;
printf "| `capture_message` | %.1f µs |\n", 1e6 * per_call(2000, sub { Sentry::SDK->capture_message('bench') });
printf "| `capture_exception` (a die string, stack of 3) | %.1f µs |\n", 1e6 * per_call(2000, sub { eval { die "x\n" }; Sentry::SDK->capture_exception($@) });
$profiler->profile_lifecycle('manual');
printf "| transaction with 3 spans, not profiled | %.1f µs |\n", 1e6 * per_call(2000, $tx_spans);
printf "| unsampled transaction (`sampled => 0`) | %.1f µs |\n", 1e6 * per_call(2000, sub { Sentry::SDK->start_transaction({ name => 'x', sampled => 0 })->finish });
$profiler->profile_lifecycle('trace');
printf "| transaction with 3 spans, profiled (markers, export, envelope) | %.1f µs |\n", 1e6 * per_call(300, $tx_spans);

# A CPU-bound transaction, profiled vs not, alternating rounds.
my (@plain, @prof);
for (1 .. 21) {
    $profiler->profile_lifecycle('manual');
    my $t0 = time; my $tx = Sentry::SDK->start_transaction({ name => 'w', sampled => 1 }); work(); $tx->finish; push @plain, time - $t0;
    $profiler->profile_lifecycle('trace');
    $t0 = time; $tx = Sentry::SDK->start_transaction({ name => 'w', sampled => 1 }); work(); $tx->finish; push @prof, time - $t0;
}
my $med = sub { my @s = sort { $a <=> $b } @_; $s[@s / 2] };
printf "| %.0f ms CPU-bound transaction, profiled vs not (21 alternating rounds, medians) | %+.2f %% |\n",
    1e3 * $med->(@plain), 100 * ($med->(@prof) / $med->(@plain) - 1);
