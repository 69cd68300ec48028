# A CPU-bound workload with a realistic call shape (CpuWork.pm); prints the seconds its work took (with
# CPU_PL_TIMES=1 also the CPU seconds the whole process used meanwhile, every thread, user + system).
use strict;
use warnings;
use Time::HiRes qw(time);
use FindBin;
use lib $FindBin::Bin;
use CpuWork;
my $t0 = time;
my ($u0, $s0) = times;
my $sum = 0;
$sum += CpuWork::unit() for 1 .. 90;
my $wall = time - $t0;
my ($u1, $s1) = times;
if ($ENV{CPU_PL_TIMES}) { printf "%.4f %.4f\n", $wall, $u1 + $s1 - $u0 - $s0 }
else { printf "%.4f\n", $wall }
