package PerlSentry::NoClient;
# Test helper: makes PerlSentry::Client (the XS module) impossible to load, as on a machine
# where only the pure-Perl modules are installed.
unshift @INC, sub { die "Can't locate PerlSentry/Client.pm (hidden by PerlSentry::NoClient)\n" if $_[1] eq 'PerlSentry/Client.pm'; return };
1;
