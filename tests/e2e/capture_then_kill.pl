use strict;
use warnings;
use Sentry::SDK;

Sentry::SDK->init({});
Sentry::SDK->capture_message('sent before kill -9');
Sentry::SDK->flush(0.2);
kill KILL => $$;
