use strict;
use warnings;
use Sentry::SDK;

Sentry::SDK->init({ traces_sample_rate => 1.0, profiles_sample_rate => 1.0 });
sub busy { my $t = 0; $t += sqrt($_) for 1 .. 100_000; $t }
for my $i (1 .. 2) {
    my $tx = Sentry::SDK->start_transaction({ name => "tx-$i" });
    busy();
    $tx->finish;
    Sentry::SDK->flush(5);
}
Sentry::SDK->capture_message('after the limit');
