package My::Error; use overload '""' => sub { "My::Error: " . $_[0]{msg} . "\n" };
package main;
my $ok = eval { die bless { msg => 'caught' }, 'My::Error'; 1 };
print "eval caught: $@" unless $ok;
die bless { msg => 'uncaught' }, 'My::Error';
