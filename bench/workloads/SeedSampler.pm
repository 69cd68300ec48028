# The seed plan's sampler design, for comparison only (bench/compare.sh): SIGALRM re-armed with
# Time::HiRes::alarm after every sample, and a caller() walk in Perl inside the handler.
package SeedSampler;
use strict;
use warnings;
use Time::HiRes ();

our @samples;
my $interval = 1 / 101;

sub collect {
    my @frames;
    my $level = 1;
    while (my @c = caller($level)) {
        push @frames, { function => $c[3], filename => $c[1], lineno => $c[2], package => $c[0] };
        last if @frames >= 100;
        $level++;
    }
    return \@frames;
}

sub start {
    $SIG{ALRM} = sub {
        push @samples, { timestamp => Time::HiRes::time(), thread_id => "$$", frames => collect() };
        Time::HiRes::alarm($interval);
    };
    Time::HiRes::alarm($interval);
}

start() unless $ENV{SEED_SAMPLER_OFF};
END { Time::HiRes::alarm(0) }

1;
