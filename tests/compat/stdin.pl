# stdin: first line\nsecond line\n
while (my $line = <STDIN>) { print "got: ", uc $line }
print "eof\n";
