package Sentry::Tracing::Span;
use strict;
use warnings;
use parent -norequire, 'Sentry::Internal';
use Sentry::Internal;
use Carp ();

our $VERSION = '0.1.0';

sub _set { my $self = shift; Sentry::Engine::span_set($self->{id}, @_); return $self }

sub _get { my $self = shift; Sentry::Engine::span_get($self->{id}, @_) }

# A span or a transaction the engine handed back as [id, is_transaction].
sub _from_handle {
    my (undef, $handle) = @_;
    return undef unless ref $handle eq 'ARRAY' && defined $handle->[0];
    require Sentry::Tracing::Transaction;
    return Sentry::Internal::_wrap($handle->[1] ? 'Sentry::Tracing::Transaction' : 'Sentry::Tracing::Span', $handle->[0]);
}

sub start_child {
    my ($self, $ctx) = @_;
    Carp::croak('start_child takes a hash reference ({ op => ..., description => ... })')
        if defined $ctx && ref $ctx ne 'HASH';
    my $id = Sentry::Internal::_new_id();
    Sentry::Engine::span_start($id, $self->{id}, $ctx || {});
    return Sentry::Internal::_create('Sentry::Tracing::Span', $id);
}

sub finish { my ($self, $timestamp) = @_; return $self->_set(finish => $timestamp) }

sub set_tag { my ($self, $k, $v) = @_; return $self->_set(set_tag => $k, Sentry::Internal::_str($v)) }

sub set_data { my ($self, $k, $v) = @_; return $self->_set(set_data => $k, $v) }

sub set_status { my ($self, $s) = @_; return $self->_set(set_status => $s) }

sub set_http_status {
    my ($self, $code) = @_;
    Carp::croak("set_http_status needs a status code, got '" . ($code // 'undef') . "'")
        unless defined $code && $code =~ /\A\s*\d+\s*\z/;
    return $self->_set(set_http_status => 0 + $code);
}

sub to_trace_parent { $_[0]->_get('to_trace_parent') }

sub to_baggage { $_[0]->_get('to_baggage') }

sub transaction {
    my ($self) = @_;
    return __PACKAGE__->_from_handle(scalar $self->_get('transaction'));
}

sub get_trace_context {
    my ($self) = @_;
    my $d = $self->_get('get');
    return { map { defined $d->{$_} ? ($_ => $d->{$_}) : () } qw(trace_id span_id parent_span_id op description status data tags) };
}

# Attributes: readers, and setters with an argument for op, description and status.
for my $field (qw(trace_id span_id parent_span_id start_timestamp timestamp sampled tags data)) {
    no strict 'refs';
    *$field = sub { $_[0]->_get('get')->{$field} };
}
for my $field (qw(op description status)) {
    no strict 'refs';
    *$field = sub {
        my $self = shift;
        return $self->_set("set_$field" => $_[0]) if @_;
        return $self->_get('get')->{$field};
    };
}

sub TO_JSON { $_[0]->_get('get') }

1;

__END__

=head1 NAME

Sentry::Tracing::Span - a timed operation inside a transaction

=head1 SYNOPSIS

  my $span = $transaction->start_child({ op => 'db.sql.query', description => 'SELECT ...' });
  $span->set_data(rows => 12);
  $span->finish;

=head1 DESCRIPTION

A handle to a span kept by the engine. Spans are sent with their transaction once both are finished.

=head2 start_child(\%context)

C<op>, C<description>, C<data> and C<tags>.

=head2 finish([$epoch_seconds])

=head2 set_tag($key, $value), set_data($key, $value)

=head2 status([$status]), set_status($status), set_http_status($code)

C<set_http_status> sets the C<http.status_code> tag and the matching Sentry status (C<ok>,
C<not_found>, C<internal_error>, ...).

=head2 to_trace_parent, to_baggage

Values for the outgoing C<sentry-trace> and C<baggage> headers.

=head2 get_trace_context, transaction

=head2 op, description, trace_id, span_id, parent_span_id, start_timestamp, timestamp, sampled, tags, data

=cut
