use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP ();
use Sentry::SDK;
use FindBin;
use lib "$FindBin::Bin/lib";
use PerlSentry::TestEngine;   # skips, saying why, where no engine can answer


my $dir = tempdir(CLEANUP => 1);
my @reports;   # client_report payloads: they ride on whichever envelope is sent next, or alone

sub envelopes {
    Sentry::SDK->flush(5);
    my @out;
    for my $f (sort glob("$dir/*.envelope")) {
        open my $fh, '<:raw', $f or die $!;
        local $/;
        my $data = <$fh>;
        my ($header, @rest) = split /\n/, $data, 2;
        my $body = $rest[0] // '';
        my @items;
        while (length $body) {
            my ($ih, $tail) = split /\n/, $body, 2;
            my $h = JSON::PP::decode_json($ih);
            push @items, { header => $h, payload => JSON::PP::decode_json(substr($tail, 0, $h->{length})) };
            $body = substr($tail, $h->{length} + 1);
        }
        push @reports, map { $_->{payload} } grep { $_->{header}{type} eq 'client_report' } @items;
        @items = grep { $_->{header}{type} ne 'client_report' } @items;
        push @out, { header => JSON::PP::decode_json($header), items => \@items } if @items;
        unlink $f;
    }
    return @out;
}

subtest 'bad options croak at init, naming the option' => sub {
    for my $case ([{ dsn => 'not-a-dsn' }, qr/option 'dsn'/],
                  [{ traces_sample_rate => 2 }, qr/traces_sample_rate.*0 to 1/],
                  [{ profile_lifecycle => 'sometimes' }, qr/'trace' or 'manual'/],
                  [{ profiles_sampler => 'yes' }, qr/profiles_sampler.*code reference/]) {
        eval { Sentry::SDK->init($case->[0]) };
        like $@, $case->[1], "croaks: $case->[1]";
        like $@, qr/at \Q$0\E line \d+/, 'from the caller';
    }
};

