END { print "END 1 (runs last), \$?=$?\n" }
END { print "END 2 (runs first)\n"; $? = 3 }
print "main body\n";
exit 0;
