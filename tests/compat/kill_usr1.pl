my $got = 0;
$SIG{USR1} = sub { $got++; print "handler ran for $_[0]\n" };
kill USR1 => $$;
my $n = 0; $n++ while !$got && $n < 1e7;   # signals are delivered at safe points
print "after kill: got=$got\n";
$SIG{USR2} = 'IGNORE';
kill USR2 => $$;
print "ignored USR2\n";
