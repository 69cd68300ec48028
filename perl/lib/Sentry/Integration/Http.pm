package Sentry::Integration::Http;
use strict;
use warnings;

our $VERSION = '0.1.0';

# One outgoing HTTP request as the HTTP client integrations record it: a child span of the current
# one (op http.client, "METHOD url"), the sentry-trace and baggage headers it carries, and a
# breadcrumb with the status when it ends. Requests to Sentry itself get none of it (undef).
sub start {
    my ($class, $integration, $method, $url) = @_;
    return undef if Sentry::Integration::is_sentry_url($url);
    return Sentry::Integration::quietly(sub {
        my $parent = $integration->tracing ? Sentry::Integration::current_span() : undef;
        my $span = $parent ? $parent->start_child({ op => 'http.client', description => uc($method) . " $url" }) : undef;
        $span->set_data('http.request.method' => uc $method)->set_data(url => "$url") if $span;
        return bless { integration => $integration, method => uc $method, url => "$url", span => $span,
                       headers => Sentry::Integration::trace_headers($span) }, $class;
    });
}

sub headers {
    my ($self) = @_;
    my $h = $self->{headers} or return ();
    return grep { defined $_->[1] && length $_->[1] } ['sentry-trace', $h->[0]], ['baggage', $h->[1]];
}

sub finish {
    my ($self, $status) = @_;
    Sentry::Integration::quietly(sub {
        if (my $span = $self->{span}) {
            $span->set_http_status($status) if defined $status && $status =~ /\A\d+\z/;
            $span->finish;
        }
        Sentry::SDK->add_breadcrumb({
            type => 'http', category => 'http',
            data => { method => $self->{method}, url => $self->{url}, (defined $status ? (status_code => $status + 0) : ()) },
        }) if $self->{integration}->breadcrumbs;
    });
    return;
}

1;
