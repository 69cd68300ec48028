package Sentry::Hub;
use strict;
use warnings;
use Carp ();
use Sentry::Internal;
use Sentry::Scope;
use Sentry::Tracing::Transaction;
use Sentry::Integration;

our $VERSION = '0.1.0';

my $CURRENT = bless {}, __PACKAGE__;

# The scope stack's ids, root first: kept here, so the current scope is known without asking.
our @STACK = (1);

# The hub lives in the engine; this object is how Perl reaches it.
sub get_current_hub { $CURRENT }

sub new { $CURRENT }

sub get_current_scope { Sentry::Internal::_wrap('Sentry::Scope', $STACK[-1]) }

*get_scope = \&get_current_scope;

sub push_scope {
    my $id = Sentry::Internal::_new_id();
    Sentry::Engine::scope_push($id);
    push @STACK, $id;
    return Sentry::Internal::_create('Sentry::Scope', $id);
}

sub pop_scope {
    my $id = _pop_stack() // return 0;
    Sentry::Engine::scope_pop();
    Sentry::Engine::release($id) unless Sentry::Internal::_live($id);   # no handle of it is left in Perl
    return 1;
}

# The innermost scope's id, off the stack (undef for the root, which stays).
sub _pop_stack {
    return undef if @STACK <= 1;
    my $id = pop @STACK;
    delete $Sentry::Scope::SPAN_OF{$id};
    return $id;
}

# A new hub (init) starts with a root scope of its own.
sub _reset { @STACK = (1); %Sentry::Scope::SPAN_OF = () }

sub with_scope {
    my ($self, $cb) = @_;
    Carp::croak('with_scope needs a code reference: sub { my ($scope) = @_; ... }') unless ref $cb eq 'CODE';
    my $depth = @STACK;
    my $scope = $self->push_scope;
    my ($ok, $err, @result) = Sentry::Internal::_run_block(sub { $cb->($scope) }, wantarray);
    $self->pop_scope while @STACK > $depth;
    die $err unless $ok;
    $@ = $err;
    return wantarray ? @result : $result[0];
}

sub configure_scope {
    my ($self, $cb) = @_;
    Carp::croak('configure_scope needs a code reference: sub { my ($scope) = @_; ... }') unless ref $cb eq 'CODE';
    $cb->($self->get_current_scope);
    return;
}

sub capture_event {
    my ($self, $event, $hint) = @_;
    local ($@, $!);
    Carp::croak('capture_event needs a hash reference') unless ref $event eq 'HASH';
    return _capture({%$event});
}

sub capture_message {
    my ($self, $message, $context) = @_;
    local ($@, $!);
    return _capture({
        level => 'info',
        Sentry::Internal::_context_fields($context),
        message => { formatted => defined $message ? Sentry::Internal::_cut("$message") : '' },
    });
}

sub capture_exception {
    my ($self, $error, $context) = @_;
    local ($@, $!);
    return _capture({
        level => 'error',
        Sentry::Internal::_context_fields($context),
        exception => Sentry::Internal::_exception_payload($error),
    });
}

