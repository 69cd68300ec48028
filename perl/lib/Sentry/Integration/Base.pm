package Sentry::Integration::Base;
use strict;
use warnings;

our $VERSION = '0.1.0';

# An integration: new(breadcrumbs => 0|1, tracing => 0|1), both on by default.
sub new {
    my ($class, @args) = @_;
    my %attrs = @args == 1 && ref $args[0] eq 'HASH' ? %{ $args[0] } : @args;
    return bless { breadcrumbs => 1, tracing => 1, %attrs }, $class;
}

sub breadcrumbs { $_[0]{breadcrumbs} }

sub tracing { $_[0]{tracing} }

sub setup_once { die ref(shift) . " has no setup_once\n" }

1;
