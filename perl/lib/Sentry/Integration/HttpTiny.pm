package Sentry::Integration::HttpTiny;
use strict;
use warnings;
use parent 'Sentry::Integration::Base';
use Sentry::Integration::Http;

our $VERSION = '0.1.0';

# HTTP::Tiny: every request (get, post, mirror, ... all go through request).
sub setup_once {
    my ($self) = @_;
    Sentry::Integration::when_loaded('HTTP::Tiny', sub {
        Sentry::Integration::wrap('HTTP::Tiny', 'request', sub {
            my ($orig, $http, $method, $url, $args) = @_;
            my $call = Sentry::Integration::Http->start($self, $method, $url) or return $orig->($http, $method, $url, $args);
            my %args = %{ $args // {} };
            my %headers = %{ $args{headers} // {} };
            my $lc = { map { lc($_) => 1 } keys %headers };
            for my $h ($call->headers) { $headers{ $h->[0] } = $h->[1] unless $lc->{ $h->[0] } }
            $args{headers} = \%headers;
            my $res = $orig->($http, $method, $url, \%args);
            $call->finish(ref $res eq 'HASH' ? $res->{status} : undef);
            return $res;
        });
    });
    return;
}

1;
