use strict;
use warnings;
use Test::More;
use Config;
use File::Temp qw(tempdir);
use File::Spec;
use Sentry::SDK;
use FindBin;
use lib "$FindBin::Bin/lib";
use PerlSentry::TestEngine;   # skips, saying why, where no engine can answer

# The SDK never breaks the program it watches: a forked child of the host reaches the engine as
# a client of the agent; where no engine answers (no agent, an ithread) every call still returns
# normally and losses are counted; callbacks cannot recurse or wedge the program; $@ and $! are
# the program's.

my $dir = tempdir(CLEANUP => 1);
my $agent_dir = tempdir(CLEANUP => 1);
chmod 0700, $agent_dir;
# A private agent for this test (started by the first child that needs it); it goes when idle.
$ENV{PERLSENTRY_AGENT} = "$agent_dir/agent.sock";
Sentry::SDK->init({ envelope_dir => $dir, cache_dir => '', traces_sample_rate => 1.0, profiles_sample_rate => 1.0 });

# Every public call a program makes, with the values it would use; returns what it saw.
sub exercise {
    my ($envelopes) = @_;
    my @seen;
    Sentry::SDK->init({ traces_sample_rate => 1.0, cache_dir => '', ($envelopes ? (envelope_dir => $envelopes) : ()) });
    Sentry::SDK->add_breadcrumb({ message => 'crumb' });
    Sentry::SDK->configure_scope(sub { $_[0]->set_tag(a => 1)->set_user({ id => 1 })->set_extra(x => [1]) });
    my $hub = Sentry::Hub->get_current_hub;
    push @seen, $hub->with_scope(sub { $_[0]->set_tag(b => 2); 'scoped' });
    my $tx = Sentry::SDK->start_transaction({ name => 'work', op => 'task' });
    my $span = $tx->start_child({ op => 'db', description => 'q' });
    $span->set_tag(t => 1)->set_data(d => 2)->set_status('ok');
    my $grandchild = $span->start_child({ op => 'inner' });
    $grandchild->finish;
    $span->finish;
    push @seen, defined $tx->to_trace_parent ? 'traceparent' : 'no-traceparent';
    $tx->set_http_status(200);
    $tx->name('renamed');
    Sentry::SDK->configure_scope(sub { $_[0]->set_span($tx) });
    push @seen, ref($hub->get_current_scope->get_span) ? 'span' : 'no-span';
    $tx->finish;
    Sentry::SDK->capture_message('hello', 'warning');
    eval { die "boom\n" };
    Sentry::SDK->capture_exception($@);
    push @seen, 'errsv=' . ($@ =~ s/\n\z//r);
    Sentry::SDK->capture_event({ message => { formatted => 'raw' } });
    push @seen, Sentry::SDK->profile('block', sub { 42 });
    my $p = Sentry::SDK->start_profiler({ name => 'manual' });
    Sentry::SDK->stop_profiler;
    my $profiler = Sentry::Profiling->new(enable_profiling => 1);
    push @seen, $profiler->mode;
    Sentry::SDK->flush(1);
    push @seen, 'end';
    return join ',', map { defined $_ ? $_ : 'undef' } @seen;
}

sub in_child {
    my ($code) = @_;
    pipe(my $r, my $w) or die "pipe: $!";
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        close $r;
        my $seen = eval { $code->() } // "died: $@";
        my $lost = Sentry::Internal::Null::lost();
        print {$w} "$seen|", join(',', map { "$_=$lost->{$_}" } sort keys %$lost), "\n";
        close $w;
        exit 3;
    }
    close $w;
    my $line = <$r>;
    waitpid $pid, 0;
    chomp $line if defined $line;
    return ($? >> 8, split /\|/, $line // '', -1);
}

sub envelope_items {
    my ($from) = @_;
    my %n;
    for my $f (glob "$from/*.envelope") {
        open my $fh, '<:raw', $f or die $!;
        local $/;
        my $data = <$fh>;
        $n{$1}++ while $data =~ /\{"type":"(\w+)","length"/g;
    }
    return \%n;
}

subtest 'a forked child of the host continues as a client of the agent: every call works, its status is its own' => sub {
    plan skip_all => 'host not found' unless $ENV{PERLSENTRY_CLI};
    local $ENV{PERLSENTRY_AGENT_BIN} = $ENV{PERLSENTRY_CLI};
    my $out = tempdir(CLEANUP => 1);
    my ($rc, $seen, $lost) = in_child(sub { exercise($out) });
    is $rc, 3, 'the child exits with its own status';
    is $seen, "scoped,traceparent,span,errsv=boom,42,transaction,end", 'every call returned, with the engine\'s values';
    is $lost, '', 'nothing lost';
    my $items = envelope_items($out);
    is $items->{event}, 3, 'the child\'s three events arrived';
    ok $items->{transaction} >= 1, 'and its transactions';
};

subtest 'a forked child that cannot reach the agent: every call returns, the loss is counted, one warning names what to fix' => sub {
    local $ENV{PERLSENTRY_AGENT_BIN} = '/nonexistent/perl-sentry';
    local $ENV{PERLSENTRY_AGENT} = "$agent_dir/none.sock";
    open my $saved, '>&', \*STDERR or die $!;
    my $err_file = "$agent_dir/stderr.txt";
    open STDERR, '>', $err_file or die $!;
    my ($rc, $seen, $lost) = in_child(sub { exercise() });
    open STDERR, '>&', $saved or die $!;
    is $rc, 3, 'the child exits with its own status';
    is $seen, "scoped,traceparent,no-span,errsv=boom,42,off,end", 'every call returned, with usable values';
    like $lost, qr/error=3/, 'three errors counted as lost';
    like $lost, qr/transaction=\d/, 'transactions counted as lost';
    my $err = do { local (@ARGV, $/) = $err_file; <> };
    my @warnings = $err =~ /^Sentry::SDK: .*$/mg;
    is scalar @warnings, 1, 'one warning' or diag $err;
    like $warnings[0], qr{/nonexistent/perl-sentry is not an executable program: install perl-sentry on PATH or set PERLSENTRY_AGENT_BIN},
        'it names what to fix';
};

subtest 'ithreads: each thread is a session of its own, every call works' => sub {
    plan skip_all => 'perl without ithreads' unless $Config{useithreads};
    plan skip_all => 'host not found' unless $ENV{PERLSENTRY_CLI};
    local $ENV{PERLSENTRY_AGENT_BIN} = $ENV{PERLSENTRY_CLI};
    require threads;
    my $out = tempdir(CLEANUP => 1);
    my @threads = map { threads->create(sub { exercise($out) }) } 1 .. 4;
    my @results = map { $_->join } @threads;
    is scalar(grep { $_ eq "scoped,traceparent,span,errsv=boom,42,transaction,end" } @results), 4, 'four threads finished normally'
        or diag explain \@results;
    my $items = envelope_items($out);
    is $items->{event}, 12, 'three events from each thread arrived';
};

subtest '$@ and $! are left as they were' => sub {
    Sentry::SDK->init({ envelope_dir => $dir, cache_dir => '', traces_sample_rate => 1.0,
                        before_send => sub { eval { die "inner\n" }; $! = 5; $_[0] } });
    eval { die "boom\n" };
    Sentry::SDK->capture_exception($@);
    is $@, "boom\n", 'capture_exception($@) leaves $@ (die $@ rethrows the same error)';
    $! = 2;
    Sentry::SDK->capture_message('x');
    is $! + 0, 2, '$! survives a capture whose callback changed it';
    $@ = 'kept';
    my $tx = Sentry::SDK->start_transaction({ name => 'errsv' });
    $tx->finish;
    is $@, 'kept', 'start_transaction and finish leave $@';
    my $r = Sentry::SDK->profile(p => sub { eval { die "in block\n" }; 5 });
    is $r, 5, 'profile returns the value';
    is $@, "in block\n", 'and $@ is what the block left, as a plain call would';
};

subtest 'callbacks that recurse into the SDK are refused, the outer capture goes on' => sub {
    my $calls = 0;
    Sentry::SDK->init({ envelope_dir => $dir, cache_dir => '', traces_sample_rate => 1.0,
                        before_send => sub { $calls++; Sentry::SDK->capture_message('inner'); $_[0] },
                        traces_sampler => sub { Sentry::SDK->start_transaction({ name => 'nested' })->finish; 1 } });
    my $id = Sentry::SDK->capture_message('outer');
    like $id, qr/\A[0-9a-f]{32}\z/, 'the outer event is captured';
    is $calls, 1, 'before_send ran once';
    my $tx = Sentry::SDK->start_transaction({ name => 'outer-tx' });
    ok $tx->sampled, 'the outer transaction is sampled by traces_sampler';
    $tx->finish;
    Sentry::SDK->flush(2);
    my @files = glob "$dir/*.envelope";
    my $all = join '', map { local (@ARGV, $/) = $_; <> } @files;
    like $all, qr/"formatted":"outer"/, 'outer sent';
    unlike $all, qr/"formatted":"inner"/, 'inner refused';
    unlike $all, qr/"transaction":"nested"/, 'nested transaction refused';
    unlink @files;
};

# A script run as its own program (perl-sentry run, and plain perl): status and output.
my ($host) = grep { defined && -x } $ENV{PERLSENTRY_CLI},
    File::Spec->catfile((File::Spec->splitpath($INC{'Sentry/SDK.pm'}))[1], File::Spec->updir, File::Spec->updir, File::Spec->updir, 'perl-sentry');
my ($lib) = map { File::Spec->rel2abs(File::Spec->catdir((File::Spec->splitpath($_))[1], File::Spec->updir)) } $INC{'Sentry/SDK.pm'};

sub run_script {
    my ($cmd, $code) = @_;
    my $script = File::Spec->catfile($dir, 'script.pl');
    open my $fh, '>', $script or die $!;
    print {$fh} $code;
    close $fh;
    my $out = `$cmd $script 2>&1`;
    return ($? >> 8, $out);
}

subtest 'exit inside a callback ends the program with that status' => sub {
    # Under the host the callback runs in-process; under plain perl the agent asks for it.
    my @ways = (($host ? ["perl-sentry run", "$host run"] : ()),
                (PerlSentry::TestEngine::agent_command() ? ["plain perl, through the agent", "$^X -I$lib"] : ()));
    plan skip_all => 'neither the host nor the agent found' unless @ways;
    for my $way (@ways) {
        my ($name, $cmd) = @$way;
        local $ENV{PERLSENTRY_AGENT_BIN} = PerlSentry::TestEngine::agent_command() // '';
        my ($rc, $out) = run_script($cmd,
            "use Sentry::SDK; Sentry::SDK->init({ envelope_dir => '$dir', before_send => sub { exit 7 } });\n"
          . "END { print \"end ran\\n\" } Sentry::SDK->capture_message('x'); print \"not reached\\n\";\n");
        is $rc, 7, "$name: exit status 7";
        like $out, qr/end ran/, "$name: END blocks ran";
        unlike $out, qr/not reached|panic|Unhandled/, "$name: nothing after the exit, no panic";
    }
};

subtest 'an ithread of a hosted program that loads the SDK first: it loads and every call returns' => sub {
    plan skip_all => 'perl without ithreads' unless $Config{useithreads};
    plan skip_all => 'host not found' unless $host;
    local $ENV{PERLSENTRY_AGENT_BIN} = PerlSentry::TestEngine::agent_command() // '';
    # The host's subs cannot be called from a clone: loading the SDK there must not call them unguarded.
    my ($rc, $out) = run_script("$host run", <<"EOF");
use threads;
my \$r = threads->create(sub {
    my \$ok = eval { require Sentry::SDK; Sentry::SDK->init({ envelope_dir => '$dir', cache_dir => '' }); Sentry::SDK->capture_message('t'); 1 };
    \$ok ? 'loaded' : "died: \$@";
})->join;
print "thread=\$r\n";
# PerlSentry's answers ask the host's subs: in a clone they are undef, not a croak.
require PerlSentry;
print "in-thread=", threads->create(sub {
    my \$r = eval { join ',', PerlSentry::is_hosted(), PerlSentry::engine_version() // 'undef', PerlSentry::runtime() // 'undef' };
    defined \$r ? \$r : "died: \$@";
})->join, "\n";
print "main=", PerlSentry::is_hosted(), "\n";
EOF
    is $rc, 0, 'exit status 0';
    like $out, qr/^thread=loaded$/m, 'the thread loaded the SDK and called it' or diag $out;
    like $out, qr/^in-thread=0,undef,undef$/m, 'PerlSentry in the thread: not hosted, undef answers, no croak' or diag $out;
    like $out, qr/^main=1$/m, 'the main interpreter is hosted' or diag $out;
};

subtest 'plain perl without the XS client: every call returns, one warning' => sub {
    my ($rc, $out) = run_script("$^X -I$lib -I" . File::Spec->rel2abs('perl/t/lib') . " -MPerlSentry::NoClient", <<'EOF');
use strict; use warnings; use Sentry::SDK;
Sentry::SDK->init({ traces_sample_rate => 1.0 });
my $tx = Sentry::SDK->start_transaction({ name => 'x' });
$tx->start_child({ op => 'y' })->finish;
$tx->finish;
Sentry::SDK->capture_message('m');
eval { die "e\n" }; Sentry::SDK->capture_exception($@); print "errsv=$@";
my $pid = fork; if (!$pid) { Sentry::SDK->capture_message('child'); exit 4 } waitpid $pid, 0;
print "child=", $? >> 8, " lost=", Sentry::Internal::Null::lost()->{error}, "\n";
EOF
    is $rc, 0, 'exit status 0';
    like $out, qr/errsv=e\nchild=4 lost=2/, 'output as without the SDK, losses counted';
    my @warnings = $out =~ /^Sentry::SDK: .*$/mg;
    is scalar @warnings, 1, 'one warning in all (the child inherits it)' or diag $out;
    like $warnings[0], qr/PerlSentry::Client is not installed/, 'it says what is missing';
};

done_testing;
