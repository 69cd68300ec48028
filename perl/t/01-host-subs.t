use strict;
use warnings;
use Test::More;

plan skip_all => 'PerlSentry::Host exists under the host only: prove --exec "perl-sentry run" perl/t'
    unless defined &PerlSentry::Host::engine_version;

# The host's subs behave like ordinary Perl subs: context, errors, symbol table.
ok(defined &PerlSentry::Host::engine_version, 'host sub is defined before the program is compiled');
my @list = PerlSentry::Host::engine_version();
is(scalar @list, 1, 'list context gives one value');
my $code = \&PerlSentry::Host::engine_version;
is($code->(), PerlSentry::Host::engine_version(), 'callable through a code ref');
is(prototype('PerlSentry::Host::engine_version'), undef, 'no prototype');

my $died = !eval { PerlSentry::Host::no_such_sub(); 1 };
ok($died, 'an undefined host sub dies like any undefined sub');
like($@, qr/Undefined subroutine &PerlSentry::Host::no_such_sub/, 'with perl\'s message');

# Host subs called many times in a loop, inside sort and map blocks.
my @v = map { PerlSentry::Host::engine_version() } 1 .. 1000;
is(scalar(grep { $_ eq $v[0] } @v), 1000, 'a thousand calls from map');
my @s = sort { PerlSentry::Host::engine_version() cmp PerlSentry::Host::engine_version() || $a <=> $b } 3, 1, 2;
is("@s", '1 2 3', 'calls from a sort block');

done_testing;
