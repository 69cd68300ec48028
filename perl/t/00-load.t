use strict;
use warnings;
use Test::More;

use_ok('PerlSentry');
ok(PerlSentry::is_hosted(), 'the test runs under the PerlSentry host')
    or diag('run this suite with: prove --exec "perl-sentry run" perl/t');
like(PerlSentry::engine_version(), qr/^\d+\.\d+\.\d+$/, 'engine version');
like(PerlSentry::runtime(), qr/\.NET/, 'runtime description');

done_testing;
