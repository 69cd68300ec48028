package Sentry::Integration::MojoUserAgent;
use strict;
use warnings;
use parent 'Sentry::Integration::Base';
use Sentry::Integration::Http;

our $VERSION = '0.1.0';

# Mojo::UserAgent: blocking and non-blocking requests (start is where both go); a non-blocking one's
# span ends in its callback.
sub setup_once {
    my ($self) = @_;
    Sentry::Integration::when_loaded('Mojo::UserAgent', sub {
        Sentry::Integration::wrap('Mojo::UserAgent', 'start', sub {
            my ($orig, $ua, $tx, $cb) = @_;
            my $call = Sentry::Integration::Http->start($self, $tx->req->method, $tx->req->url->to_abs)
                or return $orig->(@_[1 .. $#_]);
            my $headers = $tx->req->headers;
            for my $h ($call->headers) { $headers->header($h->[0] => $h->[1]) unless defined $headers->header($h->[0]) }
            if ($cb) {
                return $orig->($ua, $tx, sub { $call->finish($_[1]->res->code); goto &$cb });
            }
            my $done = $orig->($ua, $tx);
            $call->finish($tx->res->code);
            return $done;
        });
    });
    return;
}

1;
