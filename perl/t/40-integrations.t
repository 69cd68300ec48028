# The integrations, against real libraries and a real HTTP server on 127.0.0.1: DBI (loaded after
# init) and the three HTTP clients get spans, breadcrumbs and trace headers, never toward Sentry
# itself; an uncaught die is a fatal event and the program still dies as perl makes it; all of it
# can be turned off.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP ();
use Sentry::SDK;
use FindBin;
use lib "$FindBin::Bin/lib";
use PerlSentry::TestEngine;

# The HTTP clients are loaded before init (patched at once); DBI only after it (patched when loaded).
for my $m (qw(HTTP::Tiny LWP::UserAgent Mojo::UserAgent)) {
    plan skip_all => "$m is not installed (build.sh installs it)" unless eval "require $m; 1";
}
plan skip_all => 'DBD::SQLite is not installed (build.sh installs it)' if system($^X, '-MDBD::SQLite', '-e', '1') != 0;
ok !$INC{'DBI.pm'}, 'DBI is not loaded yet';

# A server that answers 200 to everything and writes each request's first line and headers to a file.
my $dir = tempdir(CLEANUP => 1);
my $log = "$dir/requests.log";
my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 20, ReuseAddr => 1) or die $!;
my $port = $listen->sockport;
my $server = fork // die $!;
if (!$server) {
    while (my $c = $listen->accept) {
        my ($head, $len) = ('', 0);
        while (defined(my $line = <$c>)) { $head .= $line; $len = $1 if $line =~ /^content-length:\s*(\d+)/i; last if $line =~ /^\r?\n\z/ }
        read $c, my $body, $len if $len;
        open my $fh, '>>', $log or die $!; print $fh $head, "--\n"; close $fh;
        print $c "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
        close $c;
    }
    POSIX::_exit(0);
}
close $listen;
END { kill 'TERM', $server if $server }
require POSIX;

my $envelopes = "$dir/envelopes";
# The DSN names the same server as "localhost": the SDK's own sending there, and the program's
# requests to that host, carry no trace header; the program's requests to 127.0.0.1 do.
Sentry::SDK->init({ dsn => "http://key\@localhost:$port/1", envelope_dir => $envelopes, cache_dir => '',
                    traces_sample_rate => 1.0 });

# The first item's payload of each envelope file in $folder, in file order; the files go with $take.
sub first_payloads {
    my ($folder, $take) = @_;
    my @out;
    for my $f (sort glob "$folder/*.envelope") {
        open my $fh, '<:raw', $f or die $!;
        my (undef, undef, $p) = split /\n/, do { local $/; <$fh> };
        push @out, JSON::PP::decode_json($p);
        unlink $f if $take;
    }
    return @out;
}

sub payloads {
    Sentry::SDK->flush(10);
    return first_payloads($envelopes, 1);
}

sub requests {
    open my $fh, '<', $log or return ();
    my @r = split /^--\n/m, do { local $/; <$fh> };
    truncate $log, 0;
    return @r;
}

