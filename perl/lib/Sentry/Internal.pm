package Sentry::Internal;
use strict;
use warnings;
use Scalar::Util qw(weaken blessed);
use overload ();

our $VERSION = '0.1.0';

# The engine's subs (Sentry::Engine::*) exist when the script runs under perl-sentry. Where no
# engine answers (plain perl here; a forked child or an ithread of a hosted program, routed by the
# host) Sentry::Internal::Null stands in: every call returns normally and losses are counted.
our $HOSTED = defined &Sentry::Engine::available ? 1 : 0;
# Under the host: the engine's one-time start-up work begins now, beside the rest of the loading. Only a
# head start, so never an error: an ithread clone of a hosted program has the sub but cannot call it.
if (defined &PerlSentry::Host::prepare) { local ($@, $!); eval { PerlSentry::Host::prepare(); 1 } }
our $IN_CLONE = 0;        # set in an ithread clone of this interpreter
our $UNHANDLED;          # set while the DieHandler captures an uncaught die
our $DSN_HOSTPORT;       # host[:port] of the DSN: requests there are Sentry's own, not traced
our $INITIALISED = 0;     # init succeeded in this interpreter (or the one it continues)
our ($CLONE_SNAPSHOT, $CLONE_PARENT);

# threads->create: called in the parent before anything is copied, so the new thread's copy of
# these variables holds the parent's session as it is now. Each ithread is a session of its own,
# which continues from it (as a client of the agent).
sub CLONE_SKIP {
    ($CLONE_SNAPSHOT, $CLONE_PARENT) = ();
    if ($INITIALISED && defined &PerlSentry::Client::_interp_id) {
        local ($@, $!);
        $CLONE_SNAPSHOT = eval { scalar Sentry::Engine::snapshot() };
        $CLONE_PARENT = PerlSentry::Client::_interp_id();
    }
    return 0;
}

# In the new thread, right after the copy.
sub CLONE {
    $IN_CLONE = 1;
    return unless defined $CLONE_SNAPSHOT && defined &PerlSentry::Client::_clone;
    my $tid = eval { threads->tid } // 0;
    PerlSentry::Client::_clone($CLONE_SNAPSHOT, $CLONE_PARENT, "thread $tid");
}
require Sentry::Internal::Null;
# The engine's calls (the seam; see docs/ARCHITECTURE.md). Creating calls get an id the client chose.
our @ENGINE_CALLS = qw(available init is_enabled flush close shutdown last_event_id capture_event add_breadcrumb log
                       release scope_push scope_pop scope_new scope_set scope_get transaction_start span_start span_set
                       span_get transaction_finish profiler_call snapshot);
# Under plain perl the engine is the agent, through the XS client; without it, the stand-in.
our $CLIENT = 0;
unless ($HOSTED) {
    no strict 'refs';
    if (eval { require PerlSentry::Client; 1 }) {
        PerlSentry::Client::install([ grep { $_ ne 'available' } @ENGINE_CALLS ], PerlSentry::Client::default_agent());
        *Sentry::Engine::available = sub { 1 };
        $CLIENT = 1;
    }
    else {
        $Sentry::Internal::Null::REASON = "the XS module PerlSentry::Client is not installed (perl Makefile.PL && make install)";
        *{"Sentry::Engine::$_"} = \&{"Sentry::Internal::Null::$_"} for @ENGINE_CALLS;
    }
}

# Handles: the client names what it creates (so creating never waits for the engine); the engine
# names what it hands back that had no name yet (negative ids). One Perl object per id while it lives,
# so the same span or profile compares equal; its DESTROY releases the id.
our $NEXT_ID = 1;    # 1 is the root scope
my %LIVE;

sub _new_id { ++$NEXT_ID }

sub _wrap {
    my ($class, $id) = @_;
    return undef unless defined $id;
    if (my $o = $LIVE{$id}) {
        return $o;
    }
    my $o = bless { id => $id }, $class;
    $LIVE{$id} = $o;
    weaken $LIVE{$id};
    return $o;
}

# A new handle of $class for an object the engine is asked to create under its id.
sub _create {
    my ($class, $id) = @_;
    my $o = bless { id => $id }, $class;
    $LIVE{$id} = $o;
    weaken $LIVE{$id};
    return $o;
}

sub _id { $_[0]{id} }

sub _live { exists $LIVE{ $_[0] } && defined $LIVE{ $_[0] } }

