package Mojolicious::Plugin::SentrySDK;
use Mojo::Base 'Mojolicious::Plugin::Sentry';

our $VERSION = '0.1.0';

1;

__END__

=head1 NAME

Mojolicious::Plugin::SentrySDK - the CPAN Sentry::SDK's plugin name for L<Mojolicious::Plugin::Sentry>

=head1 SYNOPSIS

  plugin SentrySDK => { dsn => $ENV{SENTRY_DSN}, traces_sample_rate => 1.0 };

=head1 DESCRIPTION

The same plugin under the name the CPAN Sentry::SDK gives it, taking the same options (those of
C<< Sentry::SDK->init >>), so applications written for it run unchanged.

=cut
