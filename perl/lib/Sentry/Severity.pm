package Sentry::Severity;
use strict;
use warnings;

our $VERSION = '0.1.0';

sub Fatal   {'fatal'}
sub Error   {'error'}
sub Warning {'warning'}
sub Log     {'log'}
sub Info    {'info'}
sub Debug   {'debug'}

1;

__END__

=head1 NAME

Sentry::Severity - event levels, as in the CPAN Sentry::SDK

=head1 SYNOPSIS

  Sentry::SDK->capture_message('disk almost full', Sentry::Severity->Warning);

=head1 DESCRIPTION

Class methods returning Sentry's level names.

=head2 Fatal, Error, Warning, Log, Info, Debug

Return C<fatal>, C<error>, C<warning>, C<log>, C<info> and C<debug>.

=cut
