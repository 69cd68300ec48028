# fork + the child's exit + waitpid, without the SDK and with it initialised (bench/Sdk.Bench).
use strict;
use warnings;
use Time::HiRes qw(time);
use POSIX ();

sub per_fork {
    my @t;
    for (1 .. 5) {
        my $t0 = time;
        for (1 .. 100) {
            my $pid = fork;
            POSIX::_exit(0) unless $pid;
            waitpid $pid, 0;
        }
        push @t, (time - $t0) / 100;
    }
    @t = sort { $a <=> $b } @t;
    return $t[2];
}

my $without = per_fork();
require Sentry::SDK;
Sentry::SDK->init({ traces_sample_rate => 1.0 });
Sentry::SDK->configure_scope(sub { $_[0]->set_tag(a => 1)->set_user({ id => 7 }) });
Sentry::SDK->capture_message('before forking');
my $with = per_fork();
printf "| fork + child exit + waitpid without the SDK | %.3f ms |\n", 1e3 * $without;
printf "| the same with the SDK initialised (the child's session is a snapshot of the parent's) | %.3f ms |\n", 1e3 * $with;
printf "| difference (goal ≤ +1 ms) | %.3f ms |\n", 1e3 * ($with - $without);
