# The CPU-bound work of bench/workloads/cpu.pl and profile_rounds.pl: recursion, small subs, map,
# sprintf, in three packages (a realistic call shape for a profiler).
package CpuWork;
use strict;
use warnings;

package Shapes;
sub area { my ($w, $h) = @_; return $w * $h }
sub scale { my ($s, @v) = @_; return map { $_ * $s } @v }

package Report;
sub line { my ($k, $v) = @_; return sprintf("%-10s %8.2f", $k, $v) }

package CpuWork;
sub fib { my $n = shift; $n < 2 ? $n : fib($n - 1) + fib($n - 2) }

sub crunch {
    my $t = 0;
    for my $i (1 .. 20_000) {
        my @v = Shapes::scale(1.5, $i, $i + 1, $i + 2);
        $t += Shapes::area(@v[0, 1]);
        $t += length Report::line("k$i", $v[2]) if $i % 10 == 0;
    }
    return $t;
}

# One unit of work: fib(20) and a crunch.
sub unit { return fib(20) + crunch() }

1;
