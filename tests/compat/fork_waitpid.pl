$| = 1;
my @kids;
for my $i (1 .. 3) {
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) { exit $i * 10 }
    push @kids, $pid;
}
my @st;
for my $pid (@kids) { waitpid($pid, 0); push @st, $? >> 8 }
print "children exited with @st\n";
pipe(my $r, my $w) or die;
if (my $pid = fork) { close $w; my $msg = <$r>; waitpid $pid, 0; print "parent read: $msg" }
else { close $r; print $w "hello from child\n"; close $w; exit 0 }
