use strict;
use warnings;
use Test::More;

use_ok('PerlSentry');
use_ok('Sentry::SDK');
unless (PerlSentry::is_hosted()) {
    note 'the rest is about the host: prove --exec "perl-sentry run" perl/t';
    done_testing;
    exit 0;
}
ok(PerlSentry::is_hosted(), 'the test runs under the PerlSentry host');
like(PerlSentry::engine_version(), qr/^\d+\.\d+\.\d+$/, 'engine version');
like(PerlSentry::runtime(), qr/\.NET/, 'runtime description');

done_testing;
