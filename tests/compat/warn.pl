use warnings;
warn "plain warning\n";
warn "warning with location";
my $x; my $y = "a" . $x;
local $SIG{__WARN__} = sub { print "handler got: $_[0]" };
warn "to handler\n";
