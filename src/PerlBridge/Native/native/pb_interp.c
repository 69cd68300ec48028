/* Interpreter lifetime: process init, create, parse, run, destruct.
 * Every function here runs on the interpreter's owner thread (C# enforces it). */
#include "pb_common.h"
#include "pb_client.h"
#include "pb_sample.h"
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

EXTERN_C void boot_DynaLoader(pTHX_ CV *cv);

static pthread_mutex_t g_lifetime = PTHREAD_MUTEX_INITIALIZER;
static int g_sys_inited;
pb_callback_fn pb_callback;

static void xs_init(pTHX)
{
    /* Without DynaLoader no XS module (POSIX, List::Util, ...) can load. */
    newXS("DynaLoader::boot_DynaLoader", boot_DynaLoader, __FILE__);
    pb_client_define_subs(aTHX);   /* ithreads of hosted programs reach the engine as agent clients */
    pb_interp *ip = pb_interp_of(aTHX);
    if (ip) {
        ip->stashes_ready = 1;
        /* $^X names the running binary (the .NET host); programs that re-run
         * themselves with $^X need the perl this interpreter belongs to. */
        if (ip->caret_x)
            sv_setpv(get_sv("\030", GV_ADD), ip->caret_x);
        pb_define_pending(aTHX_ ip);
    }
}

static void set_err(char *err, int32_t errlen, const char *msg)
{
    if (err && errlen > 0) {
        strncpy(err, msg, (size_t)errlen - 1);
        err[errlen - 1] = 0;
    }
}

static int32_t sys_init(pb_callback_fn callback, char *err, int32_t errlen)
{
    pthread_mutex_lock(&g_lifetime);
    pb_callback = callback;
    if (!g_sys_inited) {
        static int argc = 1;
        static char arg0[] = "perl";
        static char *argv_store[] = { arg0, NULL };
        static char *env_store[] = { NULL };
        char **argv = argv_store, **env = env_store;
        /* PERL_SYS_INIT3 sets SIGFPE to SIG_IGN (PERL_FPU_INIT); the CLR needs its own handler. */
        struct sigaction fpe;
        sigaction(SIGFPE, NULL, &fpe);
        PERL_SYS_INIT3(&argc, &argv, &env);
        sigaction(SIGFPE, &fpe, NULL);
        pb_signal_install();
        pb_sample_wrap_ops();
        g_sys_inited = 1;
    }
    pthread_mutex_unlock(&g_lifetime);
    (void)err; (void)errlen;
    return PB_OK;
}

static pb_interp *interp_new(const char *caret_x, char *err, int32_t errlen)
{
    pb_interp *ip = calloc(1, sizeof *ip);
    if (!ip) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_lock(&g_lifetime);
    PerlInterpreter *perl = NULL;
    if (pb_registry_count() >= PB_MAX_INTERPS) {
        pthread_mutex_unlock(&g_lifetime);
        free(ip);
        set_err(err, errlen, "too many live interpreters (the limit is 64)");
        return NULL;
    }
    perl = perl_alloc();
    if (!perl) {
        pthread_mutex_unlock(&g_lifetime);
        free(ip);
        set_err(err, errlen, "perl_alloc failed");
        return NULL;
    }
    PERL_SET_CONTEXT(perl);
    perl_construct(perl);
    {
        dTHXa(perl);
        /* END blocks run in perl_destruct, as in perlmain.c; a clean
         * destruct lets several interpreters come and go in one process. */
        PL_exit_flags |= PERL_EXIT_DESTRUCT_END;
        PL_perl_destruct_level = 1;
        /* A call's timeout stops runaway code at a safe point (pb_interrupt). */
        ip->signal_prev = (void *)PL_signalhook;
        PL_signalhook = pb_interrupt_hook;
    }
    ip->perl = perl;
    ip->caret_x = caret_x && *caret_x ? strdup(caret_x) : NULL;
    ip->owner = pthread_self();
    pb_registry_add(ip);
    pthread_mutex_unlock(&g_lifetime);
    return ip;
}

static int32_t interp_parse(pb_interp *ip, int32_t argc, const char *const *argv)
{
    dTHXa(ip->perl);
    PERL_SET_CONTEXT(my_perl);
    ip->argc = argc;
    ip->argv = calloc((size_t)argc + 1, sizeof(char *));
    for (int i = 0; i < argc; i++)
        ip->argv[i] = strdup(argv[i]);
    int rc = perl_parse(my_perl, xs_init, argc, ip->argv, NULL);
    if (pb_is_child)
        pb_child_finish(aTHX);
    return rc;
}

static int32_t interp_run(pb_interp *ip)
{
    dTHXa(ip->perl);
    PERL_SET_CONTEXT(my_perl);
    int rc = perl_run(my_perl);
    if (pb_is_child)
        pb_child_finish(aTHX);
    return rc;
}

/* After fork the CLR is unusable in the child: never return into managed code. */
void pb_child_finish(pTHX)
{
    int st = perl_destruct(my_perl);
    _exit(st & 0xff);
}

static int32_t interp_destruct(pb_interp *ip)
{
    dTHXa(ip->perl);
    PERL_SET_CONTEXT(my_perl);
    int status = perl_destruct(my_perl);   /* END blocks run here, still sampled */
    pb_sample_stop(ip);                    /* the sampler thread lets go of my_perl */
    pthread_mutex_lock(&g_lifetime);
    pb_registry_remove(ip);
    /* perl lets only PL_curinterp install signal handlers (Perl_rsignal); hand
     * that role to a live interpreter instead of leaving it dangling. */
    if (PL_curinterp == my_perl) {
        PL_curinterp = NULL;
        for (int i = 0; i < PB_MAX_INTERPS; i++)
            if (pb_interp_at(i) && pb_interp_at(i)->owner) {
                PL_curinterp = pb_interp_at(i)->perl;
                break;
            }
    }
    perl_free(my_perl);
    pthread_mutex_unlock(&g_lifetime);
    PERL_SET_CONTEXT(NULL);
    ip->perl = NULL;
    return status;
}

