# A PSGI app for `perl-sentry serve` (README, "perl-sentry serve"):
#
#   PERLSENTRY_ENVELOPE_DIR=/tmp/envelopes artifacts/perl-sentry/perl-sentry serve \
#       --listen 127.0.0.1:5000 --traces-sample-rate 1 --profiles-sample-rate 1 examples/psgi/app.psgi
#
# then `curl localhost:5000/orders`: every request is a transaction ("GET /orders") with its profile,
# and `curl localhost:5000/fail` is an error event as well as a 500.
use strict;
use warnings;
use JSON::PP ();
use Plack::Request;

my $json = JSON::PP->new->canonical;
my @orders = map { { id => $_, customer => "customer $_", total => sprintf('%.2f', $_ * 9.95) } } 1 .. 200;

sub orders_over {
    my ($minimum) = @_;
    return [ grep { $_->{total} >= $minimum } @orders ];
}

my %routes = (
    '/' => sub { [ 200, [ 'Content-Type' => 'text/plain' ], ["perl-sentry serve example: try /orders, /orders?over=1000, /stream, /fail\n"] ] },
    '/orders' => sub {
        my ($req) = @_;
        my $rows = orders_over($req->parameters->{over} // 0);
        return [ 200, [ 'Content-Type' => 'application/json' ], [ $json->encode({ count => scalar @$rows, orders => $rows }) ] ];
    },
    '/stream' => sub {
        return sub {
            my $writer = shift->([ 200, [ 'Content-Type' => 'text/plain' ] ]);
            $writer->write("line $_\n") for 1 .. 5;
            $writer->close;
        };
    },
    '/fail' => sub { die "the payment service is down\n" },
);

my $app = sub {
    my $req = Plack::Request->new(shift);
    my $route = $routes{ $req->path_info } or return [ 404, [ 'Content-Type' => 'text/plain' ], ["not found\n"] ];
    return $route->($req);
};
