#!/usr/bin/env perl
# A tour of running Perl under the PerlSentry host: run it with
#   perl-sentry run examples/host_demo.pl
# and again with plain perl to see that the program cannot tell (except where it asks).
use strict;
use warnings;
use POSIX qw(strftime);
use List::Util qw(sum);
use Digest::SHA qw(sha256_hex);
use Time::HiRes qw(time sleep);
use PerlSentry;

$| = 1;
printf "PerlSentry host: %s\n",
    PerlSentry::is_hosted() ? "yes, engine " . PerlSentry::engine_version() . " on " . PerlSentry::runtime() : "no (plain perl)";
printf "perl %vd at %s\n", $^V, $^X;

# XS modules load as under perl.
printf "sum 1..100 = %d, sha256('perl') = %.16s…, %s\n", sum(1 .. 100), sha256_hex('perl'), strftime('%Y-%m-%d', gmtime);

# Work split across forked children, each reporting back through a pipe.
my @kids;
for my $n (1 .. 3) {
    pipe(my $r, my $w) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $r;
        my $t = 0;
        $t += $_ for 1 .. 200_000 * $n;
        print $w "$t\n";
        exit 0;
    }
    close $w;
    push @kids, [$pid, $r];
}
for (@kids) {
    my ($pid, $r) = @$_;
    chomp(my $t = <$r>);
    waitpid $pid, 0;
    print "child $pid computed $t (status $?)\n";
}

# alarm keeps working: the host never uses signals itself.
my $t0 = time;
my $ok = eval { local $SIG{ALRM} = sub { die "timed out\n" }; alarm 1; sleep 5; 1 };
chomp(my $err = $@);
printf "alarm: %s after %.1fs\n", $ok ? "no timeout?" : "caught '$err'", time - $t0;
print "done\n";
