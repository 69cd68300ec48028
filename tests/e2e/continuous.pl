use strict;
use warnings;
use Sentry::SDK;

Sentry::SDK->init({ traces_sample_rate => 1.0, profile_session_sample_rate => 1.0, profile_lifecycle => 'trace' });
sub busy { my $t = 0; $t += sqrt($_) for 1 .. 500_000; $t }
for my $i (1 .. 2) {
    my $tx = Sentry::SDK->start_transaction({ name => "job-$i", op => 'task' });
    busy();
    $tx->finish;
}
print "profiler ", (Sentry::SDK->get_profiler->mode), "\n";
