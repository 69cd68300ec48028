print "COMPAT_VAR=", ($ENV{COMPAT_VAR} // 'undef'), "\n";
$ENV{CHILD_SEES} = 'yes';
print `sh -c 'echo child sees \$CHILD_SEES'`;
