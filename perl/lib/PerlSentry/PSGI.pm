package PerlSentry::PSGI;
use strict;
use warnings;
use Scalar::Util ();
use overload ();

our $VERSION = '0.1.0';

# The Perl half of the PSGI server on Kestrel (perl-sentry serve, PerlSentry.Hosting.PsgiServer). The
# .NET half gives each request's environment and reads and writes the HTTP exchange through the
# subs it defines in this package for the interpreter's thread:
#   _read($max)                      up to $max bytes of the request body ('' at its end)
#   _respond($status, $has_body, $body, @headers)
#                                    status and headers, and the whole body when it is known
#   _write($bytes)                   a piece of a streamed body, sent at once
#   _gone()                          1 when the client closed the connection
#   _begin(), _end($ended)           begin and finish the request's transaction (the SDK on: handle_traced)
our $APP;
my $SENTRY;   # the SDK is on: errors past the app's own call are captured here
my %FIXED;

# Loads the app file as plackup does (Plack::Util::load_psgi when Plack is there), checks it is a PSGI
# app, and starts the SDK when the server was given its options (a transaction per request: handle_traced).
sub load {
    my ($file, $workers, $sentry) = @_;
    my $app;
    if (eval { require Plack::Util; 1 }) {
        $app = Plack::Util::load_psgi($file);
    }
    else {
        local $!;
        $app = do $file;
        die "cannot load $file: $@" if $@;
        die "cannot read $file: $!\n" if !defined $app && $!;
    }
    $app = $app->to_app if Scalar::Util::blessed($app) && $app->can('to_app');
    my $callable = ref $app eq 'CODE'
        || (Scalar::Util::blessed($app) && overload::Method($app, '&{}'));
    die "$file does not return a PSGI application (a code reference) as its last value; it returned "
        . (defined $app ? (ref $app ? ref($app) . ' reference' : "'$app'") : 'undef') . "\n"
        unless $callable;
    if ($sentry) {
        require Sentry::SDK;
        Sentry::SDK->init($sentry) unless $Sentry::Internal::INITIALISED;
        $SENTRY = 1;   # the .NET half calls handle_traced
    }
    $APP = $app;
    %FIXED = (
        'psgi.version'         => [ 1, 1 ],
        'psgi.errors'          => \*STDERR,
        'psgi.multithread'     => '',
        'psgi.multiprocess'    => ($workers > 1 ? 1 : ''),
        'psgi.run_once'        => '',
        'psgi.nonblocking'     => '',
        'psgi.streaming'       => 1,
        'psgix.input.buffered' => '',
        'psgix.harakiri'       => 1,   # set psgix.harakiri.commit: the interpreter ends after the request
    );
    return 1;
}

# One request: the environment's CGI keys as a flat list. The response goes out through _respond and
# _write; a die that happens before the response started reaches .NET, which answers 500. Returns 1
# when the app set psgix.harakiri.commit (the server then replaces this interpreter).
sub handle { return _serve(undef, @_) }

# The same with the SDK on: the .NET half begins the request's transaction (named, continuing the
# incoming trace, the request on its scope: _begin) and finishes it with the response's status (_end),
# as Plack::Middleware::Sentry does under other servers, from inside this call so that its profile's
# markers are on this stack. Perl takes the transaction and the scope (engine ids) as its hub's own
# while the request runs.
sub handle_traced {
    my ($tx_id, $scope_id) = _begin();
    return _serve(undef, @_) unless defined $scope_id;   # not traced: the server said why, once
    my $hub = Sentry::Hub->get_current_hub;
    my $tx = $hub->_enter_request($tx_id, $scope_id);
    my $r;
    my $ok = eval { $r = _serve($tx, @_); 1 };
    my $err = $@;
    $hub->_leave_request($scope_id);
    _end($ok ? 1 : 0);
    die $err unless $ok;
    return $r;
}

