# The first transaction (profiled), error and manual profile of a process (bench/Sdk.Bench `costs`):
# what the program's thread pays for work done once per process (code compiled on first use). The
# program has been running a moment (0.5 s, its own start-up) before its first call, as a server
# does before its first request. Wall time of each call, one process per run: medians come from runs.
use strict;
use warnings;
use Time::HiRes qw(time sleep);
use File::Temp qw(tempdir);
use Sentry::SDK;

my $dir = tempdir(CLEANUP => 1);
Sentry::SDK->init({ ($ENV{SENTRY_DSN} ? () : (envelope_dir => $dir)), traces_sample_rate => 1.0, profiles_sample_rate => 1.0 });
sleep 0.5;
sub work { my $t = 0; $t += $_ % 7 for 1 .. 20_000; $t }
my $t0 = time;
my $tx = Sentry::SDK->start_transaction({ name => 'first', op => 'task' });
my $t1 = time;
work();
my $t2 = time;
$tx->finish;
my $t3 = time;
eval { die "first error\n" };
Sentry::SDK->capture_exception($@);
my $t4 = time;
Sentry::SDK->get_profiler->profile_lifecycle('manual');
Sentry::SDK->start_profiler({ name => 'first manual' });
work();
my $t5 = time;
Sentry::SDK->stop_profiler;
my $t6 = time;
printf "| the first profiled transaction of a process (start + finish, wall) | %.2f ms |\n", 1e3 * ($t1 - $t0 + $t3 - $t2);
printf "| the first `capture_exception` of a process (with source context, wall) | %.2f ms |\n", 1e3 * ($t4 - $t3);
printf "| the first `stop_profiler` of a process (wall) | %.2f ms |\n", 1e3 * ($t6 - $t5);
