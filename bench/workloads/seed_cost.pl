# Cost of one sample in the seed's design at stack depth 50: the handler's caller() walk.
use strict;
use warnings;
use Time::HiRes qw(time);
BEGIN { $ENV{SEED_SAMPLER_OFF} = 1 }
use SeedSampler;
sub down { my $n = shift; return $n > 0 ? down($n - 1) : measure() }
sub measure {
    my $n = 2000;
    my $t = time;
    SeedSampler::collect() for 1 .. $n;
    return (time - $t) / $n;
}
printf "%.2f\n", down(48) * 1e6;   # 48 + measure + main + the collect frame: 50 deep
