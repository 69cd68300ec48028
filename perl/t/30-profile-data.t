# What a profile says, read as Sentry reads it: time spent in XS subs and blocking calls lands on
# the Perl sub that made the call, one sample per sampler tick.
use strict;
use warnings;
use Sentry::SDK;   # first: code compiled after it gets the sampler's safe points around XS calls
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP ();
use Time::HiRes ();
use FindBin;
use lib "$FindBin::Bin/lib";
use PerlSentry::TestEngine;

my $dir = tempdir(CLEANUP => 1);
Sentry::SDK->init({ envelope_dir => $dir, cache_dir => '', traces_sample_rate => 1.0, profiles_sample_rate => 1.0 });

sub slow_io { Time::HiRes::sleep(0.3) }   # the XS call is its last op: no safe point after it inside
sub busy { my $t = 0; $t += $_ % 7 for 1 .. 200_000; return $t }

sub profile_of {
    Sentry::SDK->flush(10);
    for my $f (glob "$dir/*.envelope") {
        open my $fh, '<:raw', $f or die $!;
        my $data = do { local $/; <$fh> };
        my (undef, @lines) = split /\n/, $data;
        for my $i (0 .. $#lines - 1) {
            my $h = eval { JSON::PP::decode_json($lines[$i]) } or next;
            return JSON::PP::decode_json($lines[$i + 1]) if ($h->{type} // '') eq 'profile';
        }
    }
    return undef;
}

my $tx = Sentry::SDK->start_transaction({ name => 'blocking', op => 'task' });
busy();
slow_io();
$tx->finish;
my $profile = profile_of();
ok $profile, 'the transaction has its profile' or BAIL_OUT('no profile');
my $p = $profile->{profile};
my @names = map { $_->{function} } @{ $p->{frames} };
my %on_stack;
for my $s (@{ $p->{samples} }) {
    my %seen;
    $on_stack{$_}++ for grep { !$seen{$_}++ } map { $names[$_] } @{ $p->{stacks}[ $s->{stack_id} ] };
}
ok $on_stack{'main::slow_io'}, 'the sub that called the XS sleep is on the stack' or diag explain \%on_stack;
cmp_ok $on_stack{'main::slow_io'} // 0, '>=', 20, 'for about the 30 ticks of its 0.3 s, a sample each';
my @t = map { $_->{elapsed_since_start_ns} } @{ $p->{samples} };
is_deeply \@t, [sort { $a <=> $b } @t], 'samples in time order';

done_testing;