# The event gets its id here; the engine answers with it, or undef when it dropped the event. Where
# the call does not wait for the engine (the agent, no callbacks), the id is the answer.
sub _capture {
    my ($event) = @_;
    $event->{event_id} = Sentry::Internal::_event_id() unless ($event->{event_id} // '') =~ /\A[0-9a-f]{32}\z/;
    my @r = Sentry::Engine::capture_event($event);
    return @r ? $r[0] : $event->{event_id};
}

sub add_breadcrumb {
    my ($self, $crumb) = @_;
    Carp::croak('add_breadcrumb needs a hash reference ({ message => ..., category => ... })') unless ref $crumb eq 'HASH';
    Sentry::Engine::add_breadcrumb($crumb);
    return;
}

sub start_transaction {
    my ($self, $ctx, $custom) = @_;
    Carp::croak('start_transaction needs a hash reference ({ name => ..., op => ... })') unless ref $ctx eq 'HASH';
    Carp::croak('start_transaction: the custom sampling context must be a hash reference') if defined $custom && ref $custom ne 'HASH';
    Carp::croak("start_transaction: source '$ctx->{source}' is not one of custom, url, route, view, component, task")
        if defined $ctx->{source} && $ctx->{source} !~ /\A(?:custom|url|route|view|component|task)\z/;
    return _start($ctx, $custom);
}

# The transaction in the engine and its Perl object; @request: a request's scope id and request
# context, pushed with it (_start_request).
sub _start {
    my ($ctx, $custom, @request) = @_;
    Sentry::Integration::_check_loaded();   # libraries loaded ahead of the integrations' @INC hook
    my $id = Sentry::Internal::_new_id();
    {
        local ($@, $!);
        Sentry::Engine::transaction_start($id, { %$ctx, (ref $ctx->{name} ? (name => "$ctx->{name}") : ()),
                                                  event_id => Sentry::Internal::_event_id() }, $custom, @request);
    }
    return Sentry::Internal::_create('Sentry::Tracing::Transaction', $id);
}

# A request's transaction and a scope of its own for it (Plack::Middleware::Sentry), in one engine
# call: the scope is pushed with the transaction as its span, the transaction's name, and $request as
# its request context. _finish_request sets the HTTP status, finishes, and pops that scope, in one more.
sub _start_request {
    my ($self, $ctx, $request) = @_;
    my $scope_id = Sentry::Internal::_new_id();
    my $tx = _start($ctx, undef, $scope_id, $request);
    push @STACK, $scope_id;
    $Sentry::Scope::SPAN_OF{$scope_id} = $tx;
    return $tx;
}

# A request or call a .NET host began (perl-sentry serve, the interpreter pool: SessionCalls.StartRequest):
# its transaction and scope exist in the engine under these ids, the scope already pushed there. Perl
# takes them as the hub's own; the host finishes both (PerlSentry::PSGI::_end, PerlSentry::Pool::_end)
# once _leave_request has popped the scope here.
sub _enter_request {
    my (undef, $tx_id, $scope_id) = @_;
    Sentry::Integration::_check_loaded();
    my $tx = Sentry::Internal::_create('Sentry::Tracing::Transaction', $tx_id);
    push @STACK, $scope_id;
    $Sentry::Scope::SPAN_OF{$scope_id} = $tx;
    return $tx;
}

sub _leave_request {
    my ($self, $scope_id) = @_;
    return unless grep { $_ == $scope_id } @STACK;
    $self->pop_scope while $STACK[-1] != $scope_id;   # scopes the request pushed and left
    _pop_stack();
    local ($@, $!);
    Sentry::Engine::release($scope_id) unless Sentry::Internal::_live($scope_id);
    return;
}

sub _finish_request {
    my ($self, $tx, $http_status) = @_;
    my $scope_id = _pop_stack();
    local ($@, $!);
    Sentry::Engine::transaction_finish($tx->{id}, undef, $http_status, $scope_id,
                                       defined $scope_id && !Sentry::Internal::_live($scope_id) ? 1 : 0);
    return;
}

sub last_event_id { Sentry::Engine::last_event_id() }

# The CPAN SDK binds clients to hubs; here the engine owns the client.
sub bind_client { return }

sub run { my ($self, $cb) = @_; return $cb->($self) }

1;

__END__

=head1 NAME

Sentry::Hub - the current hub: scopes, capturing and transactions

=head1 SYNOPSIS

  my $hub = Sentry::Hub->get_current_hub;
  $hub->with_scope(sub {
      my ($scope) = @_;
      $scope->set_tag(job => 'nightly');
      $hub->capture_message('only this event has the tag');
  });

=head1 DESCRIPTION

The hub is kept by the engine; this class reaches it. L<Sentry::SDK>'s class methods call it.

=head2 get_current_hub

=head2 get_current_scope, get_scope

=head2 push_scope, pop_scope

The root scope is never popped.

=head2 with_scope($code)

Runs C<$code> with a new scope pushed, and pops it afterwards even when C<$code> dies.

=head2 configure_scope($code)

=head2 capture_event(\%event), capture_message($message, $level_or_fields), capture_exception($error, $level_or_fields)

Return the event id, or C<undef> when the event was dropped.

=head2 add_breadcrumb(\%crumb)

=head2 start_transaction(\%context, \%custom_sampling_context)

=head2 last_event_id

=head2 bind_client, run

For scripts written for the CPAN SDK.

=cut
