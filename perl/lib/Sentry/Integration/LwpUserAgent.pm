package Sentry::Integration::LwpUserAgent;
use strict;
use warnings;
use parent 'Sentry::Integration::Base';
use Sentry::Integration::Http;

our $VERSION = '0.1.0';

# LWP::UserAgent: every request it sends (redirects too: each goes through send_request).
sub setup_once {
    my ($self) = @_;
    Sentry::Integration::when_loaded('LWP::UserAgent', sub {
        Sentry::Integration::wrap('LWP::UserAgent', 'send_request', sub {
            my ($orig, $ua, $request, @rest) = @_;
            my $call = Sentry::Integration::Http->start($self, $request->method, $request->uri)
                or return $orig->($ua, $request, @rest);
            for my $h ($call->headers) { $request->header($h->[0] => $h->[1]) unless defined $request->header($h->[0]) }
            my $res = $orig->($ua, $request, @rest);
            $call->finish(ref $res && $res->can('code') ? $res->code : undef);
            return $res;
        });
    });
    return;
}

1;
