package PerlSentry::Client;
use strict;
use warnings;

our $VERSION = '0.1.0';

require XSLoader;
XSLoader::load('PerlSentry::Client', $VERSION);

1;

__END__

=head1 NAME

PerlSentry::Client - the engine for plain perl: a client of C<perl-sentry agent> (XS)

=head1 SYNOPSIS

    use Sentry::SDK;    # loads it when the program does not run under perl-sentry

=head1 DESCRIPTION

Under plain C<perl> there is no .NET engine in the process. This XS module, built from the same C
sources as the host's shim, gives L<Sentry::SDK> its engine calls by talking to C<perl-sentry agent>
over a Unix socket in a folder only your user can reach: calls that change state are batched and
sent by a thread of their own, calls whose answer the program needs wait for it, and the agent asks
for the program's callbacks (C<before_send>, event processors) on the same connection. The sampling
profiler runs here, in the process; its samples go to the agent in batches.

The first program that needs the agent starts it (C<perl-sentry agent --daemon>); it exits after a
minute without clients. Where it cannot be reached every SDK call still returns normally and what is
lost is counted (see L<Sentry::SDK>).

=head1 ENVIRONMENT

=over

=item PERLSENTRY_AGENT

The agent's socket. Default C<$XDG_RUNTIME_DIR/perl-sentry/agent.sock>, else
C</tmp/perl-sentry-$UID/agent.sock>.

=item PERLSENTRY_AGENT_BIN

The C<perl-sentry> program that starts the agent. Default: the one this module was built with, else
C<perl-sentry> on C<PATH>.

=back

=head2 install(\@names, $agent_command)

Defines C<Sentry::Engine::NAME> for each name (L<Sentry::Internal> does this).

=head2 default_agent

The agent command this module was built with, or C<undef>.

=cut
