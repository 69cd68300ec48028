$| = 1;
print "to stdout 1\n";
print STDERR "to stderr 1\n";
printf "%s %d\n", "formatted", 42;
print STDERR "to stderr 2\n";
