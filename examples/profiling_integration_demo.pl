#!/usr/bin/env perl
# The seed plan's transaction-integration demo: a request-like transaction with spans, an error
# captured inside it, and the profile sent in the same envelope, linked by event id and trace id.
#   perl-sentry run examples/profiling_integration_demo.pl            (envelopes to ./sentry-envelopes)
#   SENTRY_DSN=... perl-sentry run examples/profiling_integration_demo.pl
use strict;
use warnings;
use feature 'say';
use Sentry::SDK;

Sentry::SDK->init({
    dsn                  => $ENV{SENTRY_DSN},
    envelope_dir         => $ENV{SENTRY_DSN} ? undef : ($ENV{PERLSENTRY_ENVELOPE_DIR} || 'sentry-envelopes'),
    release              => 'integration-demo@1.0',
    traces_sample_rate   => 1.0,
    profiles_sample_rate => 1.0,
});

# An incoming request that continues the caller's trace.
my %headers = ('sentry-trace' => '0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1');
my $tx = Sentry::SDK->start_transaction(
    Sentry::Tracing::Transaction->continue_from_headers(\%headers, { name => 'GET /orders', op => 'http.server', source => 'route' }));
Sentry::SDK->configure_scope(sub { $_[0]->set_span($tx)->set_tag(customer => 'acme') });

my $db = $tx->start_child({ op => 'db.sql.query', description => 'SELECT * FROM orders' });
my @orders = map { { id => $_, total => fib(18 + $_ % 3) } } 1 .. 40;
$db->set_data(rows => scalar @orders)->finish;

my $render = $tx->start_child({ op => 'template.render', description => 'orders.html' });
my $html = join '', map { "<li>$_->{id}: $_->{total}</li>" } @orders;
eval { die "currency service unavailable\n" };
Sentry::SDK->capture_exception($@) if $@;
$render->finish;

$tx->set_http_status(200);
$tx->finish;
say "trace ", $tx->trace_id, ": transaction ", $tx->event_id, " with profile ", $tx->profile_id // 'none';
say "outgoing headers: sentry-trace: ", $tx->to_trace_parent, "; baggage: ", $tx->to_baggage;

sub fib { my $n = shift; $n < 2 ? $n : fib($n - 1) + fib($n - 2) }
