use Mojo::Base -strict, -signatures;
use Test::More;
use Test::Exception;

use lib 'lib';
use Sentry::SDK;
use Sentry::Profiling;

# Test basic profiling functionality
subtest 'Basic profiling' => sub {
    my $profiler = Sentry::Profiling->new(
        enable_profiling => 1,
        profiles_sample_rate => 1.0,
    );
    
    my $profile = $profiler->start_profiler({ name => 'test-profile' });
    ok($profile, 'Started profiler');
    
    # Do some work to generate stack samples
    test_recursive_function(3);
    
    sleep(0.1);  # Allow sampling
    
    my $stopped_profile = $profiler->stop_profiler();
    ok($stopped_profile, 'Stopped profiler');
    is($stopped_profile, $profile, 'Same profile returned');
    
    ok($profile->end_time, 'Profile has end time');
    ok(@{$profile->_samples}, 'Profile has samples');
    
    my $envelope = $profile->to_envelope_item();
    ok($envelope, 'Generated envelope item');
    is($envelope->{type}, 'profile', 'Correct envelope type');
};

# Test SDK integration
subtest 'SDK integration' => sub {
    Sentry::SDK->init({
        dsn => 'https://test@sentry.io/1',
        enable_profiling => 1,
        profiles_sample_rate => 1.0,
    });
    
    my $profile = Sentry::SDK->start_profiler({ name => 'sdk-test' });
    ok($profile, 'SDK started profiler');
    
    test_recursive_function(2);
    
    my $stopped = Sentry::SDK->stop_profiler();
    ok($stopped, 'SDK stopped profiler');
};

# Test transaction integration
subtest 'Transaction integration' => sub {
    Sentry::SDK->init({
        dsn => 'https://test@sentry.io/1',
        enable_profiling => 1,
        profiles_sample_rate => 1.0,
        profile_lifecycle => 'trace',
    });
    
    my $transaction = Sentry::SDK->start_transaction({
        name => 'test-transaction',
        op => 'test',
    });
    
    # Profiling should start automatically
    my $profiler = Sentry::SDK->get_profiler();
    ok($profiler->_active_profile, 'Profiling started with transaction');
    
    test_recursive_function(2);
    
    $transaction->finish();
    
    # Profiling should stop automatically
    ok(!$profiler->_active_profile, 'Profiling stopped with transaction');
};

# Helper function to generate stack samples
sub test_recursive_function ($depth) {
    return 1 if $depth <= 0;
    sleep(0.01);  # Allow sampling
    return test_recursive_function($depth - 1) + 1;
}

done_testing();
