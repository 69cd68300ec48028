use utf8;
binmode STDOUT, ':encoding(UTF-8)';
print "héllo wörld ✓ 日本\n";
print length("日本"), " chars\n";
binmode STDOUT, ':raw';
my $bytes = "caf\xc3\xa9\n";
print $bytes;
