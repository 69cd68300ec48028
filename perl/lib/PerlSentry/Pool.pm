package PerlSentry::Pool;
use strict;
use warnings;
use Sentry::SDK;

our $VERSION = '0.1.0';

# One call from the .NET interpreter pool (PerlSentry.Hosting.PerlPool): a transaction named after
# the sub (op perl.call), continuing the caller's trace when it gave one, in a scope of its own; a
# die is captured as an event (with the stack where it died, not where it was caught), marks the
# transaction internal_error, and goes back to .NET as it was. The .NET half begins the transaction
# (_begin: its engine ids, or nothing when it could not, said there once) and finishes it (_end), from
# inside this call so that its profile's markers are on this stack.
sub call {
    my ($sub, @args) = @_;
    # An unqualified name is main's, as perl's call_pv has it (not this package's).
    my $code = do { no strict 'refs'; my $full = $sub =~ /::/ ? $sub : "main::$sub"; defined &$full ? \&$full : undef };
    my ($tx_id, $scope_id) = _begin();
    my $hub = Sentry::Hub->get_current_hub;
    $hub->_enter_request($tx_id, $scope_id) if defined $scope_id;
    my ($result, $at_die);
    my $ok = do {
        local $SIG{__DIE__} = Sentry::Internal::PoolDie::hook(\$at_die, $SIG{__DIE__});
        eval {
            die "Undefined subroutine &$sub called\n" unless $code;
            $result = $code->(@args);
            1;
        };
    };
    my $err = $@;
    if (!$ok) {
        my $died = $at_die && (ref $err ? ref $at_die->[0] && $at_die->[0] == $err : !ref $at_die->[0] && $at_die->[0] eq $err);
        local ($@, $!);
        eval {
            if ($died && $at_die->[1]) { Sentry::SDK->capture_event({ level => 'error', exception => $at_die->[1] }) }
            else { Sentry::SDK->capture_exception($err) }
            1;
        };
    }
    if (defined $scope_id) {
        $hub->_leave_request($scope_id);
        _end($ok ? 1 : 0);
    }
    die $err unless $ok;
    return $result;
}

# The __DIE__ hook of a call: the exception as it is where the die happens (its stack then), kept
# for the call to send if the die ends it. In a Sentry:: package, so its own frame is not in the stack.
package Sentry::Internal::PoolDie;

sub hook {
    my ($slot, $previous) = @_;
    return sub {
        {
            local ($@, $!);
            $$slot = [ $_[0], eval { Sentry::Internal::_exception_payload($_[0]) } ];
        }
        goto &$previous if ref $previous eq 'CODE';
        return;
    };
}

1;

__END__

=head1 NAME

PerlSentry::Pool - what the .NET interpreter pool runs around each call

=head1 DESCRIPTION

Used by C<PerlSentry.Hosting.PerlPool> when it is given Sentry options: each call of a Perl sub from
.NET is a transaction (C<perl.call>, named after the sub) with its profile, and a C<die> is an event.
Not for use from Perl code.

=cut
