# The business logic the example service keeps in Perl: prices for a basket.
package Pricing;
use strict;
use warnings;

my %PRICE = (apple => 0.5, bread => 2.25, cheese => 4.8, wine => 9.9);

# quote(["apple", "apple", "wine"]) -> { items => 3, total => 10.9 }; an unknown item dies.
sub quote {
    my ($items) = @_;
    my $total = 0;
    for my $item (@$items) {
        die "no price for '$item'\n" unless exists $PRICE{$item};
        $total += $PRICE{$item};
    }
    return { items => scalar @$items, total => 0 + sprintf('%.2f', $total) };
}

1;
