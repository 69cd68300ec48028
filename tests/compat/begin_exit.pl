BEGIN { print "in BEGIN\n"; exit 4 }
print "never\n";
