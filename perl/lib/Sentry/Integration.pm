package Sentry::Integration;
use strict;
use warnings;
use Scalar::Util ();

our $VERSION = '0.1.0';

# The integrations init sets up: the defaults (unless default_integrations is false) and those given
# as integrations => [...] (objects, or class names). Each patches its library once per process, when
# the library is loaded (now, or later: a hook at the front of @INC, and a look at %INC when a
# transaction starts, for libraries found before it). Every patch calls the library exactly as the
# program did and gives back what it gave; the SDK's own work around it cannot make it fail.

our @DEFAULTS = qw(DieHandler LwpUserAgent HttpTiny MojoUserAgent DBI);

# The library each default patches: its integration is loaded only once the library is (a process
# that never loads DBI never loads Sentry::Integration::DBI either).
our %LIBRARY_OF = (LwpUserAgent => 'LWP::UserAgent', HttpTiny => 'HTTP::Tiny', MojoUserAgent => 'Mojo::UserAgent', DBI => 'DBI');

my %PENDING;     # 'DBI.pm' => [ callbacks to run once it is loaded ]
my %WRAPPED;     # 'Pkg::method' => 1
my $INC_HOOK;

sub setup {
    my ($class, $options) = @_;
    my @chosen;
    my $defaults = exists $options->{default_integrations} ? $options->{default_integrations} : 1;
    if (ref $defaults eq 'ARRAY') { push @chosen, @$defaults }
    elsif ($defaults) { push @chosen, @DEFAULTS }
    push @chosen, @{ $options->{integrations} } if ref $options->{integrations} eq 'ARRAY';
    my %seen;
    for my $i (@chosen) {
        next if !ref $i && defined $i && $seen{$i}++;
        if (!ref $i && defined $i && $LIBRARY_OF{$i}) {
            when_loaded($LIBRARY_OF{$i}, sub { my $object = _object($i); _setup($object) if $object });
            next;
        }
        my $object = _object($i) or next;
        next if $seen{ ref $object }++;
        _setup($object);
    }
    return;
}

sub _setup {
    my ($object) = @_;
    my $ok = eval { $object->setup_once; 1 };
    warn "Sentry::SDK: the integration " . ref($object) . " could not be set up: $@" unless $ok;
    return;
}

sub _object {
    my ($i) = @_;
    return $i if Scalar::Util::blessed($i) && $i->can('setup_once');
    return undef if ref $i || !defined $i;
    my $class = $i =~ /::/ ? $i : "Sentry::Integration::$i";
    (my $file = "$class.pm") =~ s{::}{/}g;
    my $ok = eval { require $file; 1 };
    unless ($ok && $class->can('setup_once')) {
        warn "Sentry::SDK: integrations: '$i' is not an integration (no $class with setup_once)\n";
        return undef;
    }
    return $class->new;
}

# Runs $cb once $module is loaded: now when it is, else when it is.
sub when_loaded {
    my ($module, $cb) = @_;
    (my $file = "$module.pm") =~ s{::}{/}g;
    if ($INC{$file}) {
        _run($cb);
        return;
    }
    push @{ $PENDING{$file} }, $cb;
    unless ($INC_HOOK) {
        $INC_HOOK = \&_inc_hook;
        unshift @INC, $INC_HOOK;
    }
    return;
}

# Libraries found before the hook (a `use lib` put ahead of it): looked for when a transaction starts.
sub _check_loaded {
    return unless %PENDING;
    for my $file (grep { $INC{$_} } keys %PENDING) {
        _run($_) for @{ delete $PENDING{$file} };
    }
    return;
}

sub _inc_hook {
    my ($self, $file) = @_;
    my $callbacks = delete $PENDING{$file} or return;
    # Loads the real file (this hook has nothing for it now), then patches it.
    my $ok = do { local $@; eval { require $file; 1 } };
    return unless $ok;   # perl goes on down @INC and reports the failure as it would
    my $real = $INC{$file};
    _run($_) for @$callbacks;
    # perl records this hook as where the file came from: the source given back puts the real path back.
    my $source = "\$INC{'\Q$file\E'} = \$Sentry::Integration::LOADED{'\Q$file\E'}; 1;\n";
    $Sentry::Integration::LOADED{$file} = $real;
    open my $fh, '<', \$source or return;
    return $fh;
}

sub _run {
    my ($cb) = @_;
    local ($@, $!);
    eval { $cb->(); 1 } or warn "Sentry::SDK: an integration could not patch its library: $@";
    return;
}

# Replaces Package::method with $around->($orig, @args), once; the wrapper keeps the original's name
# (what stack traces and profiles show) and prototype.
sub wrap {
    my ($package, $method, $around) = @_;
    my $name = "${package}::$method";
    return 0 if $WRAPPED{$name};
    no strict 'refs';
    no warnings 'redefine';
    my $orig = defined &{$name} ? \&{$name} : return 0;
    require Sub::Util;
    my $wrapper = sub { unshift @_, $orig; goto &$around };
    Sub::Util::set_prototype(prototype($orig), $wrapper) if defined prototype($orig);
    *{$name} = Sub::Util::set_subname($name, $wrapper);
    $WRAPPED{$name} = 1;
    return 1;
}

# SDK work next to the program's call: never dies, leaves $@ and $! alone.
sub quietly {
    my ($code) = @_;
    local ($@, $!);
    my @r = eval { $code->() };
    return wantarray ? @r : $r[0];
}

# The span an outgoing call joins, or undef when none is set (no engine round trip).
sub current_span { Sentry::Scope::_current_span() }

# The trace headers an outgoing request carries: [sentry-trace, baggage].
sub trace_headers {
    my ($span) = @_;
    return quietly(sub {
        return [$span->to_trace_parent, $span->to_baggage] if $span;
        my $scope = Sentry::Hub->get_current_hub->get_current_scope;
        return [$scope->_get('traceparent'), $scope->_get('baggage')];
    });
}

# Whether a request goes to Sentry itself (the DSN's host and port): no span, no breadcrumb, no headers.
sub is_sentry_url {
    my ($url) = @_;
    my $dsn = $Sentry::Internal::DSN_HOSTPORT // return 0;
    return "$url" =~ m{\A\w+://(?:[^@/]*@)?\Q$dsn\E(?:/|\z)}i ? 1 : 0;
}

1;

__END__

=head1 NAME

Sentry::Integration - the SDK's integrations with Perl libraries, set up by init

=head1 SYNOPSIS

  Sentry::SDK->init({
      dsn => ...,
      default_integrations => 0,                      # none of the defaults
      integrations => ['DBI', My::Integration->new],  # names under Sentry::Integration::, or objects
  });

=head1 DESCRIPTION

The defaults: L<Sentry::Integration::DieHandler> (an uncaught C<die> becomes a fatal event),
L<Sentry::Integration::LwpUserAgent>, L<Sentry::Integration::HttpTiny> and
L<Sentry::Integration::MojoUserAgent> (a span and a breadcrumb per outgoing request, with the
C<sentry-trace> and C<baggage> headers, never to Sentry itself), and L<Sentry::Integration::DBI>
(a span and a breadcrumb per statement). C<default_integrations> false turns them all off; an
array of names chooses among them. Each patches its library once per process, when the library is
loaded, also when that is after C<init>. An integration is an object with a C<setup_once> method;
C<breadcrumbs> and C<tracing> (default on) turn its two halves off.

=cut
