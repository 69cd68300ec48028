package Sentry::Tracing::Transaction;
use strict;
use warnings;
use parent -norequire, 'Sentry::Tracing::Span';
use Sentry::Tracing::Span;

our $VERSION = '0.1.0';

sub name {
    my $self = shift;
    return $self->_set(set_name => Sentry::Internal::_str($_[0])) if @_;
    return $self->_get('get')->{name};
}

sub set_name { my ($self, $name) = @_; return $self->_set(set_name => Sentry::Internal::_str($name)) }

sub set_source { my ($self, $s) = @_; return $self->_set(set_source => $s) }

# Finishing sends it (with its profile); callbacks may run, so this is a call of its own.
sub finish {
    my ($self, $timestamp) = @_;
    local ($@, $!);
    Sentry::Engine::transaction_finish($self->{id}, $timestamp);
    return $self;
}

sub event_id { $_[0]->_get('get')->{event_id} }

sub profile_id { $_[0]->_get('get')->{profile_id} }

sub profiler_id { $_[0]->_get('get')->{profiler_id} }

# The incoming trace headers as start_transaction's context (the CPAN SDK's integrations pass them this way).
sub continue_from_headers {
    my (undef, $headers, $ctx) = @_;
    $headers ||= {};
    my %lc = map { lc($_) => $headers->{$_} } keys %$headers;
    return { %{ $ctx || {} }, sentry_trace => $lc{'sentry-trace'}, baggage => $lc{baggage} };
}

1;

__END__

=head1 NAME

Sentry::Tracing::Transaction - the root span of a trace, sent to Sentry when finished

=head1 SYNOPSIS

  my $tx = Sentry::SDK->start_transaction({ name => 'GET /orders', op => 'http.server' });
  Sentry::SDK->configure_scope(sub { $_[0]->set_span($tx) });
  ...
  $tx->set_http_status(200);
  $tx->finish;

  # continuing a trace from an incoming request
  my $tx = Sentry::SDK->start_transaction(
      Sentry::Tracing::Transaction->continue_from_headers(\%request_headers, { name => 'GET /orders' }));

=head1 DESCRIPTION

A L<Sentry::Tracing::Span> that is also a transaction. C<finish> sends it (when sampled) with its
finished child spans and, when it was profiled, its profile in the same envelope.

=head2 name([$name]), set_name($name), set_source($source)

=head2 event_id, profile_id, profiler_id

=head2 continue_from_headers(\%headers, \%context)

=cut
