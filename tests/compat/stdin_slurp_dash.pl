# stdin: alpha\nbeta\n
local $/; my $all = <STDIN>; print length($all), " bytes read\n";
