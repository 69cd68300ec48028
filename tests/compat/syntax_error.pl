print "never\n";
my $x = ;