sub DESTROY {
    my ($self) = @_;
    my $id = $self->{id};
    return if ${^GLOBAL_PHASE} eq 'DESTRUCT' || !$id || $id == 1;
    delete $LIVE{$id};
    # A scope on the hub's stack is held by the stack (pop_scope lets it go).
    return if grep { $_ == $id } @Sentry::Hub::STACK;
    local ($@, $!);
    Sentry::Engine::release($id);
}

# A new event id (the client names its events, so a capture need not wait for the engine). From the
# system's random source, read ahead per process and thread: perl's rand would give forked children
# (and ithreads) the same ids, and srand would change the program's own sequence.
my ($POOL, $POOL_OWNER) = ('', '');

sub _event_id {
    my $owner = $$ . ':' . ($INC{'threads.pm'} ? threads->tid : 0);
    if ($POOL_OWNER ne $owner || length $POOL < 16) {
        local ($!, $@);
        my $fresh = '';
        if (open my $fh, '<:raw', '/dev/urandom') {
            read $fh, $fresh, 4096;
            close $fh;
        }
        $fresh = pack('N*', map { int(rand 4294967296) ^ ($$ << 8) ^ int(time * 1000) } 1 .. 1024) if length $fresh < 16;
        ($POOL, $POOL_OWNER) = ($fresh, $owner);
    }
    return unpack 'H32', substr($POOL, 0, 16, '');
}

# Runs a user's block as the SDK's wrappers (profile, with_scope) do: in the caller's context, with
# a die caught. Returns (ok, error, results); error is what $@ held when the block ended, so the
# wrapper can leave $@ as a plain call of the block would.
sub _run_block {
    my ($code, $want) = @_;
    my @result;
    my $inner;
    my $ok = eval {
        if ($want) { @result = $code->() }
        elsif (defined $want) { $result[0] = $code->() }
        else { $code->() }
        $inner = $@;
        1;
    };
    return ($ok, $ok ? $inner : $@, @result);
}

# Where a `die` happened, from its message: ("message", file, line).
sub _split_die_location {
    my ($text) = @_;
    $text = '' unless defined $text;
    if ($text =~ /\A(.*?) at (.+?) line (\d+)(?:, <[^>]*> (?:line|chunk) \d+)?\.?\n?\z/s) {
        return ($1, $2, $3);
    }
    (my $clean = $text) =~ s/\n+\z//;
    return ($clean, undef, undef);
}

# Stack frames of the caller of the SDK, oldest first as Sentry wants them. SDK frames are left
# out by position (the innermost ones, up to the first frame outside Sentry::), not by name.
# caller() is asked once per level: frame i's function is what caller(i + 1) names.
sub _stack_frames {
    my @frames;
    my $i = 0;
    my @c = caller($i);
    @c = caller(++$i) while @c && $c[0] =~ /\ASentry(?:::|\z)/;
    while (@c) {
        # The top level of an interpreter a .NET host made (perl -e 0), and the eval frame its calls
        # run in, say nothing: left out, with anything outside them.
        last if @frames && $c[1] eq '-e' && !$c[2];
        my @up = caller(++$i);
        my $function = @up ? $up[3] : 'main';
        my $module = $function;
        $module = 'main' unless $function ne 'main' && $module =~ s/::[^:]+\z//;
        push @frames, _frame($function, $module, $c[1], $c[2]);
        last if @frames >= 100;
        @c = @up;
    }
    return [ reverse @frames ];
}

# A file's absolute path, worked out once per file name: perl's names are relative to the directory
# the program was in when it loaded the file, so the first answer is also the right one after a chdir.
my %ABS_PATH;

sub _frame {
    my ($function, $module, $file, $line) = @_;
    # Code a string eval compiled: the file and line of the code that ran the eval, not perl's
    # run-dependent "(eval 46)" (the same place profiles give it).
    if (defined $file && $file =~ /\A\(eval (\d+)\)/ && defined &PerlSentry::Client::_eval_site) {
        my ($site, $site_line) = PerlSentry::Client::_eval_site($1);
        ($file, $line) = ($site, $site_line) if defined $site;
    }
    my %f = (function => $function, module => $module, filename => $file, lineno => 0 + ($line || 0));
    $f{abs_path} = $ABS_PATH{$file} //= _abs_path($file) if defined $file && $file !~ /\A[(-]/;   # not "(eval 3)" or "-e"
    return \%f;
}

