package Mojolicious::Plugin::Sentry;
use Mojo::Base 'Mojolicious::Plugin';
use Sentry::SDK;

our $VERSION = '0.1.0';

# One transaction per request (op http.server, named "METHOD /route", continuing the incoming
# trace) with the request on the scope; an exception the action throws is captured, then Mojolicious
# renders its exception page as it would without the plugin.
sub register {
    my ($self, $app, $conf) = @_;
    Sentry::SDK->init($conf) if $conf && %$conf;
    $app->hook(around_dispatch => sub {
        my ($next, $c) = @_;
        my $req = $c->req;
        my $hub = Sentry::Hub->get_current_hub;
        my $tx = $hub->_start_request({
            name         => $req->method . ' ' . $req->url->path->to_abs_string,
            op           => 'http.server',
            source       => 'url',
            sentry_trace => $req->headers->header('sentry-trace'),
            baggage      => $req->headers->header('baggage'),
        }, { method => $req->method, url => $req->url->to_abs->to_string });
        my $ok = eval { $next->(); 1 };
        my $err = $@;
        if (!$ok) {
            Sentry::SDK->capture_exception($err) unless $c->stash->{'sentry.captured'}++;
        }
        elsif (my $route = $c->match->endpoint) {
            $tx->name($req->method . ' ' . ($route->to_string || '/')) if $route->to_string;
            $tx->set_source('route');
        }
        $hub->_finish_request($tx, $ok ? $c->res->code // 200 : 500);
        die $err unless $ok;
    });
    # Mojolicious catches what an action throws and renders it: capture it there.
    $app->hook(before_render => sub {
        my ($c, $args) = @_;
        my $e = $args->{exception} // return;
        return if $c->stash->{'sentry.captured'}++;
        Sentry::SDK->capture_exception(ref $e && $e->can('message') ? $e->message : "$e");
    });
    return $self;
}

1;

__END__

=head1 NAME

Mojolicious::Plugin::Sentry - a Sentry transaction for every Mojolicious request, and its exceptions as events

=head1 SYNOPSIS

  # Mojolicious::Lite
  plugin Sentry => { dsn => $ENV{SENTRY_DSN}, traces_sample_rate => 1.0, profiles_sample_rate => 1.0 };

=head1 DESCRIPTION

Each request is a transaction named C<METHOD /route> (op C<http.server>) continuing an incoming
C<sentry-trace>/C<baggage>, with the HTTP status and, when profiling is on, its profile. An exception
an action throws becomes an event; Mojolicious renders its exception page as it would without the
plugin. The options, when given, go to C<< Sentry::SDK->init >>. Works under C<prefork> and
C<hypnotoad>: each worker reaches the engine on its own (see L<PerlSentry::Client>).

=cut
