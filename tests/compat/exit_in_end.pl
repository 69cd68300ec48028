END { print "in END\n"; exit 9 }
print "main\n";