sub _abs_path {
    my ($file) = @_;
    %ABS_PATH = () if keys %ABS_PATH > 10_000;   # names made up by #line directives: bounded
    require File::Spec;
    return File::Spec->rel2abs($file);
}

# The `exception` payload for an error: a string from die, or an object.
sub _exception_payload {
    my ($err) = @_;
    my ($type, $text);
    if (blessed $err) {
        $type = ref $err;
        # The object's own methods are user code: a failing one must not break the capture.
        $text = eval {
            $err->can('message') ? $err->message : $err->can('as_string') ? $err->as_string
                : overload::Method($err, '""') ? "$err" : _dump($err);
        };
        $text = overload::StrVal($err) unless defined $text;
        $text = _dump($text) if ref $text;
    }
    else {
        $type = 'die';
        $text = !defined $err ? 'undef' : ref $err ? _dump($err) : "$err";
    }
    $text = _cut($text);
    my ($value, $file, $line) = _split_die_location($text);
    my $frames = _stack_frames();
    if (defined $file && !(@$frames && $frames->[-1]{filename} eq $file && $frames->[-1]{lineno} == $line)) {
        my $enclosing = @$frames ? $frames->[-1]{function} : 'main';
        push @$frames, _frame($enclosing, (@$frames ? $frames->[-1]{module} : 'main'), $file, $line);
    }
    return {
        values => [ {
            type       => $type,
            value      => $value,
            (blessed $err ? (module => ref $err) : ()),
            mechanism  => $UNHANDLED ? { type => 'die', handled => !!0 } : { type => 'generic', handled => !!1 },
            stacktrace => { frames => $frames },
        } ],
    };
}

# A data structure a program died with, readable ({code => 42, msg => 'x'}), not HASH(0x...).
sub _dump {
    my ($v) = @_;
    require Data::Dumper;
    my $d = Data::Dumper->new([$v])->Indent(0)->Terse(1)->Sortkeys(1)->Maxdepth(4)->Useqq(1);
    my $text = eval { $d->Dump } // overload::StrVal($v);
    return length $text > 2048 ? substr($text, 0, 2045) . '...' : $text;
}

# Sentry keeps 8192 characters of a message or an error; the engine cuts every string there too, but
# the two that can be huge are cut here, before they are copied to the engine or sent to the agent.
sub _cut { my ($s) = @_; defined $s && length $s > 8192 ? substr($s, 0, 8189) . '...' : $s }

# A value the event shows as text (a tag, a transaction's name): as Perl prints it, overloaded "" included.
sub _str { defined $_[0] ? "$_[0]" : undef }

# Sentry's levels, and the other names its server takes for them.
my %LEVEL = (fatal => 'fatal', critical => 'fatal', error => 'error', warning => 'warning', warn => 'warning',
             info => 'info', log => 'info', debug => 'debug', trace => 'debug');
my %WARNED_LEVEL;

# The level as Sentry names it, or undef.
sub _known_level { defined $_[0] ? $LEVEL{ lc "$_[0]" } : undef }

# The same; undef (and a warning, once per name) when it is none of them.
sub _level {
    my ($level) = @_;
    return undef unless defined $level;
    my $known = _known_level($level);
    return $known if $known;
    warn "Sentry::SDK: level '$level' is not one of fatal, error, warning, info, debug; the event keeps its default level\n"
        unless $WARNED_LEVEL{"$level"}++;
    return undef;
}

# capture_message / capture_exception take a level or a hash of event fields.
sub _context_fields {
    my ($context) = @_;
    return () unless defined $context;
    unless (ref $context) {
        my $level = _level($context);
        return defined $level ? (level => $level) : ();
    }
    return () unless ref $context eq 'HASH';
    my %fields = %$context;
    if (exists $fields{level}) {
        my $level = _level($fields{level});
        if (defined $level) { $fields{level} = $level } else { delete $fields{level} }
    }
    $fields{tags} = { map { $_ => _str($fields{tags}{$_}) } keys %{ $fields{tags} } } if ref $fields{tags} eq 'HASH';
    $fields{transaction} = _str($fields{transaction}) if ref $fields{transaction};
    return %fields;
}

1;

__END__

=head1 NAME

Sentry::Internal - shared internals of the PerlSentry modules (not a public API)

=head1 DESCRIPTION

Handles to engine objects, stack frames and exception payloads, and the no-op engine used when
the script does not run under C<perl-sentry>. Nothing here is meant to be called by applications.

=cut
