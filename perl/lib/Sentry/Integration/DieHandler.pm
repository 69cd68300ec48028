package Sentry::Integration::DieHandler;
use strict;
use warnings;
use parent 'Sentry::Integration::Base';

our $VERSION = '0.1.0';

my $INSTALLED;
our $CAPTURING;

# An uncaught die (not inside any eval, not while perl compiles) is captured as a fatal event before
# the program ends; what die does, what $@ holds and the exit status stay perl's. A __DIE__ handler
# the program had is called after, as before; one it sets later replaces this one.
sub setup_once {
    my ($self) = @_;
    return if $INSTALLED++;
    my $previous = $SIG{__DIE__};
    $SIG{__DIE__} = sub {
        if (defined $^S && !$^S && !$CAPTURING) {
            local $CAPTURING = 1;
            local $Sentry::Internal::UNHANDLED = 1;   # mechanism: handled false
            my @args = @_;
            Sentry::Integration::quietly(sub {
                Sentry::SDK->capture_exception(@args == 1 ? $args[0] : join('', @args), 'fatal');
            });
        }
        if (ref $previous eq 'CODE') {
            goto &$previous;
        }
        elsif (defined $previous && !ref $previous && $previous ne '' && $previous ne 'DEFAULT' && $previous ne 'IGNORE') {
            no strict 'refs';
            my $name = $previous =~ /::/ ? $previous : "main::$previous";
            goto &$name if defined &$name;
        }
        return;
    };
    return;
}

1;

__END__

=head1 NAME

Sentry::Integration::DieHandler - an uncaught die becomes a fatal Sentry event

=cut