subtest 'DBI loaded after init: a span per statement, the SQL as a breadcrumb' => sub {
    require DBI;
    my $dbh = DBI->connect('dbi:SQLite:dbname=:memory:', '', '', { RaiseError => 1 });
    my $tx = Sentry::SDK->start_transaction({ name => 'db work', op => 'task' });
    Sentry::SDK->configure_scope(sub { $_[0]->set_span($tx) });
    $dbh->do('CREATE TABLE t (n INTEGER)');
    my $sth = $dbh->prepare('INSERT INTO t (n) VALUES (?)');
    $sth->execute($_) for 1 .. 3;
    my ($count) = $dbh->selectrow_array('SELECT count(*) FROM t');
    is $count, 3, 'the statements did what they do';
    like $INC{'DBI.pm'}, qr{/DBI\.pm\z}, '%INC says where DBI came from, as without the SDK';
    $tx->finish;
    Sentry::SDK->configure_scope(sub { $_[0]->set_span(undef) });
    Sentry::SDK->capture_message('after the queries');
    my ($txp, $event) = payloads();
    my @sql = map { $_->{description} } grep { $_->{op} eq 'db.sql.query' } @{ $txp->{spans} };
    is_deeply \@sql, ['CREATE TABLE t (n INTEGER)', ('INSERT INTO t (n) VALUES (?)') x 3, 'SELECT count(*) FROM t'],
        'one span per statement, none twice';
    is $txp->{spans}[0]{data}{'db.system'}, 'sqlite';
    my @crumbs = map { $_->{message} } grep { ($_->{category} // '') eq 'query' } @{ $event->{breadcrumbs}{values} };
    is scalar @crumbs, 5, 'and a breadcrumb each';
};

subtest 'HTTP::Tiny, LWP::UserAgent, Mojo::UserAgent: span, breadcrumb, trace headers' => sub {
    requests();
    my $tx = Sentry::SDK->start_transaction({ name => 'calls', op => 'task' });
    Sentry::SDK->configure_scope(sub { $_[0]->set_span($tx) });
    is HTTP::Tiny->new->get("http://127.0.0.1:$port/tiny")->{status}, 200;
    is LWP::UserAgent->new->get("http://127.0.0.1:$port/lwp")->code, 200;
    is Mojo::UserAgent->new->get("http://127.0.0.1:$port/mojo")->result->code, 200;
    $tx->finish;
    Sentry::SDK->configure_scope(sub { $_[0]->set_span(undef) });
    my @got = grep { m{^GET /(tiny|lwp|mojo) } } requests();
    is scalar @got, 3, 'three requests arrived';
    for my $r (@got) {
        my ($path) = $r =~ m{^GET /(\w+)};
        like $r, qr/^sentry-trace: \Q@{[ $tx->trace_id ]}\E-[0-9a-f]{16}-1\r?$/mi, "$path: sentry-trace of the transaction's trace";
        like $r, qr/^baggage: .*sentry-trace_id=\Q@{[ $tx->trace_id ]}\E/mi, "$path: baggage";
    }
    Sentry::SDK->capture_message('after the calls');
    my @p = payloads();
    my ($txp) = grep { ($_->{type} // '') eq 'transaction' } @p;
    my ($event) = grep { !$_->{type} } @p;
    my @spans = grep { $_->{op} eq 'http.client' } @{ $txp->{spans} };
    is_deeply [sort map { $_->{description} } @spans], [map { "GET http://127.0.0.1:$port/$_" } qw(lwp mojo tiny)], 'a span per request';
    is_deeply [map { [$_->{status}, $_->{data}{'http.response.status_code'}] } @spans], [(['ok', 200]) x 3], 'with its status'
        or diag explain \@spans;
    my @crumbs = grep { ($_->{category} // '') eq 'http' } @{ $event->{breadcrumbs}{values} };
    is scalar @crumbs, 3, 'a breadcrumb each';
    is $crumbs[0]{data}{status_code}, 200;
};

subtest 'outside a transaction: headers of the scope\'s trace, no span; nothing toward Sentry itself' => sub {
    requests();
    HTTP::Tiny->new->get("http://127.0.0.1:$port/plain");
    HTTP::Tiny->new->post("http://localhost:$port/api/1/envelope/", { content => '{}' });
    Sentry::SDK->capture_message('sent to the DSN');
    Sentry::SDK->flush(10);
    my @r = requests();
    my ($plain) = grep { m{^GET /plain} } @r;
    like $plain, qr/^sentry-trace: [0-9a-f]{32}-[0-9a-f]{16}\r?$/mi, 'the propagation context\'s trace, no sampling flag';
    my @to_sentry = grep { m{^POST /api/1/envelope/} } @r;
    cmp_ok scalar @to_sentry, '>=', 2, 'the program\'s own post and the SDK\'s envelope reached the DSN host';
    unlike $_, qr/^(?:sentry-trace|baggage):/mi, 'with no trace headers' for @to_sentry;
    payloads();
};

sub run_child {
    my ($code, @prefix) = @_;
    my $script = "$dir/child.pl";
    open my $fh, '>', $script or die $!;
    print $fh $code;
    close $fh;
    system(@prefix, $script);
    my $status = $? >> 8;
    return $status;
}

$ENV{PERLSENTRY_AGENT_BIN} = $ENV{PERLSENTRY_CLI} if $ENV{PERLSENTRY_CLI} && !$ENV{PERLSENTRY_AGENT_BIN};   # children under plain perl

subtest 'an uncaught die is a fatal event; the program dies as perl makes it' => sub {
    my @ways = (['plain perl', $^X, (map { "-I$_" } grep { !ref } @INC)]);
    push @ways, ['perl-sentry run', $ENV{PERLSENTRY_CLI}, 'run'] if $ENV{PERLSENTRY_CLI} && -x $ENV{PERLSENTRY_CLI};
    for my $way (@ways) {
        my ($name, @prefix) = @$way;
        my $out = "$dir/die-$name";
        $out =~ s/ /-/g;
        my $status = run_child(<<"PERL", @prefix);
use Sentry::SDK;
Sentry::SDK->init({ envelope_dir => '$out', cache_dir => '' });
local \$SIG{__WARN__} = sub {};
eval { die "caught, not sent\\n" };
print STDERR "after eval: \$@";
die "boom at the top\\n";
PERL
        is $status, 255, "$name: exit status 255, as perl";
        my @events = first_payloads($out);
        is scalar @events, 1, "$name: one event, the uncaught die only";
        is $events[0]{level}, 'fatal', "$name: fatal";
        is $events[0]{exception}{values}[0]{value}, 'boom at the top';
        ok !$events[0]{exception}{values}[0]{mechanism}{handled}, 'not handled';
    }
};

subtest 'default_integrations => 0: none of them (in a process of its own: patches are process-wide)' => sub {
    requests();
    my $status = run_child(<<"PERL", $^X, (map { "-I$_" } grep { !ref } @INC));
use Sentry::SDK;
use HTTP::Tiny;
Sentry::SDK->init({ envelope_dir => '$dir/off', cache_dir => '', traces_sample_rate => 1.0, default_integrations => 0 });
my \$tx = Sentry::SDK->start_transaction({ name => 'off', op => 'task' });
Sentry::SDK->configure_scope(sub { \$_[0]->set_span(\$tx) });
HTTP::Tiny->new->get("http://127.0.0.1:$port/off");
\$tx->finish;
local \$SIG{__WARN__} = sub {};
die "not captured\\n";
PERL
    is $status, 255, 'the die is perl\'s';
    my ($off) = grep { m{^GET /off} } requests();
    ok $off, 'the request went out';
    unlike $off // '', qr/^sentry-trace:/mi, 'without trace headers';
    my @types;
    for my $e (first_payloads("$dir/off")) {
        push @types, $e->{type} // 'event';
        is scalar(grep { $_->{op} eq 'http.client' } @{ $e->{spans} // [] }), 0, 'no http span' if $e->{type};
    }
    is_deeply \@types, ['transaction'], 'the transaction only: no fatal event';
};

done_testing;
