use Time::HiRes qw(time);
my $t0 = time;
my $r = eval {
    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm 1;
    sleep 5;
    alarm 0;
    "finished";
};
my $took = time - $t0;
print "result: ", ($r // "undef"), ", error: ", ($@ || "none");
print "took about one second\n" if $took > 0.8 && $took < 3;
