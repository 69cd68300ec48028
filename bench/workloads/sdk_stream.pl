# Captures as fast as it can for ARGV[0] seconds (bench/Sdk.Bench counts what the receiver gets).
use strict;
use warnings;
use Time::HiRes qw(time);
use Sentry::SDK;

Sentry::SDK->init({ shutdown_timeout => 0 });
my $until = time + $ARGV[0];
my $n = 0;
while (time < $until) {
    Sentry::SDK->capture_message("stream $n") for 1 .. 100;
    $n += 100;
    Sentry::SDK->flush(0.05) if $n % 2000 == 0;   # keep the backlog near what the transport can send
}
