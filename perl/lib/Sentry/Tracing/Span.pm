package Sentry::Tracing::Span;
use strict;
use warnings;
use parent -norequire, 'Sentry::Internal';
use Sentry::Internal;
use Carp ();

our $VERSION = '0.1.0';

sub _call { my $self = shift; Sentry::Engine::span_call($self->{id}, @_) }

# A span or a transaction, whichever the engine object is.
sub _from_id {
    my (undef, $id) = @_;
    return undef unless defined $id;
    my $is_tx = Sentry::Engine::span_call($id, 'get')->{is_transaction};
    require Sentry::Tracing::Transaction;
    return Sentry::Internal::_wrap($is_tx ? 'Sentry::Tracing::Transaction' : 'Sentry::Tracing::Span', $id);
}

sub start_child {
    my ($self, $ctx) = @_;
    Carp::croak('start_child takes a hash reference ({ op => ..., description => ... })')
        if defined $ctx && ref $ctx ne 'HASH';
    return Sentry::Internal::_wrap('Sentry::Tracing::Span', $self->_call(start_child => $ctx || {}));
}

sub finish { my ($self, $timestamp) = @_; $self->_call(finish => $timestamp); return $self }

sub set_tag { my ($self, $k, $v) = @_; $self->_call(set_tag => $k, $v); return $self }

sub set_data { my ($self, $k, $v) = @_; $self->_call(set_data => $k, $v); return $self }

sub set_status { my ($self, $s) = @_; $self->_call(set_status => $s); return $self }

sub set_http_status { my ($self, $code) = @_; $self->_call(set_http_status => $code); return $self }

sub to_trace_parent { $_[0]->_call('to_trace_parent') }

sub to_baggage { $_[0]->_call('to_baggage') }

sub transaction {
    my ($self) = @_;
    require Sentry::Tracing::Transaction;
    return Sentry::Internal::_wrap('Sentry::Tracing::Transaction', $self->_call('transaction'));
}

sub get_trace_context {
    my ($self) = @_;
    my $d = $self->_call('get');
    return { map { defined $d->{$_} ? ($_ => $d->{$_}) : () } qw(trace_id span_id parent_span_id op description status data tags) };
}

# Attributes: readers, and setters with an argument for op, description and status.
for my $field (qw(trace_id span_id parent_span_id start_timestamp timestamp sampled tags data)) {
    no strict 'refs';
    *$field = sub { $_[0]->_call('get')->{$field} };
}
for my $field (qw(op description status)) {
    no strict 'refs';
    *$field = sub {
        my $self = shift;
        if (@_) { $self->_call("set_$field" => $_[0]); return $self }
        return $self->_call('get')->{$field};
    };
}

sub TO_JSON { $_[0]->_call('get') }

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
