# switches: -Ilib-dir-that-does-not-exist -MPOSIX=floor -MList::Util=sum
print "floor: ", floor(2.5), " sum: ", sum(1, 2, 3), "\n";
print "inc first: $INC[0]\n";
