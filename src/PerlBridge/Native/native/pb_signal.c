/* Process signals and fork in a multi-threaded host.
 *
 * Threaded perl's C signal handler records the signal in the interpreter of
 * the *receiving* thread. In a .NET process the kernel often picks a thread
 * that never entered Perl, and perl's handler then dereferences a NULL
 * context. We wrap PL_csighandlerp (perl installs whatever it points to when
 * %SIG is assigned) and forward such signals to the thread of an interpreter
 * that has a handler for them. */
#include "pb_common.h"
#include <signal.h>
#include <unistd.h>
#include <string.h>

volatile int pb_is_child;
static Sighandler_t g_perl_handler;

static int has_handler(pb_interp *ip, int sig)
{
    PerlInterpreter *my_perl = ip->perl;
    return PL_psig_ptr && PL_psig_ptr[sig];
}

#ifdef PERL_USE_3ARG_SIGHANDLER
static Signal_t route(int sig, Siginfo_t *info, void *uap)
#else
static Signal_t route(int sig)
#endif
{
    PerlInterpreter *here = PERL_GET_CONTEXT;
    pb_interp *target = NULL, *first = NULL;
    for (int i = 0; i < pb_interp_slots(); i++) {
        pb_interp *ip = pb_interp_at(i);
        if (!ip)
            continue;
        if (!first)
            first = ip;
        if (ip->perl == here && has_handler(ip, sig)) {
            target = ip;
            break;
        }
        if (!target && has_handler(ip, sig))
            target = ip;
    }
    if (!target)
        target = here ? NULL : first;
    if (target && target->perl != here) {
        if (!pb_is_child)
            pthread_kill(target->owner, sig);
        return;
    }
    if (!here)
        return;   /* no interpreter at all: nothing can handle it */
#ifdef PERL_USE_3ARG_SIGHANDLER
    g_perl_handler(sig, info, uap);
#else
    g_perl_handler(sig);
#endif
}

static void after_fork_child(void)
{
    /* Only the forking thread survives: the CLR's threads are gone. A handler the CLR installed
     * (the host lets its writer finish on TERM, INT and HUP) would only hand the signal to a thread
     * the child does not have: those signals get their default action back, as under perl, unless
     * the program set its own handler (perl's) or IGNORE. sigaction is async-signal-safe. */
    static const int signals[] = { SIGTERM, SIGINT, SIGHUP };
    pb_is_child = 1;
    for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        struct sigaction old;
        if (sigaction(signals[i], NULL, &old) != 0)
            continue;
        void *h = (old.sa_flags & SA_SIGINFO) ? (void *)old.sa_sigaction : (void *)old.sa_handler;
        if (h != (void *)SIG_DFL && h != (void *)SIG_IGN && h != (void *)route && h != (void *)g_perl_handler) {
            struct sigaction dfl;
            memset(&dfl, 0, sizeof dfl);
            dfl.sa_handler = SIG_DFL;
            sigemptyset(&dfl.sa_mask);
            sigaction(signals[i], &dfl, NULL);
        }
    }
}

void pb_signal_install(void)
{
    g_perl_handler = PL_csighandlerp;
    PL_csighandlerp = route;
    pthread_atfork(NULL, NULL, after_fork_child);
}
