package Sentry::Hub::Scope;
use strict;
use warnings;
use Sentry::Scope;

our $VERSION = '0.1.0';
our @ISA = ('Sentry::Scope');

sub new { Sentry::Scope->new }

1;

__END__

=head1 NAME

Sentry::Hub::Scope - the CPAN Sentry::SDK's name for L<Sentry::Scope>

=head1 SYNOPSIS

  my $scope = Sentry::Hub::Scope->new;

=head1 DESCRIPTION

Scripts written for the CPAN SDK refer to this class; it creates L<Sentry::Scope> objects.

=head2 new

=cut
