package PerlSentry;
use strict;
use warnings;

our $VERSION = '0.1.0';

# The host's subs are defined in its interpreter, and an ithread clone of it has them too, but they
# croak there (the clone is not the interpreter the engine serves): every answer is asked in an eval.
sub is_hosted { defined(_ask('engine_version')) ? 1 : 0 }

sub engine_version { _ask('engine_version') }

sub runtime { _ask('runtime') }

sub _ask {
    my ($name) = @_;
    my $code = PerlSentry::Host->can($name) or return undef;
    local ($@, $!);
    my $v = eval { $code->() };
    return $v;
}

1;

__END__

=head1 NAME

PerlSentry - what a Perl program can learn about the PerlSentry host it runs under

=head1 SYNOPSIS

    use PerlSentry;
    print "engine ", PerlSentry::engine_version(), "\n" if PerlSentry::is_hosted();

=head1 DESCRIPTION

Under C<perl-sentry run> (or any .NET program that embeds the PerlSentry engine) the engine
defines a few subs in C<PerlSentry::Host::> before the program is compiled. This module
wraps them so that code also runs, with answers of C<undef>, under plain C<perl>.

=head2 is_hosted

True when the program runs under the PerlSentry host, in the interpreter the engine serves. An
ithread or a forked child of a hosted program is not (the engine reaches it through the agent, as
under plain perl), so there C<engine_version> and C<runtime> are C<undef> too.

=head2 engine_version

The engine's version (C<0.1.0>), or C<undef> under plain perl, in an ithread and in a forked child.

=head2 runtime

The .NET runtime's description, or C<undef> under plain perl, in an ithread and in a forked child.

=cut
