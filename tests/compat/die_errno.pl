$! = 2;
die "with errno\n";
