package PerlSentry::Pool;
use strict;
use warnings;
use Sentry::SDK;

our $VERSION = '0.1.0';

# One call from the .NET interpreter pool (PerlSentry.Hosting.PerlPool): a transaction named after
# the sub (op perl.call), continuing the caller's trace when it gave one, in a scope of its own; a
# die is captured as an event, marks the transaction internal_error, and goes back to .NET as it was.
sub call {
    my ($sub, $trace, $baggage, @args) = @_;
    my $code = do { no strict 'refs'; defined &$sub ? \&$sub : undef };
    my $hub = Sentry::Hub->get_current_hub;
    my $tx = Sentry::SDK->start_transaction({
        name   => $sub,
        op     => 'perl.call',
        source => 'task',
        (defined $trace ? (sentry_trace => $trace, baggage => $baggage) : ()),
    });
    $hub->push_scope;
    my $scope = $hub->get_current_scope;
    $scope->set_span($tx);
    $scope->set_transaction_name($sub);
    my $result;
    my $ok = eval {
        die "Undefined subroutine &$sub called\n" unless $code;
        $result = $code->(@args);
        1;
    };
    my $err = $@;
    if (!$ok) {
        Sentry::SDK->capture_exception($err);
        $tx->set_status('internal_error');
    }
    $tx->finish;
    $hub->pop_scope;
    die $err unless $ok;
    return $result;
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
