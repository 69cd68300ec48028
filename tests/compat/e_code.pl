# e: print "from -e: @ARGV\n"; exit 5
# args: a b
