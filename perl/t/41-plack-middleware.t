# Plack::Middleware::Sentry driven as a PSGI server drives it (no server needed: PSGI is calls): each
# request is a transaction whose scope is popped when it ends, also when the response is dropped
# unfinished (a streamed body that dies, a responder never called), under any server.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP ();
use FindBin;
use lib "$FindBin::Bin/lib";
use PerlSentry::TestEngine;   # skips, saying why, where no engine can answer

plan skip_all => 'Plack is not installed (build.sh installs it)' unless eval { require Plack::Util; 1 };
require Sentry::SDK;
require Plack::Middleware::Sentry;

my $dir = tempdir(CLEANUP => 1);
Sentry::SDK->init({ envelope_dir => $dir, cache_dir => '', traces_sample_rate => 1.0 });

sub transactions {
    Sentry::SDK->flush(5);
    my %status;
    for my $f (glob "$dir/*.envelope") {
        open my $fh, '<:raw', $f or die $!;
        local $/;
        for my $line (split /\n/, <$fh>) {
            next unless $line =~ /\A\{"type":"transaction"/ && $line =~ /"start_timestamp"/;
            my $tx = JSON::PP::decode_json($line);
            $status{ $tx->{transaction} } = $tx->{contexts}{trace}{status};
        }
    }
    return \%status;
}

my $app = Plack::Middleware::Sentry->wrap(sub {
    my ($env) = @_;
    my $p = $env->{PATH_INFO};
    return [200, ['Content-Type' => 'text/plain'], ['ok']] if $p eq '/array';
    return sub { }                                              if $p eq '/never';
    return sub {
        my $w = $_[0]->([200, ['Content-Type' => 'text/plain']]);
        $w->write('a');
        die "the body broke\n" if $p eq '/broken';
        $w->close;
    };
});

# What a server does: call the app, answer its delayed response with a responder that returns a
# writer, and let go of everything when the request is over.
sub request {
    my ($path) = @_;
    my $env = { REQUEST_METHOD => 'GET', SCRIPT_NAME => '', PATH_INFO => $path, QUERY_STRING => '',
                SERVER_NAME => '127.0.0.1', SERVER_PORT => 80, HTTP_HOST => '127.0.0.1', 'psgi.url_scheme' => 'http' };
    my $res = $app->($env);
    return if ref $res eq 'ARRAY';
    my $writer = bless { chunks => [] }, 'TestWriter';
    eval { $res->(sub { return $writer }); 1 };   # a server catches the app's die and closes the connection
    return;
}
{ package TestWriter; sub write { push @{ $_[0]{chunks} }, $_[1] } sub close { } }

my $depth = @Sentry::Hub::STACK;
for my $path (qw(/array /stream /broken /never)) {
    request($path);
    is scalar @Sentry::Hub::STACK, $depth, "$path: the request's scope is popped once it is over";
}
my $status = transactions();
is $status->{'GET /array'},  'ok',             'an array response: ok';
is $status->{'GET /stream'}, 'ok',             'a streamed response that closed: ok';
is $status->{'GET /broken'}, 'internal_error', 'a streamed body that died: ended as internal_error';
is $status->{'GET /never'},  'internal_error', 'a responder never called: ended as internal_error';

done_testing;
