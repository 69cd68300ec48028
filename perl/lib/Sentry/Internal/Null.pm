package Sentry::Internal::Null;
use strict;
use warnings;

our $VERSION = '0.1.0';

# The engine for a process or ithread that cannot reach one: a forked child of perl-sentry, an
# ithread clone, plain perl. Every Sentry::Engine call answers as the engine would for an SDK that
# sends nothing: handles accept every method, nothing dies, what would have been sent is counted
# and the first loss is reported once on STDERR.

my %LOST;          # category => count
my $WARNED;
my %OBJ;           # id => { ... } for the spans made here

our $REASON;    # set by the agent client when it cannot reach the agent

# Under the host, the engine's subs reach this package only from an ithread clone or a forked child.
sub _why {
    return "cannot reach the perl-sentry agent: $REASON" if defined $REASON;
    return "this ithread has no engine of its own" if $Sentry::Internal::IN_CLONE;
    return "this process ($$) is a fork of a perl-sentry process and has no engine of its own"
        if $Sentry::Internal::HOSTED;
    return 'not running under perl-sentry (start the script with `perl-sentry run`)';
}

# Says once why nothing is sent (a forked child that inherited the warning says it again only
# when its reason differs).
sub _warn_once {
    my $why = _why();
    return if defined $WARNED && $WARNED eq $why;
    $WARNED = $why;
    local ($@, $!);
    print STDERR "Sentry::SDK: $why; events are discarded and counted\n";
}

sub _lose {
    my ($category) = @_;
    $LOST{$category}++;
    _warn_once();
    return;
}

# What was discarded so far, by Sentry data category (error, transaction, profile).
sub lost { return {%LOST} }

sub _hex { join '', map { sprintf '%04x', int rand 65536 } 1 .. $_[0] / 4 }

sub available      { 0 }
sub is_enabled     { 0 }
sub init           { _warn_once(); return {} }
sub flush          { 1 }
sub close          { 1 }
sub shutdown       { 1 }
sub log            { return }
sub last_event_id  { return }
sub add_breadcrumb { return }
sub release        { delete $OBJ{ $_[0] } if defined $_[0]; return }
sub capture_event  { _lose('error') }
sub snapshot       { return }
sub scope_push     { return }
sub scope_pop      { return }
sub scope_new      { return }
sub scope_set      { return }

my %EMPTY_FIELD = (tags => sub { {} }, extra => sub { {} }, contexts => sub { {} }, fingerprint => sub { [] },
                   breadcrumbs => sub { [] });

sub scope_get {
    my ($id, $method, @args) = @_;
    return $args[0] if $method eq 'apply_to_event';
    return $EMPTY_FIELD{$method} ? $EMPTY_FIELD{$method}->() : undef;
}

sub transaction_start {
    my ($id, $ctx) = @_;
    $ctx = {} unless ref $ctx eq 'HASH';
    my ($trace, $parent) = (($ctx->{sentry_trace} // $ctx->{'sentry-trace'} // '') =~ /\A\s*([0-9a-f]{32})-([0-9a-f]{16})/);
    $OBJ{$id} = { is_transaction => 1, name => $ctx->{name}, op => $ctx->{op}, description => $ctx->{description},
                  trace_id => $trace // _hex(32), span_id => _hex(16), parent_span_id => $parent, root => $id };
    return;
}

sub span_start {
    my ($id, $parent_id, $ctx) = @_;
    my $p = $OBJ{ $parent_id // '' };
    $ctx = {} unless ref $ctx eq 'HASH';
    $OBJ{$id} = { is_transaction => 0, op => $ctx->{op}, description => $ctx->{description},
                  trace_id => $p ? $p->{trace_id} : _hex(32), span_id => _hex(16),
                  parent_span_id => $p ? $p->{span_id} : undef, root => $p ? $p->{root} : undef };
    return;
}

sub span_set {
    my ($id, $method, @args) = @_;
    my $o = $OBJ{ $id // '' } or return;
    $o->{$1} = $args[0] if $method =~ /\Aset_(op|description|name)\z/;
    return;
}

sub transaction_finish {
    my ($id) = @_;
    my $o = $OBJ{ $id // '' };
    return if !$o || $o->{finished}++;
    _lose('transaction');
    return;
}

sub span_get {
    my ($id, $method) = @_;
    my $o = $OBJ{ $id // '' };
    return $o && defined $o->{root} ? [ $o->{root}, 1 ] : undef if $method eq 'transaction';
    return $o ? "$o->{trace_id}-$o->{span_id}" : undef if $method eq 'to_trace_parent';
    return undef if $method eq 'to_baggage';
    return { tags => {}, data => {}, is_transaction => 0 } unless $o;
    return { map { ($_ => $o->{$_}) } qw(trace_id span_id parent_span_id op description name is_transaction) };
}

sub profiler_call {
    my ($method, @args) = @_;
    return (undef, _why()) if $method eq 'start';
    return 'off' if $method eq 'get' && ($args[1] // '') eq 'mode';
    return {} if $method eq 'info';
    return;
}

1;

__END__

=head1 NAME

Sentry::Internal::Null - the engine of a process that cannot reach one (not a public API)

=head1 DESCRIPTION

Used by L<Sentry::SDK> where no engine answers: a forked child of C<perl-sentry run>, an ithread,
plain C<perl>. Every SDK call returns normally, transactions and spans accept every method, and
what would have been sent is discarded, counted (C<lost>), and reported once on STDERR.

=head2 lost

A hash of what was discarded, by Sentry data category (C<error>, C<transaction>).

=cut
