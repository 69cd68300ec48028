# capture_message against the transport's queue (bench/Sdk.Bench), the DSN in SENTRY_DSN:
#   measure  per call with the queue (nearly) empty (a healthy receiver)
#   fill     10,000 first (the receiver never answers, so they stay), then per call with the queue full
#   burst    10,000 as fast as it can, then waits for them to go
use strict;
use warnings;
use Time::HiRes qw(time);
use Sentry::SDK;

Sentry::SDK->init({ shutdown_timeout => ($ARGV[0] eq 'burst' ? 30 : 0) });
my $mode = $ARGV[0];
if ($mode eq 'burst') {
    my $t0 = time;
    Sentry::SDK->capture_message("burst $_") for 1 .. 10_000;
    printf "queued in %.2f s\n", time - $t0;
    exit 0;
}
Sentry::SDK->capture_message("fill $_") for 1 .. ($mode eq 'fill' ? 10_000 : 0);
my @t;
for (1 .. 5) {
    my $t0 = time;
    Sentry::SDK->capture_message('x') for 1 .. 2000;
    push @t, (time - $t0) / 2000;
    Sentry::SDK->flush(10) if $mode eq 'measure';
}
@t = sort { $a <=> $b } @t;
printf "| capture_message | %.2f µs |\n", 1e6 * $t[2];
