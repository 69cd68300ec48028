package Sentry::Scope;
use strict;
use warnings;
use parent -norequire, 'Sentry::Internal';
use Sentry::Internal;
use Carp ();

our $VERSION = '0.1.0';

sub _set { my $self = shift; Sentry::Engine::scope_set($self->{id}, @_); return $self }

sub _get { my $self = shift; Sentry::Engine::scope_get($self->{id}, @_) }

# A scope of its own, not on the hub's stack (the hub's scopes come from Sentry::Hub).
sub new {
    my ($class) = @_;
    my $id = Sentry::Internal::_new_id();
    Sentry::Engine::scope_new($id);
    return Sentry::Internal::_create($class, $id);
}

for my $setter (qw(remove_tag set_extra set_extras set_context
                   add_breadcrumb clear_breadcrumbs)) {
    no strict 'refs';
    *$setter = sub { my $self = shift; $self->_set($setter, @_) };
}

sub set_user {
    my ($self, $user) = @_;
    Carp::croak('set_user needs a hash reference ({ id => ..., email => ... }) or undef')
        if defined $user && ref $user ne 'HASH';
    return $self->_set(set_user => $user);
}

# Tag values and names are text, as Perl prints them (an object's overloaded "" included).
sub set_tag { my ($self, $key, $value) = @_; return $self->_set(set_tag => $key, Sentry::Internal::_str($value)) }

sub set_tags {
    my ($self, $tags) = @_;
    return $self->_set(set_tags => ref $tags eq 'HASH' ? { map { $_ => Sentry::Internal::_str($tags->{$_}) } keys %$tags } : $tags);
}

sub set_transaction_name { my ($self, $name) = @_; return $self->_set(set_transaction_name => Sentry::Internal::_str($name)) }

sub set_level {
    my ($self, $level) = @_;
    my $known = Sentry::Internal::_known_level($level);
    Carp::croak("level '" . ($level // 'undef') . "' is not one of fatal, error, warning, info, debug")
        unless $known;
    return $self->_set(set_level => $known);
}

sub set_fingerprint {
    my ($self, $fp) = @_;
    return $self->_set(set_fingerprint => ref $fp eq 'ARRAY' ? $fp : [$fp]);
}

# The span set on each scope, as Perl set it: the integrations read it on every statement or request
# without asking the engine (a round trip to the agent).
our %SPAN_OF;

sub set_span {
    my ($self, $span) = @_;
    $SPAN_OF{ $self->{id} } = $span;
    return $self->_set(set_span => defined $span ? $span->{id} : undef);
}

sub clear { my ($self) = @_; $SPAN_OF{ $self->{id} } = undef; return $self->_set('clear') }

# The span of the innermost scope that has one set (a pushed scope has its parent's), without asking the engine.
sub _current_span {
    for my $id (reverse @Sentry::Hub::STACK) {
        return $SPAN_OF{$id} if exists $SPAN_OF{$id};
    }
    return undef;
}

sub get_span {
    my ($self) = @_;
    my $r = $self->_get('get_span');
    return undef unless $r;
    require Sentry::Tracing::Span;
    return Sentry::Tracing::Span->_from_handle($r);
}

sub span { my $self = shift; return @_ ? $self->set_span(@_) : $self->get_span }

sub add_event_processor {
    my ($self, $cb) = @_;
    Carp::croak('add_event_processor needs a code reference: sub { my ($event) = @_; ...; return $event }')
        unless ref $cb eq 'CODE';
    return $self->_set(add_event_processor => $cb);
}

*add_error_processor = \&add_event_processor;

sub clone {
    my $self = shift;
    my $id = Sentry::Internal::_new_id();
    $self->_set(clone => $id);
    return Sentry::Internal::_create(ref $self, $id);
}

# The CPAN SDK's bulk setter: { tags => {...}, level => 'warning', ... }.
sub update {
    my ($self, $fields) = @_;
    for my $k (sort keys %{ $fields || {} }) {
        my $m = "set_$k";
        Carp::croak("Sentry::Scope has no field '$k'") unless $self->can($m);
        $self->$m($fields->{$k});
    }
    return $self;
}

sub apply_to_event { my ($self, $event) = @_; $self->_get(apply_to_event => $event) }

# Readers (and setters with an argument, like the CPAN SDK's attributes).
for my $field (qw(tags extra user level contexts fingerprint transaction_name breadcrumbs)) {
    no strict 'refs';
    my $setter = $field eq 'extra' ? 'set_extras' : $field eq 'tags' ? 'set_tags' : "set_$field";
    *$field = sub {
        my $self = shift;
        return $self->$setter(@_) if @_ && $self->can($setter);
        return $self->_get($field);
    };
}

1;

__END__

=head1 NAME

Sentry::Scope - data merged into every event captured while the scope is current

=head1 SYNOPSIS

  Sentry::SDK->configure_scope(sub {
      my ($scope) = @_;
      $scope->set_tag(region => 'eu');
      $scope->set_user({ id => 42, email => 'jane@example.com' });
      $scope->set_extra(order => { id => 7 });
      $scope->set_level('warning');
      $scope->add_event_processor(sub { my ($event) = @_; $event->{tags}{seen} = 1; $event });
  });

=head1 DESCRIPTION

A handle to a scope kept by the engine. Values set here are added to events unless the event has
its own; event processors may change an event or drop it by returning C<undef>.
C<Sentry::Hub::Scope> is the same class under the CPAN SDK's name.

=head2 set_tag($key, $value), set_tags(\%tags), remove_tag($key)

=head2 set_extra($key, $value), set_extras(\%extras)

=head2 set_user(\%user)

=head2 set_level($level)

One of C<fatal>, C<error>, C<warning>, C<info>, C<debug>, C<log>; croaks on anything else.

=head2 set_context($name, \%context)

C<undef> removes the context.

=head2 set_fingerprint(\@parts), set_transaction_name($name)

=head2 set_span($span), get_span

The span that events captured under this scope are attached to.

=head2 add_breadcrumb(\%crumb), clear_breadcrumbs

At most C<max_breadcrumbs> are kept; the oldest go first.

=head2 add_event_processor($code)

=head2 clear, clone, update(\%fields), apply_to_event(\%event)

=head2 tags, extra, user, level, contexts, fingerprint, transaction_name, breadcrumbs

Copies of the current values.

=cut
