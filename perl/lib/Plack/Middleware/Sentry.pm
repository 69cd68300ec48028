package Plack::Middleware::Sentry;
use strict;
use warnings;
use parent 'Plack::Middleware';
use Plack::Util ();
use Sentry::SDK;

our $VERSION = '0.1.0';

# One transaction per request (op http.server, named "METHOD /path", continuing the incoming trace),
# the request on the scope, and a die captured and passed on unchanged: the server answers as it
# would without the middleware.
sub call {
    my ($self, $env) = @_;
    # Enabled twice (by the app and by perl-sentry serve): the outer one makes the transaction.
    return $self->app->($env) if $env->{'sentry.transaction'};
    my $hub = Sentry::Hub->get_current_hub;
    my $tx = $hub->_start_request({
        name         => "$env->{REQUEST_METHOD} " . (($env->{SCRIPT_NAME} // '') . ($env->{PATH_INFO} // '') || '/'),
        op           => 'http.server',
        source       => 'url',
        sentry_trace => $env->{HTTP_SENTRY_TRACE},
        baggage      => $env->{HTTP_BAGGAGE},
    }, {
        method       => $env->{REQUEST_METHOD},
        url          => _url($env),
        query_string => $env->{QUERY_STRING},
        headers      => _headers($env),
    });
    local $env->{'sentry.transaction'} = $tx;
    # For the server, when the response fails after the app returned (a streamed body that dies, a
    # client that went away): perl-sentry serve calls it so the transaction ends and its scope is popped.
    my $finish = $env->{'sentry.finish'} = sub {
        my ($status) = @_;
        $tx->set_status($status) if defined $status && !$tx->{_finished};
        _done($hub, $tx);
    };
    my $res = eval { $self->app->($env) };
    if (my $err = $@) {
        Sentry::SDK->capture_exception($err);
        _done($hub, $tx, 500);
        die $err;
    }
    if (ref $res eq 'ARRAY' && defined $res->[2]) {   # the usual response: no callback wrapper needed
        _done($hub, $tx, $res->[0]);
        return $res;
    }
    # A delayed or streamed response ends later. Under any server, the guard ends the transaction
    # (internal_error) if the response is dropped unfinished: a responder never called, a writer
    # dropped without close because the body died.
    my $guard = bless [$finish], 'Plack::Middleware::Sentry::Guard';
    return Plack::Util::response_cb($res, sub {
        my ($r) = @_;
        my $held = $guard;
        # A streamed body: the transaction ends with it.
        if (!defined $r->[2]) {
            $tx->set_http_status($r->[0]) if ($r->[0] // '') =~ /\A\s*\d+\s*\z/;
            return sub { my ($chunk) = @_; my $kept = $held; _done($hub, $tx) unless defined $chunk; return $chunk };
        }
        _done($hub, $tx, $r->[0]);
        return;
    });
}

# Finishes the request's transaction (with its HTTP status, when known) and pops its scope, once.
sub _done {
    my ($hub, $tx, $http_status) = @_;
    return if $tx->{_finished}++;
    $hub->_finish_request($tx, $http_status);
}

# The request's headers as the scope's request context shows them: all but cookies and credentials.
sub _headers {
    my ($env) = @_;
    my %h;
    for my $k (keys %$env) {
        next unless rindex($k, 'HTTP_', 0) == 0 && $k ne 'HTTP_COOKIE' && $k ne 'HTTP_AUTHORIZATION';
        $h{ substr $k, 5 } = $env->{$k};
    }
    return \%h;
}

sub _url {
    my ($env) = @_;
    my $host = $env->{HTTP_HOST} // "$env->{SERVER_NAME}:$env->{SERVER_PORT}";
    return ($env->{'psgi.url_scheme'} // 'http') . "://$host" . ($env->{SCRIPT_NAME} // '') . ($env->{PATH_INFO} // '');
}

package Plack::Middleware::Sentry::Guard;

# [finish]: ends the transaction (if nothing has) when the last closure of its response lets go of it.
sub DESTROY {
    my ($self) = @_;
    return if ${^GLOBAL_PHASE} eq 'DESTRUCT';
    local ($@, $!, $?);
    eval { $self->[0]->('internal_error'); 1 };
    return;
}

package Plack::Middleware::Sentry;

1;

__END__

=head1 NAME

Plack::Middleware::Sentry - a Sentry transaction for every PSGI request, and its errors as events

=head1 SYNOPSIS

  use Plack::Builder;
  use Sentry::SDK;
  Sentry::SDK->init({ dsn => $ENV{SENTRY_DSN}, traces_sample_rate => 1.0, profiles_sample_rate => 1.0 });

  builder {
      enable 'Sentry';
      $app;
  };

=head1 DESCRIPTION

Each request is a transaction named C<METHOD /path> (op C<http.server>) that continues an incoming
C<sentry-trace>/C<baggage>, with the HTTP status on it and, when profiling is on, its profile. The
request (method, URL, headers but cookies and authorization) is on the scope for events captured
while it runs. A C<die> in the app is captured and passed on, so the server answers exactly as it
would without the middleware. Works in prefork servers (Starman, hypnotoad): each worker reaches the
engine on its own (see L<PerlSentry::Client>).

=cut
