print "before\n";
sub inner { die "boom in inner" }
inner();
print "not reached\n";
