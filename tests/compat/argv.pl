# args: one "two words" -x --flag ümlaut
print "0=$0\n";
print scalar(@ARGV), " args\n";
print "[$_]\n" for @ARGV;
