/*
 * perl-sentry launcher: starts the host with W^X off (HostProcess.EnsureWriteXorExecuteDisabled says
 * why: it must be off before the runtime starts, and doing it from inside costs a second runtime
 * start). `perl-sentry serve` goes to its own host (ASP.NET Core), so `run` does not pay for loading it.
 * A program and not a shell script: the script's sh, dirname and readlink were three process starts
 * before the host's, about 10 ms of every `perl-sentry run` on a loaded machine.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* dir/name into buf; 0 when it does not fit. */
static int join(char *buf, size_t size, const char *dir, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", dir, name);
    return n > 0 && (size_t)n < size;
}

int main(int argc, char **argv)
{
    char dir[PATH_MAX], path[PATH_MAX];
    /* The folder of this executable, symlinks resolved (as readlink -f "$0"). */
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n <= 0) {
        fprintf(stderr, "perl-sentry: cannot find where it is installed (/proc/self/exe: %s)\n", strerror(errno));
        return 127;
    }
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    const char *host = "perl-sentry-host";
    if (argc > 1 && strcmp(argv[1], "serve") == 0 && join(path, sizeof path, dir, "perl-sentry-serve") && access(path, X_OK) == 0)
        host = "perl-sentry-serve";
    else
        setenv("DOTNET_EnableWriteXorExecute", "0", 1);
    if (join(path, sizeof path, dir, host)) {
        argv[0] = path;
        execv(path, argv);
    }
    else
        errno = ENAMETOOLONG;
    /* Only reached when the exec failed: name the program it was. */
    fprintf(stderr, "perl-sentry: cannot run %s/%s: %s\n", dir, host, strerror(errno));
    return 127;
}
