package Sentry::Profiling;
use strict;
use warnings;
use parent -norequire, 'Sentry::Internal';
use Sentry::Internal;
use Sentry::Profiling::Profile;
use Carp ();

our $VERSION = '0.1.0';

my $SDK = bless { id => 0 }, __PACKAGE__;

sub _sdk { $SDK }

sub _call { my $self = shift; my $m = shift; Sentry::Engine::profiler_call($m, $self->{id}, @_) }

# A profiler of its own (the seed plan's Sentry::Profiling->new(enable_profiling => 1, ...)); its
# profiles go out through the SDK's transport when the SDK is initialised.
sub new {
    my ($class, @args) = @_;
    my %attrs = @args == 1 && ref $args[0] eq 'HASH' ? %{ $args[0] } : @args;
    my $id = Sentry::Internal::_new_id();
    my ($ok, $err);
    {
        local ($@, $!);
        $ok = eval { Sentry::Engine::profiler_call(new => $id, \%attrs); 1 };
        $err = $@;
    }
    Carp::croak($err =~ s/\n\z//r) unless $ok;
    return Sentry::Internal::_create($class, $id);
}

for my $attr (qw(enable_profiling profiles_sample_rate profile_session_sample_rate profile_lifecycle
                 sampling_interval_us max_profile_duration max_stack_depth)) {
    no strict 'refs';
    *$attr = sub {
        my $self = shift;
        return $self->_call(get => $attr) unless @_;
        my ($ok, $err);
        {
            local ($@, $!);
            $ok = eval { $self->_call(set => $attr, $_[0]); 1 };
            $err = $@;
        }
        Carp::croak($err =~ s/\n\z//r) unless $ok;
        return $self;
    };
}

sub mode { $_[0]->_call(get => 'mode') // 'off' }

sub profiler_id { $_[0]->_call(get => 'profiler_id') }

sub start_profiler {
    my ($self, $opts) = @_;
    Carp::croak('start_profiler takes a hash reference ({ name => ... })') if defined $opts && ref $opts ne 'HASH';
    my ($id) = $self->_call(start => Sentry::Internal::_new_id(), $opts || {});
    return Sentry::Internal::_wrap('Sentry::Profiling::Profile', $id);
}

sub stop_profiler { Sentry::Internal::_wrap('Sentry::Profiling::Profile', $_[0]->_call('stop')) }

# stop_profiler for profile(): the profile's transaction gets this status (the block died).
sub _stop_with_status { my ($self, $status) = @_; Sentry::Internal::_wrap('Sentry::Profiling::Profile', $self->_call('stop', $status)) }

sub _active_profile { Sentry::Internal::_wrap('Sentry::Profiling::Profile', $_[0]->_call('active')) }

*active_profile = \&_active_profile;

# Transactions are profiled by the engine when they start (profile_lifecycle 'trace'); this says
# whether this one is.
sub start_transaction_profiling {
    my ($self, $transaction) = @_;
    return 0 unless $transaction && $transaction->{id};
    return Sentry::Engine::span_get($transaction->{id}, 'get')->{profiled} ? 1 : 0;
}

1;

__END__

=head1 NAME

Sentry::Profiling - the profiler: profiles on transactions, manual profiles, continuous profiling

=head1 SYNOPSIS

  my $profiler = Sentry::SDK->get_profiler;
  $profiler->profile_lifecycle('trace');

  my $profile = $profiler->start_profiler({ name => 'heavy-computation' });
  heavy_computation();
  $profiler->stop_profiler;          # sent to Sentry

=head1 DESCRIPTION

Sampling is done by the engine, on a timer thread, at perl's safe points: no signals, no C<alarm>,
and well under 1% overhead at the default 101 Hz. What a profile becomes depends on the options
(see L<Sentry::SDK/OPTIONS>):

=over

=item * With C<profiles_sample_rate> or C<profiles_sampler>: sampled transactions are profiled while
they run (C<profile_lifecycle> C<trace>), and each profile is sent in its transaction's envelope
(Sentry's format v1, cut at 30 s, dropped with a client report when it has fewer than 2 samples).
A profile started with C<start_profiler> or C<profile> is sent with a transaction of its own (op
C<profile>), because Sentry drops a v1 profile that has no transaction.

=item * With only C<profile_session_sample_rate>: continuous profiling (format v2). C<start_profiler>
and C<stop_profiler> run it in the C<manual> lifecycle; with C<trace> it runs while a sampled
transaction does, and goes on for 2 s after the last one, so that back-to-back transactions (a
server's requests, a worker's jobs) continue one session (one C<profiler_id>) instead of each making
its own. Chunks of 60 s are sent as they complete, and the rest when the session ends.

=back

=head2 new(%attributes)

A profiler of its own, with the attributes below.

=head2 enable_profiling, profiles_sample_rate, profile_session_sample_rate, profile_lifecycle, sampling_interval_us, max_profile_duration, max_stack_depth

Read, or set with an argument (validated as at C<init>).

=head2 start_profiler(\%options)

Starts a profile named C<name>; returns a L<Sentry::Profiling::Profile>, or C<undef> when profiling
is off, the sample rate says no, or a profile already runs (C<debug> logs which).

=head2 stop_profiler

Stops the running profile, sends it, and returns it.

=head2 start_transaction_profiling($transaction)

True when the transaction is being profiled.

=head2 mode, profiler_id, active_profile

C<transaction>, C<continuous> or C<off>; the continuous session's id; the profile running now.

=cut
