# A script written for the CPAN Sentry::SDK's public API (plus a profile block).
use strict;
use warnings;
use Sentry::SDK;

Sentry::SDK->init({
    # dsn comes from SENTRY_DSN, as the CPAN SDK reads it
    release              => 'shop@1.0.0',
    environment          => 'test',
    traces_sample_rate   => 1.0,
    profiles_sample_rate => 1.0,
    shutdown_timeout     => $ENV{SHUTDOWN_TIMEOUT} // 5,
});

Sentry::SDK->add_breadcrumb({ category => 'auth', message => 'user logged in', level => 'info' });
Sentry::SDK->configure_scope(sub {
    my ($scope) = @_;
    $scope->set_tag(shop => 'eu-1');
    $scope->set_user({ id => 42, email => 'jane@example.com' });
});

my $tx = Sentry::SDK->start_transaction({ name => 'process-orders', op => 'task' });
Sentry::SDK->configure_scope(sub { $_[0]->set_span($tx) });

sub load_orders { my $n = 0; $n += $_ % 7 for 1 .. 2_000_000; return $n }
sub price { my ($n) = @_; my $t = 0; $t += sqrt($_) for 1 .. $n; return $t }

my $span = $tx->start_child({ op => 'db.query', description => 'SELECT * FROM orders' });
my $orders = load_orders();
$span->finish;
my $child = $tx->start_child({ op => 'compute', description => 'pricing' });
price(1_500_000);
$child->finish;

eval { die "payment gateway timed out\n" };
Sentry::SDK->capture_exception($@) if $@;
Sentry::SDK->capture_message('orders processed', 'info');

$tx->set_http_status(200);
$tx->finish;

my $total = Sentry::SDK->profile('nightly-report', sub { price(200_000) });
print "done $orders\n";