Sentry::SDK->init({ envelope_dir => $dir, cache_dir => '', traces_sample_rate => 1.0, profiles_sample_rate => 1.0,
                    release => 't@1', before_send => sub { my ($e) = @_; return undef if ($e->{message}{formatted} // '') eq 'secret'; $e } });

subtest 'errors, scope and breadcrumbs' => sub {
    Sentry::SDK->add_breadcrumb({ category => 'step', message => 'one' });
    Sentry::SDK->configure_scope(sub { $_[0]->set_tag(area => 'billing')->set_user({ id => 7 }) });
    my $hub = Sentry::Hub->get_current_hub;
    $hub->with_scope(sub { $_[0]->set_tag(inner => 1); Sentry::SDK->capture_message('inside', 'warning') });
    eval { die "broken\n" };
    my $id = Sentry::SDK->capture_exception($@);
    like $id, qr/\A[0-9a-f]{32}\z/, 'an event id';
    is(Sentry::SDK->capture_message('secret'), undef, 'before_send can drop');
    my @env = envelopes();
    is scalar @env, 2, 'two events sent';
    my @dropped = grep { $_->{reason} eq 'before_send' } map { @{ $_->{discarded_events} } } @reports;
    is_deeply \@dropped, [{ reason => 'before_send', category => 'error', quantity => 1 }], 'the drop is reported';
    my ($msg, $exc) = map { $_->{items}[0]{payload} } @env;
    is $msg->{level}, 'warning';
    is $msg->{tags}{inner}, 1, 'with_scope tag on the inner event';
    is $exc->{tags}{inner}, undef, 'and gone afterwards';
    is $exc->{tags}{area}, 'billing';
    is $exc->{user}{id}, 7;
    is $exc->{exception}{values}[0]{value}, 'broken';
    ok $exc->{exception}{values}[0]{stacktrace}{frames}[-1]{in_app}, 'the script frame is in_app';
    is $exc->{breadcrumbs}{values}[0]{message}, 'one';
    is $exc->{release}, 't@1';
};

subtest 'transactions with spans and their profile' => sub {
    my $tx = Sentry::SDK->start_transaction({ name => 'job', op => 'task' });
    my $span = $tx->start_child({ op => 'work', description => 'sum' });
    my $x = 0; $x += $_ for 1 .. 300_000;
    $span->set_data(n => 300_000)->finish;
    like $tx->to_trace_parent, qr/\A[0-9a-f]{32}-[0-9a-f]{16}-1\z/;
    my $client = $Sentry::Internal::CLIENT;   # plain perl: the agent decides, the client samples
    is PerlSentry::Client::_sampler_users(), 1, 'the profile holds the sampler in this process' if $client;
    $tx->finish;   # through the agent it does not wait; its release comes with the agent's acknowledgement
    my ($env) = envelopes();
    is PerlSentry::Client::_sampler_users(), 0, 'and lets it go once the agent has the profile' if $client;
    my %items = map { $_->{header}{type} => $_->{payload} } @{ $env->{items} };
    ok $items{transaction} && $items{profile}, 'transaction and profile in one envelope';
    is $items{profile}{transaction}{id}, $items{transaction}{event_id}, 'linked by event id';
    is $items{transaction}{spans}[0]{data}{n}, 300_000;
    is $items{transaction}{contexts}{profile}{profile_id}, $items{profile}{event_id};
    cmp_ok scalar @{ $items{profile}{profile}{samples} }, '>=', 2, 'the opening and closing samples at least';
};

subtest 'continued trace' => sub {
    my $tx = Sentry::SDK->start_transaction(Sentry::Tracing::Transaction->continue_from_headers(
        { 'sentry-trace' => '0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1', baggage => 'sentry-trace_id=0af7651916cd43dd8448eb211c80319c,sentry-public_key=abc,other=1' },
        { name => 'GET /x' }));
    is $tx->trace_id, '0af7651916cd43dd8448eb211c80319c';
    is $tx->parent_span_id, 'b7ad6b7169203331';
    is $tx->sampled, 1, 'inherits the decision';
    like $tx->to_baggage, qr/sentry-public_key=abc/, 'the incoming DSC is propagated';
    $tx->finish;
    envelopes();
};

subtest 'profile() returns the value in each context and rethrows' => sub {
    is scalar(Sentry::SDK->profile(p1 => sub { 42 })), 42, 'scalar';
    is_deeply [Sentry::SDK->profile(p2 => sub { (1, 2, 3) })], [1, 2, 3], 'list';
    my $died = !eval { Sentry::SDK->profile(p3 => sub { die "inner\n" }); 1 };
    ok $died, 'dies';
    is $@, "inner\n", 'with the error';
    is(Sentry::SDK->get_profiler->_active_profile, undef, 'and the profile is stopped');
    my @txs = map { $_->{items}[0]{payload} } envelopes();
    is_deeply [map { $_->{transaction} } @txs], [qw(p1 p2 p3)], 'each sent with its own transaction';
    is_deeply [map { $_->{contexts}{trace}{status} } @txs], [qw(ok ok internal_error)], 'the one whose block died is an internal_error';
};

subtest 'what events say is readable: died-with data, levels, tags and names as Perl prints them, the trace' => sub {
    { package Money; use overload '""' => sub { sprintf '%.2f EUR', $_[0]{cents} / 100 }, fallback => 1; }
    my @warnings;
    local $SIG{__WARN__} = sub { push @warnings, $_[0] };
    eval { die { code => 42, reason => 'no stock' } };
    Sentry::SDK->capture_exception($@);
    Sentry::SDK->capture_message('odd level', 'loud');
    Sentry::SDK->capture_message('odd level again', 'loud');
    Sentry::SDK->capture_message('an alias', 'warn');
    Sentry::Hub->get_current_hub->with_scope(sub {
        $_[0]->set_tag(price => bless({ cents => 1250 }, 'Money'));
        Sentry::SDK->capture_message('tagged');
    });
    my $tx = Sentry::SDK->start_transaction({ name => bless({ cents => 99 }, 'Money'), op => 'task' });
    $tx->finish;
    Sentry::SDK->capture_exception('x' x 10_000_000);
    my $eval_line = __LINE__ + 1;
    my $made = eval 'sub { Sentry::SDK->capture_exception("from eval code") }' or die $@;
    $made->();
    eval { Sentry::SDK->configure_scope(sub { $_[0]->set_level('loud') }) };
    like $@, qr/level 'loud' is not one of fatal, error, warning, info, debug/, 'set_level refuses it, naming the levels';
    my @p = map { $_->{items}[0]{payload} } envelopes();
    my ($exc, $odd, $again, $alias, $tagged, $named, $huge, $from_eval) = @p;
    my @eval_frames = @{ $from_eval->{exception}{values}[0]{stacktrace}{frames} };
    is scalar(grep { $_->{filename} =~ /\(eval/ } @eval_frames), 0, 'no frame names perl\'s eval number';
    is scalar(grep { $_->{filename} eq $0 && $_->{lineno} == $eval_line } @eval_frames), 1, 'the eval-made sub is placed where the eval ran';
    is length $huge->{exception}{values}[0]{value}, 8192, 'a 10 MB error is cut to the 8192 characters Sentry keeps';
    is $exc->{exception}{values}[0]{value}, '{"code" => 42,"reason" => "no stock"}', 'a hash died with is shown as data';
    is $odd->{level}, 'info', 'an unknown level: the default';
    is scalar(grep { /level 'loud' is not one of/ } @warnings), 1, 'said once';
    is $alias->{level}, 'warning', 'warn is warning';
    is $tagged->{tags}{price}, '12.50 EUR', 'a tag uses the overloaded ""';
    is $named->{transaction}, '0.99 EUR', 'so does a transaction name';
    like $exc->{contexts}{trace}{trace_id}, qr/\A[0-9a-f]{32}\z/, 'an error outside a transaction joins a trace';
    is $odd->{contexts}{trace}{trace_id}, $exc->{contexts}{trace}{trace_id}, 'the same one';
    my $frame = $exc->{exception}{values}[0]{stacktrace}{frames}[-1];
    like $frame->{context_line}, qr/capture_exception/, 'the frame shows its line of code';
    is scalar @{ $frame->{pre_context} }, 5, 'with five before';
    is scalar @{ $frame->{post_context} }, 5, 'and five after';
};

subtest 'profiler attributes are validated' => sub {
    my $p = Sentry::SDK->get_profiler;
    is $p->profile_lifecycle, 'trace';
    $p->profile_lifecycle('manual');
    is $p->profile_lifecycle, 'manual';
    eval { $p->profile_lifecycle('never') };
    like $@, qr/'trace' or 'manual'/;
    my $tx = Sentry::SDK->start_transaction({ name => 'not profiled' });
    ok !$p->start_transaction_profiling($tx), 'manual lifecycle: transactions are not profiled';
    $tx->finish;
    $p->profile_lifecycle('trace');
    envelopes();
};

done_testing;
