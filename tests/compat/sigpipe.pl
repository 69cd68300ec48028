$| = 1;
open(my $fh, '|-', 'head', '-n1') or die "open: $!";
print $fh "line $_\n" for 1 .. 5;
close $fh;
print "closed pipe, status ", $? >> 8, "\n";
my $out = `yes 2>&1 | head -n 2`;
print "yes|head: $out";