/* Frees what is left of a destructed interpreter (undrained samples included). */
static void interp_free(pb_interp *ip)
{
    pb_sample_forget(ip);
    for (int i = 0; i < ip->argc; i++)
        free(ip->argv[i]);
    free(ip->argv);
    pb_buf_release(&ip->frame0.args);
    pb_buf_release(&ip->frame0.ret);
    for (int i = 0; i < ip->cb_cap; i++) {
        if (ip->frames[i]) {
            pb_buf_release(&ip->frames[i]->args);
            pb_buf_release(&ip->frames[i]->ret);
            free(ip->frames[i]);
        }
    }
    free(ip->frames);
    for (int i = 0; i < ip->pending_count; i++)
        free(ip->pending[i].name);
    free(ip->pending);
    while (ip->subdefs) {
        pb_subdef *next = ip->subdefs->next;
        free(ip->subdefs->fallback);
        free(ip->subdefs);
        ip->subdefs = next;
    }
    free(ip->caret_x);
    free(ip);
}

/* pb_call.c */
int32_t pb_eval(pb_interp *, const uint8_t *, size_t, int32_t, pb_result *);
int32_t pb_call_named(pb_interp *, const uint8_t *, size_t, int32_t, const uint8_t *, size_t, int32_t, pb_result *);
int32_t pb_call_ref(pb_interp *, void *, int32_t, const uint8_t *, size_t, int32_t, pb_result *);
int32_t pb_define_sub(pb_interp *, const uint8_t *, size_t, int32_t, pb_result *);
void pb_sv_release(pb_interp *, void *);

static void signals_claim(pb_interp *ip)
{
    pthread_mutex_lock(&g_lifetime);
    PL_curinterp = ip->perl;
    pthread_mutex_unlock(&g_lifetime);
}

static void buf_free(pb_buf *b) { pb_buf_release(b); }

/* A forked child continues from a snapshot of its parent's session, which the host's engine
 * makes (C#, before the fork, on the forking thread). */
static int32_t (*g_host_snapshot)(pb_interp *ip, pb_buf *out);

static int host_snapshot(pTHX_ pb_buf *out)
{
    pb_interp *ip = pb_interp_of(aTHX);
    if (!ip || !ip->subdefs || !g_host_snapshot || pb_is_child)
        return -1;   /* not an interpreter the engine serves, or the engine is gone already */
    return g_host_snapshot(ip, out) == 0 ? 0 : -1;
}

static void client_configure(const char *agent_cmd, int32_t (*snapshot)(pb_interp *ip, pb_buf *out))
{
    g_host_snapshot = snapshot;
    pb_client_configure(agent_cmd, host_snapshot);
}

static uint64_t client_token(pb_interp *ip, void *sv)
{
    dTHXa(ip->perl);
    return pb_client_token(aTHX_ pb_client_get(aTHX), (SV *)sv);
}
static int32_t is_child(void) { return pb_is_child; }
static int32_t interp_count(void) { return pb_registry_count(); }

#ifndef PERL_VENDORLIB_EXP
#define PERL_VENDORLIB_EXP ""
#endif
#ifndef PERL_VENDORARCH_EXP
#define PERL_VENDORARCH_EXP ""
#endif
#ifndef SITELIB_EXP
#define SITELIB_EXP ""
#endif
#ifndef SITEARCH_EXP
#define SITEARCH_EXP ""
#endif

static const pb_api g_api = {
    .abi = PB_ABI_VERSION,
    .size = sizeof(pb_api),
    .perl_version = STRINGIFY(PERL_REVISION) "." STRINGIFY(PERL_VERSION) "." STRINGIFY(PERL_SUBVERSION),
    .archname = ARCHNAME,
    .perl_path = PB_PERL_PATH,
    .lib_dirs = PRIVLIB_EXP ":" ARCHLIB_EXP ":" PERL_VENDORLIB_EXP ":" PERL_VENDORARCH_EXP ":" SITELIB_EXP ":" SITEARCH_EXP,
    .sys_init = sys_init,
    .interp_new = interp_new,
    .interp_parse = interp_parse,
    .interp_run = interp_run,
    .interp_destruct = interp_destruct,
    .interp_free = interp_free,
    .eval = pb_eval,
    .call_named = pb_call_named,
    .call_ref = pb_call_ref,
    .define_sub = pb_define_sub,
    .sv_release = pb_sv_release,
    .buf_reserve = pb_buf_reserve,
    .buf_free = buf_free,
    .is_child = is_child,
    .interp_count = interp_count,
    .signals_claim = signals_claim,
    .sample_start = pb_sample_start,
    .sample_stop = pb_sample_stop,
    .sample_drain = pb_sample_drain,
    .sample_now = pb_sample_now,
    .clock = pb_clock,
    .sample_wrap_xs = pb_sample_wrap_xs,
    .client_configure = client_configure,
    .sample_on_exec = pb_sample_on_exec,
    .client_token = client_token,
    .interrupt = pb_interrupt,
};

PB_EXPORT const pb_api *pb_get_api(void) { return &g_api; }
