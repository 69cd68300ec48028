use warnings;
print "\x{263A}\n";