sub _serve {
    my $tx = shift;
    my %env = (@_, %FIXED);
    $env{'psgi.input'} = bless \(my $unused), 'PerlSentry::PSGI::Input';
    my $res;
    if ($tx) {
        $env{'sentry.transaction'} = $tx;   # an app that enables Plack::Middleware::Sentry itself: it passes through
        my $ok = eval { $res = $APP->(\%env); 1 };
        if (!$ok) {
            my $err = $@;
            { local ($@, $!); eval { Sentry::SDK->capture_exception($err); 1 } }
            die $err;
        }
    }
    else {
        $res = $APP->(\%env);   # a die here was the app's: a middleware the app enabled captured it
    }
    my $ok = eval { _response($res); 1 };
    return $env{'psgix.harakiri.commit'} ? 1 : 0 if $ok;
    # A die after the app returned: in its delayed response, its body, or a response that is not PSGI,
    # or a write to a client that has gone. The request's transaction ends as cancelled or
    # internal_error (here when a Plack::Middleware::Sentry the app enabled made it; by the .NET half
    # otherwise); a client that went away is not an error to report.
    my $err = $@;
    my $gone = _gone();
    if (my $finish = $env{'sentry.finish'}) {
        local ($@, $!);
        eval { $finish->($gone ? 'cancelled' : 'internal_error'); 1 };
    }
    if ($SENTRY && !$gone) {
        local ($@, $!);
        eval {
            Sentry::SDK->capture_event({
                level       => 'error',
                transaction => "$env{REQUEST_METHOD} " . ($env{SCRIPT_NAME} . $env{PATH_INFO} || '/'),
                exception   => Sentry::Internal::_exception_payload($err),
            });
        };
    }
    die $err;
}

sub _response {
    my ($res) = @_;
    if (ref $res eq 'ARRAY') {
        _finish($res);
    }
    elsif (ref $res eq 'CODE') {
        my $responded;
        $res->(sub {
            my ($r) = @_;
            die "PSGI responder: the response must be an array reference [status, headers, body?]\n"
                unless ref $r eq 'ARRAY' && @$r >= 2;
            $responded = 1;
            return _finish($r) if @$r > 2 && defined $r->[2];
            _respond($r->[0], 0, undef, @{ $r->[1] });
            return bless { open => 1 }, 'PerlSentry::PSGI::Writer';
        });
        die "the app's delayed response never called its responder\n" unless $responded;
    }
    else {
        die "the app returned " . (defined $res ? (ref $res ? ref($res) . ' reference' : "'$res'") : 'undef')
            . ", not a PSGI response (an array reference or a code reference)\n";
    }
    return;
}

sub _finish {
    my ($r) = @_;
    my ($status, $headers, $body) = @$r;
    die "the app's response has no status and headers array\n" unless defined $status && ref $headers eq 'ARRAY';
    if (ref $body eq 'ARRAY') {
        _respond($status, 1, join('', map { defined $_ ? $_ : '' } @$body), @$headers);
        return;
    }
    die "the app's response body is neither an array nor a filehandle\n" unless ref $body;
    # A filehandle or an object with getline. The first piece is read before the headers go out, so a
    # body that dies at once is still a 500.
    my $object = Scalar::Util::blessed($body) && $body->can('getline');
    local $/ = \65536;
    my $ok = eval {
        my $next = $object ? sub { $body->getline } : sub { scalar readline $body };
        my $chunk = $next->();
        _respond($status, 0, undef, @$headers);
        while (defined $chunk) {
            _write($chunk) if length $chunk;
            $chunk = $next->();
        }
        1;
    };
    my $err = $@;
    $object ? $body->close : close $body;
    die $err unless $ok;
    return;
}

package PerlSentry::PSGI::Input;

# psgi.input: reads the request body from the connection as the app asks for it.
sub read {
    my ($self, undef, $len, $off) = @_;
    my $chunk = PerlSentry::PSGI::_read($len > 0 ? $len : 0);
    $_[1] = '' unless defined $_[1];
    $off //= 0;
    $off += length $_[1] if $off < 0;
    $_[1] .= "\0" x ($off - length $_[1]) if length $_[1] < $off;
    substr($_[1], $off) = $chunk;
    return length $chunk;
}

sub seek { return 0 }
sub close { return 1 }

package PerlSentry::PSGI::Writer;

# The writer of a streamed response (psgi.streaming).
sub write {
    my ($self, $data) = @_;
    die "PSGI writer: write after close\n" unless $self->{open};
    PerlSentry::PSGI::_write($data) if defined $data && length $data;
    return 1;
}

sub close {
    $_[0]{open} = 0;
    return 1;
}

sub poll_cb {
    my ($self, $cb) = @_;
    $cb->($self) while $self->{open};
    return;
}

1;

__END__

=head1 NAME

PerlSentry::PSGI - the Perl side of C<perl-sentry serve>

=head1 DESCRIPTION

Loads a C<.psgi> file and runs its requests for the PSGI server of C<perl-sentry serve>
(C<PerlSentry.Hosting.PsgiServer>). Not for use from Perl code.

=cut
