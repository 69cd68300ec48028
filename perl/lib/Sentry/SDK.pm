package Sentry::SDK;
use strict;
use warnings;
use Carp ();
use Sentry::Internal;
use Sentry::Hub;
use Sentry::Severity;
use Sentry::Profiling;
use Sentry::Integration;

our $VERSION = '0.1.0';

my @ENV_OPTIONS = qw(SENTRY_DSN SENTRY_RELEASE SENTRY_ENVIRONMENT SENTRY_TRACES_SAMPLE_RATE SENTRY_DEBUG
                     SENTRY_SPOTLIGHT PERLSENTRY_ENVELOPE_DIR XDG_CACHE_HOME HOME);

sub _hub { Sentry::Hub->get_current_hub }

sub init {
    my ($class, $options) = @_;
    $options = {} unless defined $options;
    Carp::croak('Sentry::SDK->init takes a hash reference of options') unless ref $options eq 'HASH';
    my $given = $options;
    my %env = map { defined $ENV{$_} ? ($_ => $ENV{$_}) : () } @ENV_OPTIONS;
    # Folders are where the program meant them when it called init, whatever it chdirs to later
    # (and whatever the agent's own directory is). The caller's hash is left as it was.
    {
        local ($@, $!);
        my $abs = sub {
            my ($d) = @_;
            return $d unless defined $d && !ref $d && length $d && $d !~ m{\A/};
            require Cwd;   # only for a relative folder: loading it costs every process memory
            my $cwd = Cwd::getcwd();
            return defined $cwd ? "$cwd/$d" : $d;
        };
        $options = { %$options, map { exists $options->{$_} ? ($_ => $abs->($options->{$_})) : () } qw(envelope_dir cache_dir) };
        delete $options->{integrations};   # Perl objects the Perl side sets up (Sentry::Integration)
        $env{$_} = $abs->($env{$_}) for grep { exists $env{$_} } qw(PERLSENTRY_ENVELOPE_DIR XDG_CACHE_HOME);
    }
    my ($ok, $err);
    {
        local ($@, $!);
        $ok = eval { Sentry::Engine::init($options, \%env); 1 };
        $err = $@;
    }
    if ($ok) {
        Sentry::Hub::_reset();
        $Sentry::Internal::INITIALISED = 1;
        my $dsn = $options->{dsn} // $env{SENTRY_DSN};
        $Sentry::Internal::DSN_HOSTPORT = defined $dsn && !ref $dsn && $dsn =~ m{\A\w+://[^@/]*@([^/?#]+)} ? $1 : undef;
        Sentry::Integration->setup({ %$given, default_integrations => $given->{default_integrations} // 1 });
    }
    Carp::croak('Sentry::SDK->init: ' . ($err =~ s/\n\z//r)) unless $ok;
    return $Sentry::Internal::HOSTED ? 1 : undef;
}

sub capture_message   { my $class = shift; _hub()->capture_message(@_) }
sub capture_exception { my $class = shift; _hub()->capture_exception(@_) }
sub capture_event     { my $class = shift; _hub()->capture_event(@_) }
sub configure_scope   { my $class = shift; _hub()->configure_scope(@_) }
sub add_breadcrumb    { my $class = shift; _hub()->add_breadcrumb(@_) }
sub start_transaction { my $class = shift; _hub()->start_transaction(@_) }
sub last_event_id     { Sentry::Engine::last_event_id() }

sub flush { my (undef, $timeout) = @_; return Sentry::Engine::flush($timeout) ? 1 : 0 }

sub close { my (undef, $timeout) = @_; Sentry::Engine::close($timeout); return 1 }

sub get_profiler { Sentry::Profiling->_sdk }

sub start_profiler { my (undef, $opts) = @_; return Sentry::Profiling->_sdk->start_profiler($opts) }

sub stop_profiler { Sentry::Profiling->_sdk->stop_profiler }

# Runs $code under a profile named $name: returns what $code returns (scalar or list context),
# stops the profile when $code dies, and rethrows.
sub profile {
    my ($class, $name, $code) = @_;
    Carp::croak('profile needs a name and a code reference: Sentry::SDK->profile(name => sub { ... })')
        unless defined $name && ref $code eq 'CODE';
    my $profiler = Sentry::Profiling->_sdk;
    my $profile  = $profiler->start_profiler({ name => $name });
    my ($ok, $err, @result) = Sentry::Internal::_run_block($code, wantarray);
    if ($profile) { $ok ? $profiler->stop_profiler : $profiler->_stop_with_status('internal_error') }
    die $err unless $ok;
    $@ = $err;    # what the block left there, as a plain call of it would
    return wantarray ? @result : $result[0];
}

# At exit (after the program's own END blocks): stop running profiles and flush, bounded by shutdown_timeout.
END { local ($@, $!, $?); Sentry::Engine::shutdown() }

1;

__END__

=head1 NAME

Sentry::SDK - Sentry for Perl: errors, tracing and profiling, with a C# engine

=head1 SYNOPSIS

  use Sentry::SDK;

  Sentry::SDK->init({
      dsn                => 'https://key@o0.ingest.sentry.io/42',
      release            => 'myapp@1.2.3',
      traces_sample_rate => 1.0,
      profiles_sample_rate => 1.0,
  });

  Sentry::SDK->add_breadcrumb({ category => 'auth', message => 'user logged in' });
  eval { risky() };
  Sentry::SDK->capture_exception($@) if $@;

  my $tx = Sentry::SDK->start_transaction({ name => 'nightly-report', op => 'task' });
  my $span = $tx->start_child({ op => 'db.query', description => 'SELECT ...' });
  $span->finish;
  $tx->finish;                     # sent with its profile

  my $sum = Sentry::SDK->profile('crunch', sub { crunch_numbers() });

Run the script under the host: C<perl-sentry run app.pl>.

=head1 THE SDK NEVER BREAKS THE PROGRAM

Where no engine answers (plain C<perl>, a forked child of C<perl-sentry run>, an ithread) every
call returns normally: transactions and spans accept every method, captures return C<undef>, one
warning on STDERR says why, and what was discarded is counted. SDK calls leave C<$@> and C<$!> as
they were. A callback (C<before_send>, a sampler, an event processor) that captures or starts a
transaction is refused with a warning, and C<exit> inside a callback ends the program.

=head1 DESCRIPTION

Class methods with the API of the CPAN Sentry::SDK, plus profiling. The model (options, scopes,
transactions, profiles, envelopes, transport) lives in the engine; these modules are handles.
Failures inside the SDK are logged with C<debug> and never die into the program; bad options
croak at C<init> with a message naming the option.

=head1 OPTIONS

=head2 dsn

Where events go. Default C<$ENV{SENTRY_DSN}>. Without a DSN nothing goes to Sentry. Envelopes go
over HTTP/1.1 (TLS for C<https>), through the proxy C<HTTPS_PROXY> or C<HTTP_PROXY> names when one
applies to the DSN's host (C<NO_PROXY> is honoured).

=head2 release, environment, dist, server_name

C<release> defaults to C<$ENV{SENTRY_RELEASE}>, C<environment> to C<$ENV{SENTRY_ENVIRONMENT}> or
C<production>, C<server_name> to the host name.

=head2 debug

Log what the SDK does and drops to STDERR. Default C<$ENV{SENTRY_DEBUG}>.

=head2 sample_rate

Share of error events sent, 0 to 1, default 1.

=head2 traces_sample_rate, traces_sampler

Share of transactions sampled (default C<$ENV{SENTRY_TRACES_SAMPLE_RATE}>; unset means tracing is
off), or a code reference given the sampling context (C<transaction_context>, C<parent_sampled>,
and the custom sampling context) that returns a rate. The parent's decision is inherited when a
trace is continued.

=head2 before_send, before_send_transaction

Code references given the event hash; return it (changed or not) or C<undef> to drop it.

=head2 max_breadcrumbs

Default 100.

=head2 in_app_include, in_app_exclude

Lists of package or path prefixes that decide C<in_app> of stack and profile frames. By default
files under perl's library directories are not in-app, everything else is.

=head2 enable_profiling, profiles_sample_rate, profiles_sampler

Profiles on transactions (Sentry's profile format v1, sent with the transaction). A rate or sampler
turns profiling on; C<enable_profiling =E<gt> 1> alone profiles 1% of sampled transactions.
With tracing configured (C<traces_sample_rate> or C<traces_sampler>), Sentry's rule holds: only
sampled transactions are profiled. With profiling configured and tracing not, a transaction is kept
exactly when it is profiled: the profile decision decides both (so C<profiles_sample_rate =E<gt> 1>
alone traces and profiles every transaction, as the plan's own test expects). An incoming trace's
decision still wins.

=head2 profile_session_sample_rate, profile_lifecycle

Continuous profiling (format v2 chunks), decided once per process; used only when no
C<profiles_sample_rate> or C<profiles_sampler> is set (transaction profiles win, as Sentry's docs
say). C<profile_lifecycle> is C<trace> (default: profile while transactions run, and 2 s after the
last one, so back-to-back transactions share one session) or C<manual> (C<start_profiler>/C<stop_profiler> only).

=head2 sampling_interval_us, max_profile_duration, max_stack_depth

Default 9901 (101 Hz), 30 seconds (the most Sentry accepts), 100 frames.

=head2 spotlight

C<1> or the sidecar's URL (default C<http://localhost:8969/stream>): every envelope is also sent to
Spotlight. Default C<$ENV{SENTRY_SPOTLIGHT}>.

=head2 shutdown_timeout

Seconds the program waits at exit for queued envelopes, default 2. What is not sent by then stays
in the cache and is sent by the next run.

=head2 cache_dir, max_cache_items

Envelopes are written here before they are sent and removed once delivered, so an outage, a 5xx or
a killed process loses nothing. Default C<$XDG_CACHE_HOME/perl-sentry> or C<~/.cache/perl-sentry>;
an empty string keeps them in memory only (then C<max_queue_items>, default 100).

=head2 envelope_dir

Also write every envelope as a file in this folder (default C<$ENV{PERLSENTRY_ENVELOPE_DIR}>); works
without a DSN.

=head2 send_client_reports, http_timeout, max_spans

Default on, 10 seconds, 1000.

=head2 integrations, default_integrations

The libraries the SDK records on its own (L<Sentry::Integration>): an uncaught C<die> as a fatal
event; outgoing requests of L<LWP::UserAgent>, L<HTTP::Tiny> and L<Mojo::UserAgent> as spans and
breadcrumbs, with the C<sentry-trace> and C<baggage> headers (never to the DSN's host); L<DBI>
statements as spans and breadcrumbs, also when DBI is loaded after C<init>.
C<< default_integrations => 0 >> turns them off; C<< integrations => [...] >> adds more (names
under C<Sentry::Integration::>, or objects with a C<setup_once> method).

=head2 include_source_context

Default on: the frames of captured errors carry the five source lines before and after theirs
(C<pre_context>, C<context_line>, C<post_context>), read from the file, so Sentry shows the code.

=head1 ERRORS OUTSIDE A TRANSACTION

An error captured while no span is active still joins a trace: each hub has a propagation
context (a trace id and a span id) that the event carries in C<contexts.trace>, with the trace's
dynamic sampling context in its envelope. Forked children keep their parent's.

=head1 METHODS

=head2 init(\%options)

=head2 capture_message($message, $level), capture_exception($error), capture_event(\%event)

Return the event id, or C<undef> when dropped (sample rate, C<before_send>, an event processor).

=head2 configure_scope($code), add_breadcrumb(\%crumb)

=head2 start_transaction(\%context, \%custom_sampling_context)

C<name>, C<op>, C<description>, C<source>, C<sampled>; C<sentry_trace> and C<baggage> continue an
incoming trace.

=head2 flush($timeout), close($timeout)

Wait up to C<$timeout> seconds for the queue; C<close> also stops the SDK.

=head2 start_profiler(\%options), stop_profiler, get_profiler

See L<Sentry::Profiling>.

=head2 profile($name, $code)

Runs C<$code> profiled and returns its value (scalar or list context). When C<$code> dies the profile
is stopped and sent, and the error rethrown.

=head2 last_event_id

=cut
