# A CPU-bound workload with a realistic call shape; prints the seconds its work took (with
# CPU_PL_TIMES=1 also the CPU seconds the whole process used meanwhile, every thread, user + system).
use strict;
use warnings;
use Time::HiRes qw(time);
package Shapes;
sub area { my ($w, $h) = @_; return $w * $h }
sub scale { my ($s, @v) = @_; return map { $_ * $s } @v }
package Report;
sub line { my ($k, $v) = @_; return sprintf("%-10s %8.2f", $k, $v) }
package main;
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
my $t0 = time;
my ($u0, $s0) = times;
my $sum = 0;
for (1 .. 90) { $sum += fib(20); $sum += crunch() }
my $wall = time - $t0;
my ($u1, $s1) = times;
if ($ENV{CPU_PL_TIMES}) { printf "%.4f %.4f\n", $wall, $u1 + $s1 - $u0 - $s0 }
else { printf "%.4f\n", $wall }
