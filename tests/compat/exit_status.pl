print "exiting with 42\n";
exit 42;
