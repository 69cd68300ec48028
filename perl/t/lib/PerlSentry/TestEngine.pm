package PerlSentry::TestEngine;
# Test helper: skips the whole file, with the reason, when no PerlSentry engine can answer: the
# test is neither running under the host (perl-sentry run) nor able to start the agent (the XS
# module PerlSentry::Client and a runnable perl-sentry). `make test` of the CPAN dist relies on it.
use strict;
use warnings;
use File::Spec;
use Test::More ();

sub agent_command {
    if (defined $ENV{PERLSENTRY_AGENT_BIN} && length $ENV{PERLSENTRY_AGENT_BIN}) {
        return -x $ENV{PERLSENTRY_AGENT_BIN} ? $ENV{PERLSENTRY_AGENT_BIN} : undef;
    }
    my $built = defined &PerlSentry::Client::default_agent ? PerlSentry::Client::default_agent() : undef;
    return $built if defined $built && -x $built;
    for my $dir (File::Spec->path) {
        my $p = File::Spec->catfile($dir, 'perl-sentry');
        return $p if -x $p;
    }
    return undef;
}

sub why_not {
    return undef if defined &PerlSentry::Host::engine_version;   # under the host
    return 'the XS module PerlSentry::Client is not built (perl Makefile.PL && make)'
        unless eval { require PerlSentry::Client; 1 };
    return "PERLSENTRY_AGENT_BIN=$ENV{PERLSENTRY_AGENT_BIN} is not an executable program"
        if defined $ENV{PERLSENTRY_AGENT_BIN} && length $ENV{PERLSENTRY_AGENT_BIN} && !-x $ENV{PERLSENTRY_AGENT_BIN};
    return 'no PerlSentry engine: build it (./build.sh Build), put perl-sentry on PATH, or set PERLSENTRY_AGENT_BIN'
        unless defined agent_command();
    return undef;
}

sub import {
    my $why = why_not();
    Test::More::plan(skip_all => $why) if defined $why;
}

1;
