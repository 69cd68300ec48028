package PerlSentry;
use strict;
use warnings;

our $VERSION = '0.1.0';

sub is_hosted { defined &PerlSentry::Host::engine_version ? 1 : 0 }

sub engine_version { is_hosted() ? PerlSentry::Host::engine_version() : undef }

sub runtime { is_hosted() ? PerlSentry::Host::runtime() : undef }

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

True when the program runs under the PerlSentry host.

=head2 engine_version

The engine's version (C<0.1.0>), or C<undef> under plain perl.

=head2 runtime

The .NET runtime's description, or C<undef> under plain perl.

=cut
