use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time);

# What a test suite does with processes must work under the host as under perl.
my $pid = fork;
die "fork: $!" unless defined $pid;
if (!$pid) { exit 7 }
waitpid($pid, 0);
is($? >> 8, 7, 'fork + waitpid gives the child status');

is(system('true'), 0, 'system');
chomp(my $out = `echo hello`);
is($out, 'hello', 'backticks');

my $t0 = time;
my $r = eval { local $SIG{ALRM} = sub { die "alarm\n" }; alarm 1; sleep 4; alarm 0; 1 };
is($@, "alarm\n", 'alarm interrupts sleep through $SIG{ALRM}');
cmp_ok(time - $t0, '<', 3, 'and does so on time');

my $got = 0;
local $SIG{USR1} = sub { $got++ };
kill USR1 => $$;
my $n = 0;
$n++ until $got || $n > 1e7;
is($got, 1, 'kill USR1 => $$ reaches the handler');

is($^X =~ m{perl[\d.]*\z} ? 1 : 0, 1, '$^X is a perl binary, not the host');

done_testing;
