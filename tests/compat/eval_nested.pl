my $r = eval { eval { die "inner\n" }; print "inner caught: $@"; die "outer\n"; 1 };
print "outer caught: $@";
my $v = eval "1 +"; print "syntax error caught: ", ($@ =~ /syntax error/ ? "yes" : "no"), "\n";
local $@;
print "string eval value: ", eval "6 * 7", "\n";
