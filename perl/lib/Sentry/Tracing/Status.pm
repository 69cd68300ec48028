package Sentry::Tracing::Status;
use strict;
use warnings;

our $VERSION = '0.1.0';

my %HTTP = (400 => 'invalid_argument', 401 => 'unauthenticated', 403 => 'permission_denied', 404 => 'not_found',
            409 => 'already_exists', 413 => 'failed_precondition', 429 => 'resource_exhausted', 499 => 'cancelled',
            501 => 'unimplemented', 503 => 'unavailable', 504 => 'deadline_exceeded');

sub from_http_code {
    my (undef, $code) = @_;
    return 'ok' if $code < 400;
    return $HTTP{$code} // ($code < 500 ? 'invalid_argument' : 'internal_error');
}

1;

__END__

=head1 NAME

Sentry::Tracing::Status - span statuses from HTTP status codes

=head1 SYNOPSIS

  my $status = Sentry::Tracing::Status->from_http_code(404);   # not_found

=head1 DESCRIPTION

=head2 from_http_code($code)

=cut
