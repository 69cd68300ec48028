# Folders given to init relative to the current directory stay where they were meant when the
# program later changes directory (and the agent, in its own directory, gets them absolute).
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use Cwd ();
use Sentry::SDK;
use FindBin;
use lib "$FindBin::Bin/lib";
use PerlSentry::TestEngine;

my $start = Cwd::getcwd();
my $dir = tempdir(CLEANUP => 1);
chdir $dir or die $!;
my %given = (envelope_dir => 'envelopes', cache_dir => '');
Sentry::SDK->init(\%given);
is $given{envelope_dir}, 'envelopes', "the caller's options are left as they were";
mkdir 'elsewhere' or die $!;
chdir 'elsewhere' or die $!;
Sentry::SDK->capture_message('after chdir');
Sentry::SDK->flush(10);
my @files = glob "$dir/envelopes/*.envelope";
is scalar @files, 1, 'written where envelope_dir was meant';
ok !-e "$dir/elsewhere/envelopes", 'not under the new directory';
chdir $start;

done_testing;
