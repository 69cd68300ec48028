/* See pb_sample.h. The hook is read-only over perl's state: it may run mid-regex,
 * inside sort, or during global destruction. */
#include "pb_sample.h"
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Where each string eval was compiled from: perl names its code "(eval N)", a number that changes
 * from run to run and request to request, so frames take the file and line of the code that ran
 * the eval instead. Recorded by the entereval wrapper, read by the hook: both on the interpreter's
 * own thread. A ring of the last PB_EVAL_SITES evals; file names interned (at most PB_EVAL_FILES). */
#define PB_EVAL_SITES 4096
#define PB_EVAL_FILES 256
typedef struct { uint32_t seq; uint32_t line; int16_t file; } pb_eval_site;
typedef struct {
    pb_eval_site sites[PB_EVAL_SITES];
    char *files[PB_EVAL_FILES];
    int nfiles;
} pb_evals;

typedef struct pb_sampler {
    pthread_mutex_t lock;          /* guards everything below but `pending` and `evals` */
    pb_evals *evals;               /* the interpreter's string evals (owner thread only) */
    volatile uint32_t pending;     /* ticks not yet sampled */
    uint64_t first_tick_ns;        /* monotonic time of the first pending tick */
    int active;
    int max_depth;
    despatch_signals_proc_t prev_hook;
    pb_buf buf;                    /* samples not yet drained */
    uint32_t samples;
} pb_sampler;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_wake;       /* CLOCK_MONOTONIC; signalled on start, stop and a new interval */
static pthread_t g_thread;
static int g_thread_running;
static int g_cond_ready;
static int g_reconfigured;
static int g_active_count;
static int64_t g_interval_ns = 1000000000LL / 101;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void pb_clock(int64_t *monotonic_ns, int64_t *realtime_ns)
{
    struct timespec r;
    *monotonic_ns = (int64_t)mono_ns();
    clock_gettime(CLOCK_REALTIME, &r);
    *realtime_ns = (int64_t)r.tv_sec * 1000000000LL + r.tv_nsec;
}

/* ---- the sampler thread ---- */

/* How long the sampler thread waits for a new start once nothing samples. */
#define PB_SAMPLER_LINGER_NS (10LL * 1000000000LL)

static void add_ns(struct timespec *t, int64_t ns)
{
    t->tv_sec += ns / 1000000000LL;
    t->tv_nsec += ns % 1000000000LL;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

static void *sampler_main(void *arg)
{
    (void)arg;
    /* A name of its own (it would inherit its creator's, an interpreter thread's $0): a profiler or
     * a benchmark tells its CPU from the Perl threads'. */
    pthread_setname_np(pthread_self(), "perl-sentry smp");
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    pthread_mutex_lock(&g_lock);
    for (;;) {
        if (g_active_count == 0) {
            /* Nothing to sample: the thread waits a while for the next start (a profiled request
             * after the last one) instead of ending, so starting a profile creates no thread. */
            struct timespec linger;
            clock_gettime(CLOCK_MONOTONIC, &linger);
            add_ns(&linger, PB_SAMPLER_LINGER_NS);
            int rc = 0;
            while (g_active_count == 0 && rc != ETIMEDOUT)
                rc = pthread_cond_timedwait(&g_wake, &g_lock, &linger);
            if (g_active_count == 0)
                break;
            g_reconfigured = 0;   /* the schedule begins now */
            clock_gettime(CLOCK_MONOTONIC, &deadline);
            continue;
        }
        int64_t period = g_interval_ns;
        add_ns(&deadline, period);   /* absolute deadlines: no drift from the work below */
        int rc = 0;
        while (g_active_count > 0 && !g_reconfigured && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&g_wake, &g_lock, &deadline);
        if (g_active_count == 0)
            continue;
        uint64_t now = mono_ns();
        if (g_reconfigured) {
            /* a start or a new interval: the schedule begins now */
            g_reconfigured = 0;
            deadline.tv_sec = (time_t)(now / 1000000000ULL);
            deadline.tv_nsec = (long)(now % 1000000000ULL);
            continue;
        }
        uint64_t dl = (uint64_t)deadline.tv_sec * 1000000000ULL + (uint64_t)deadline.tv_nsec;
        if (now > dl + (uint64_t)period * 4) {
            /* We woke far past the deadline (a stopped or starved process): realign
             * instead of firing a burst of catch-up ticks. */
            deadline.tv_sec = (time_t)(now / 1000000000ULL);
            deadline.tv_nsec = (long)(now % 1000000000ULL);
        }
        for (int i = 0; i < pb_interp_slots(); i++) {
            pb_interp *ip = pb_interp_at(i);
            pb_sampler *s = ip ? ip->sampler : NULL;
            if (!s || !s->active)
                continue;
            pthread_mutex_lock(&s->lock);
            if (s->pending == 0)
                s->first_tick_ns = now;
            __atomic_add_fetch(&s->pending, 1, __ATOMIC_RELEASE);
            pthread_mutex_unlock(&s->lock);
            ip->perl->Isig_pending = 1;   /* PL_sig_pending of that interpreter */
        }
    }
    g_thread_running = 0;
    pthread_mutex_unlock(&g_lock);
    return NULL;
}

static void sample_hook(pTHX);

/* Around fork: the sampler thread does not come along, so in the child nothing samples until a
 * profile there asks again (the child's samplers start inactive, their hooks put back). */
static void atfork_prepare(void) { pthread_mutex_lock(&g_lock); }
static void atfork_parent(void) { pthread_mutex_unlock(&g_lock); }

static void atfork_child(void)
{
    pthread_mutex_unlock(&g_lock);
    pthread_mutex_init(&g_lock, NULL);
    g_thread_running = 0;
    g_active_count = 0;
    g_reconfigured = 0;
    if (g_cond_ready) {
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&g_wake, &attr);
        pthread_condattr_destroy(&attr);
    }
    for (int i = 0; i < pb_interp_slots(); i++) {
        pb_interp *ip = pb_interp_at(i);
        pb_sampler *s = ip ? ip->sampler : NULL;
        if (!s)
            continue;
        pthread_mutex_init(&s->lock, NULL);
        if (s->active && ip->perl && ip->perl->Isignalhook == sample_hook)
            ip->perl->Isignalhook = s->prev_hook;
        s->active = 0;
        s->pending = 0;
        s->buf.len = 0;   /* the parent's samples are the parent's */
        s->samples = 0;
    }
}

static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;
static void install_atfork(void) { pthread_atfork(atfork_prepare, atfork_parent, atfork_child); }

/* Called with g_lock held. */
static int ensure_thread(void)
{
    if (!g_cond_ready) {
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&g_wake, &attr);
        pthread_condattr_destroy(&attr);
        g_cond_ready = 1;
    }
    g_reconfigured = 1;
    pthread_cond_signal(&g_wake);
    if (g_thread_running)
        return 0;
    /* The sampler thread takes no signals: it must never run perl's handler. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&g_thread, NULL, sampler_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return rc;
    pthread_detach(g_thread);
    g_thread_running = 1;
    return 0;
}

/* ---- stack walking ---- */

static void put_u16(pb_buf *b, uint16_t v)
{
    pb_buf_reserve(b, 2);
    memcpy(b->data + b->len, &v, 2);
    b->len += 2;
}

static void put_bytes(pb_buf *b, const char *s, size_t n)
{
    if (!n) return;
    pb_buf_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

/* The eval number of a file name perl gave string-eval code: "(eval N)" or "(eval N)[file:line]". */
static uint32_t eval_seq_of(const char *f)
{
    if (!f || f[0] != '(' || strncmp(f, "(eval ", 6) != 0)
        return 0;
    char *end;
    unsigned long n = strtoul(f + 6, &end, 10);
    return *end == ')' && n <= UINT32_MAX ? (uint32_t)n : 0;
}

/* The file and line that ran eval `seq`, if it is still known. */
static const pb_eval_site *eval_site(pb_evals *e, uint32_t seq)
{
    if (!e || !seq)
        return NULL;
    const pb_eval_site *site = &e->sites[seq % PB_EVAL_SITES];
    return site->seq == seq && site->file >= 0 ? site : NULL;
}

/* The file and line a frame shows for `file`:`line`: for string-eval code, where the eval ran. */
static const char *real_place(pb_evals *e, const char *file, uint32_t *line)
{
    const pb_eval_site *site = eval_site(e, eval_seq_of(file));
    if (!site)
        return file;
    *line = site->line;
    return e->files[site->file];
}

static int16_t intern_file(pb_evals *e, const char *f)
{
    for (int i = 0; i < e->nfiles; i++)
        if (strcmp(e->files[i], f) == 0)
            return (int16_t)i;
    if (e->nfiles == PB_EVAL_FILES)
        return -1;
    char *copy = strdup(f);
    if (!copy)
        return -1;
    e->files[e->nfiles] = copy;
    return (int16_t)e->nfiles++;
}

/* Writes the u16-length-prefixed name of the sub `cv` runs. */
static void put_cv_name(pTHX_ pb_buf *b, CV *cv, pb_evals *evals)
{
    size_t at = b->len;
    put_u16(b, 0);
    const char *pkg = NULL, *name = NULL;
    STRLEN pkglen = 0, namelen = 0;
    if (CvNAMED(cv)) {                       /* lexical (my sub) */
        HEK *hek = CvNAME_HEK(cv);
        name = HEK_KEY(hek);
        namelen = HEK_LEN(hek);
        HEK *sh = CvSTASH(cv) ? HvNAME_HEK(CvSTASH(cv)) : NULL;
        if (sh) { pkg = HEK_KEY(sh); pkglen = HEK_LEN(sh); }
    } else {
        GV *gv = CvGV(cv);
        if (gv) {
            name = GvNAME(gv);
            namelen = GvNAMELEN(gv);
            HEK *sh = GvSTASH(gv) ? HvNAME_HEK(GvSTASH(gv)) : NULL;
            if (sh) { pkg = HEK_KEY(sh); pkglen = HEK_LEN(sh); }
        }
    }
    if (pkg) {
        put_bytes(b, pkg, pkglen);
        put_bytes(b, "::", 2);
    }
    if (name)
        put_bytes(b, name, namelen);
    else
        put_bytes(b, "__ANON__", 8);
    if (CvANON(cv)) {
        /* Pkg::__ANON__[file:line], the line where the sub starts */
        const OP *start = CvSTART(cv);
        char tail[64];
        if (start && (start->op_type == OP_NEXTSTATE || start->op_type == OP_DBSTATE)) {
            const COP *c = (const COP *)start;
            uint32_t line = (uint32_t)CopLINE(c);
            const char *f = real_place(evals, CopFILE(c), &line);   /* a sub a string eval made: where the eval ran */
            put_bytes(b, "[", 1);
            put_bytes(b, f ? f : "?", f ? strlen(f) : 1);
            int n = snprintf(tail, sizeof tail, ":%u]", (unsigned)line);
            put_bytes(b, tail, (size_t)n);
        } else if (CvFILE(cv)) {
            put_bytes(b, "[", 1);
            put_bytes(b, CvFILE(cv), strlen(CvFILE(cv)));
            put_bytes(b, "]", 1);
        }
    }
    uint16_t len = (uint16_t)(b->len - at - 2);
    memcpy(b->data + at, &len, 2);
}

static void put_str16(pb_buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > 65535) n = 65535;
    put_u16(b, (uint16_t)n);
    put_bytes(b, s, n);
}

static void put_frame_tail(pb_buf *b, const COP *cop, pb_evals *evals)
{
    uint32_t line = cop ? (uint32_t)CopLINE(cop) : 0;
    put_str16(b, cop ? real_place(evals, CopFILE(cop), &line) : NULL);
    pb_buf_reserve(b, 4);
    memcpy(b->data + b->len, &line, 4);
    b->len += 4;
}

/* Appends frames innermost first; returns how many, and sets *truncated. */
static int walk(pTHX_ pb_buf *b, int max_depth, int *truncated, pb_evals *evals)
{
    const COP *cop = PL_curcop;
    int n = 0;
    *truncated = 0;
    for (PERL_SI *si = PL_curstackinfo; si; si = si->si_prev) {
        for (I32 i = si->si_cxix; i >= 0; i--) {
            PERL_CONTEXT *cx = &si->si_cxstack[i];
            U8 type = CxTYPE(cx);
            if (type == CXt_SUB || type == CXt_FORMAT) {
                if (CxMULTICALL(cx) && type == CXt_SUB && !cx->blk_sub.cv)
                    continue;
                if (n == max_depth) { *truncated = 1; return n; }
                put_cv_name(aTHX_ b, cx->blk_sub.cv, evals);
                put_frame_tail(b, cop, evals);
                n++;
                cop = cx->blk_oldcop;
            } else if (type == CXt_EVAL && !CxTRYBLOCK(cx)) {
                /* string eval or require: a frame of its own, its N dropped so names stay bounded */
                if (n == max_depth) { *truncated = 1; return n; }
                const COP *site = cx->blk_oldcop;
                char head[32];
                size_t at = b->len;
                put_u16(b, 0);
                if (CxOLD_OP_TYPE(cx) == OP_ENTEREVAL) {
                    int k = snprintf(head, sizeof head, "(eval)[");
                    put_bytes(b, head, (size_t)k);
                    uint32_t line = site ? (uint32_t)CopLINE(site) : 0;
                    const char *f = site ? real_place(evals, CopFILE(site), &line) : "?";
                    put_bytes(b, f, strlen(f));
                    k = snprintf(head, sizeof head, ":%u]", (unsigned)line);
                    put_bytes(b, head, (size_t)k);
                } else {
                    put_bytes(b, "(require)", 9);
                }
                uint16_t len = (uint16_t)(b->len - at - 2);
                memcpy(b->data + at, &len, 2);
                put_frame_tail(b, cop, evals);
                n++;
                cop = site;
            }
        }
    }
    /* Subs perl itself calls once the program is done (END blocks, DESTROY at global destruction)
     * have no top-level code under them: no "main" frame at line 0. */
    if (n > 0 && (PL_phase == PERL_PHASE_END || PL_phase == PERL_PHASE_DESTRUCT) && (!cop || CopLINE(cop) == 0))
        return n;
    if (n == max_depth) { *truncated = 1; return n; }
    put_str16(b, "main");   /* top-level code of the program */
    put_frame_tail(b, cop, evals);
    return n + 1;
}

static void take_sample(pTHX_ pb_sampler *s, uint16_t extra_flags)
{
    pthread_mutex_lock(&s->lock);
    uint32_t weight = __atomic_exchange_n(&s->pending, 0, __ATOMIC_ACQ_REL);
    uint64_t first = s->first_tick_ns;
    if (weight == 0 || !s->active) {
        pthread_mutex_unlock(&s->lock);
        return;
    }
    pb_buf *b = &s->buf;
    size_t head = b->len;
    pb_buf_reserve(b, 16);
    memcpy(b->data + head, &first, 8);
    memcpy(b->data + head + 8, &weight, 4);
    b->len += 16;
    int truncated;
    int n = walk(aTHX_ b, s->max_depth, &truncated, s->evals);
    uint16_t n16 = (uint16_t)n, flags = (uint16_t)((truncated ? PB_SAMPLE_TRUNCATED : 0) | extra_flags);
    memcpy(b->data + head + 12, &n16, 2);
    memcpy(b->data + head + 14, &flags, 2);
    s->samples++;
    pthread_mutex_unlock(&s->lock);
}

static int real_signal_pending(pTHX)
{
    if (!PL_psig_pend)   /* %SIG never touched: despatch_signals would crash */
        return 0;
    for (int sig = 1; sig < SIG_SIZE; sig++)
        if (PL_psig_pend[sig])
            return 1;
    return 0;
}

static void sample_hook(pTHX)
{
    pb_interp *ip = pb_interp_of(aTHX);
    pb_sampler *s = ip ? ip->sampler : NULL;
    despatch_signals_proc_t prev = s ? s->prev_hook : Perl_despatch_signals;
    if (s && s->pending)
        take_sample(aTHX_ s, 0);
    if (real_signal_pending(aTHX) || (ip && __atomic_load_n(&ip->interrupt, __ATOMIC_ACQUIRE))) {
        prev(aTHX);   /* perl's own (through the interrupt hook): runs %SIG handlers, clears PL_sig_pending */
    } else {
        PL_sig_pending = 0;
    }
    /* A tick that came in meanwhile must not wait for the one after it. */
    if (s && s->pending)
        PL_sig_pending = 1;
}

void pb_interrupt_hook(pTHX)
{
    pb_interp *ip = pb_interp_of(aTHX);
    despatch_signals_proc_t prev = ip && ip->signal_prev ? (despatch_signals_proc_t)ip->signal_prev : Perl_despatch_signals;
    if (real_signal_pending(aTHX))
        prev(aTHX);
    else
        PL_sig_pending = 0;
    if (ip && __atomic_exchange_n(&ip->interrupt, 0, __ATOMIC_ACQ_REL))
        Perl_croak(aTHX_ "%s", ip->interrupt_msg);   /* perl adds " at FILE line N.": where it was stopped */
}

int32_t pb_interrupt(pb_interp *ip, const char *message)
{
    if (!ip || !ip->perl)
        return -1;
    if (!message) {   /* a new call: an interrupt meant for the last one is void */
        __atomic_store_n(&ip->interrupt, 0, __ATOMIC_RELEASE);
        return 0;
    }
    size_t n = strlen(message);
    if (n >= sizeof ip->interrupt_msg)
        n = sizeof ip->interrupt_msg - 1;
    memcpy(ip->interrupt_msg, message, n);
    ip->interrupt_msg[n] = 0;
    __atomic_store_n(&ip->interrupt, 1, __ATOMIC_RELEASE);
    ip->perl->Isig_pending = 1;   /* PL_sig_pending: the run loop looks at its next safe point */
    return 0;
}

/* Where eval `seq` of this interpreter ran (the file and line that compiled its code); 0 when not known. */
int pb_sample_eval_site(pb_interp *ip, uint32_t seq, const char **file, uint32_t *line)
{
    pb_sampler *s = ip ? ip->sampler : NULL;
    const pb_eval_site *site = eval_site(s ? s->evals : NULL, seq);
    if (!site)
        return 0;
    *file = s->evals->files[site->file];
    *line = site->line;
    return 1;
}

/* ---- op wrappers: ops with no safe point while they block or run ---- */

static Perl_ppaddr_t g_orig[MAXO];

static OP *after_op(pTHX_ OP *next)
{
    if (UNLIKELY(PL_sig_pending)) {
        pb_interp *ip = pb_interp_of(aTHX);
        pb_sampler *s = ip ? ip->sampler : NULL;
        if (s && s->pending)
            take_sample(aTHX_ s, 0);   /* still inside the op's statement: the time lands here */
    }
    return next;
}

#define WRAP(name, op) static OP *name(pTHX) { return after_op(aTHX_ g_orig[op](aTHX)); }
WRAP(w_sleep, OP_SLEEP)
WRAP(w_sselect, OP_SSELECT)
WRAP(w_sysread, OP_SYSREAD)
WRAP(w_read, OP_READ)
WRAP(w_readline, OP_READLINE)
WRAP(w_system, OP_SYSTEM)
WRAP(w_backtick, OP_BACKTICK)
WRAP(w_wait, OP_WAIT)
WRAP(w_waitpid, OP_WAITPID)
WRAP(w_sort, OP_SORT)
WRAP(w_join, OP_JOIN)
WRAP(w_flock, OP_FLOCK)
WRAP(w_recv, OP_RECV)
WRAP(w_accept, OP_ACCEPT)
WRAP(w_connect, OP_CONNECT)
WRAP(w_entersub, OP_ENTERSUB)

static pb_sampler *sampler_new(pb_interp *ip);

/* A string eval is about to be compiled as "(eval PL_evalseq+1)": remember where it runs from. */
static OP *w_entereval(pTHX)
{
    pb_interp *ip = pb_interp_of(aTHX);
    pb_sampler *s = ip ? (ip->sampler ? ip->sampler : sampler_new(ip)) : NULL;
    if (s && !s->evals)
        s->evals = calloc(1, sizeof *s->evals);
    /* PL_op->op_next: an eval in the program's code (eval_sv from C has no place in it) */
    if (s && s->evals && PL_curcop && PL_op && PL_op->op_next) {
        pb_evals *e = s->evals;
        uint32_t line = (uint32_t)CopLINE(PL_curcop);
        const char *f = real_place(e, CopFILE(PL_curcop), &line);   /* an eval inside an eval: the outer one's place */
        int16_t file = f ? intern_file(e, f) : -1;
        uint32_t seq = (uint32_t)(PL_evalseq + 1);
        pb_eval_site *site = &e->sites[seq % PB_EVAL_SITES];
        site->seq = seq;
        site->line = line;
        site->file = file;
    }
    return g_orig[OP_ENTEREVAL](aTHX);
}

static void (*volatile g_exec_hook)(void);

static OP *w_exec(pTHX)
{
    void (*hook)(void) = g_exec_hook;
    if (hook)
        hook();   /* what the process has gathered, before exec replaces it */
    return g_orig[OP_EXEC](aTHX);
}

void pb_sample_on_exec(void (*hook)(void))
{
    g_exec_hook = hook;
    if (hook && !g_orig[OP_EXEC]) {
        g_orig[OP_EXEC] = PL_ppaddr[OP_EXEC];
        PL_ppaddr[OP_EXEC] = w_exec;
    }
}

/* XS subs have no safe point either, but every sub call passes through entersub, so wrapping it
 * costs every sub call one more indirect call (bench/RESULTS.md: within the noise). On by default
 * (PERLSENTRY_XS_SAMPLES=0 turns it off); it affects ops compiled after it. */
void pb_sample_wrap_xs(void)
{
    if (!g_orig[OP_ENTERSUB]) {
        g_orig[OP_ENTERSUB] = PL_ppaddr[OP_ENTERSUB];
        PL_ppaddr[OP_ENTERSUB] = w_entersub;
    }
}

OP *pb_sample_after_host_call(pTHX_ OP *next)
{
    return g_orig[OP_ENTERSUB] ? after_op(aTHX_ next) : next;
}

void pb_sample_wrap_ops(void)
{
    static const struct { int op; Perl_ppaddr_t fn; } wraps[] = {
        { OP_SLEEP, w_sleep }, { OP_SSELECT, w_sselect }, { OP_SYSREAD, w_sysread },
        { OP_READ, w_read }, { OP_READLINE, w_readline }, { OP_SYSTEM, w_system },
        { OP_BACKTICK, w_backtick }, { OP_WAIT, w_wait }, { OP_WAITPID, w_waitpid },
        { OP_SORT, w_sort }, { OP_JOIN, w_join }, { OP_FLOCK, w_flock },
        { OP_RECV, w_recv }, { OP_ACCEPT, w_accept }, { OP_CONNECT, w_connect },
        { OP_ENTEREVAL, w_entereval },
    };
    const char *xs = getenv("PERLSENTRY_XS_SAMPLES");
    if (!(xs && *xs == '0'))
        pb_sample_wrap_xs();
    for (size_t i = 0; i < sizeof wraps / sizeof wraps[0]; i++) {
        int op = wraps[i].op;
        if (!g_orig[op]) {
            g_orig[op] = PL_ppaddr[op];
            PL_ppaddr[op] = wraps[i].fn;
        }
    }
}

/* ---- control, from C# on the owner thread ---- */

/* The interpreter's sampler state, made on first use (not sampling yet). */
static pb_sampler *sampler_new(pb_interp *ip)
{
    pb_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_lock(&g_lock);   /* the sampler thread reads ip->sampler under g_lock */
    ip->sampler = s;
    pthread_mutex_unlock(&g_lock);
    return s;
}

int32_t pb_sample_start(pb_interp *ip, int64_t interval_ns, int32_t max_depth)
{
    pthread_once(&g_atfork_once, install_atfork);
    dTHXa(ip->perl);
    pb_sampler *s = ip->sampler ? ip->sampler : sampler_new(ip);
    if (!s)
        return -1;
    pthread_mutex_lock(&g_lock);
    if (interval_ns > 0)
        g_interval_ns = interval_ns;
    pthread_mutex_lock(&s->lock);
    s->max_depth = max_depth > 0 ? max_depth : 100;
    if (!s->active) {
        s->active = 1;
        s->pending = 0;
        if (PL_signalhook != sample_hook) {
            s->prev_hook = PL_signalhook;
            PL_signalhook = sample_hook;
        }
        g_active_count++;
    }
    pthread_mutex_unlock(&s->lock);
    int rc = ensure_thread();
    pthread_mutex_unlock(&g_lock);
    return rc;
}

void pb_sample_stop(pb_interp *ip)
{
    pb_sampler *s = ip->sampler;
    if (!s)
        return;
    pthread_mutex_lock(&g_lock);
    pthread_mutex_lock(&s->lock);
    if (s->active) {
        /* Any thread (the in-process sampler stops at a drain, on a timer's thread): nothing of the
         * interpreter is touched. Its hook stays in place, passing perl's signals on while nothing
         * samples; a later start finds it there. */
        s->active = 0;
        s->pending = 0;
        g_active_count--;
        if (g_cond_ready)
            pthread_cond_signal(&g_wake);   /* the thread goes idle at once when nothing is left */
    }
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_unlock(&g_lock);
}

/* Takes a sample now (profile start and stop), standing for one tick. */
int32_t pb_sample_now(pb_interp *ip)
{
    pb_sampler *s = ip->sampler;
    if (!s || !s->active)
        return 0;
    dTHXa(ip->perl);
    /* Ticks still waiting for a safe point are recorded at their own time first: the marker is
     * stamped now (a profile's first sample must not fall before the profile's start). */
    if (__atomic_load_n(&s->pending, __ATOMIC_ACQUIRE))
        take_sample(aTHX_ s, 0);
    pthread_mutex_lock(&s->lock);
    if (s->pending == 0)
        s->first_tick_ns = mono_ns();
    __atomic_add_fetch(&s->pending, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&s->lock);
    take_sample(aTHX_ s, PB_SAMPLE_MARKER);
    return 1;
}

/* Moves the recorded samples to out (appended); returns how many. Any thread. */
int32_t pb_sample_drain(pb_interp *ip, pb_buf *out)
{
    pb_sampler *s = ip->sampler;
    if (!s)
        return 0;
    pthread_mutex_lock(&s->lock);
    pb_buf_reserve(out, s->buf.len);
    memcpy(out->data + out->len, s->buf.data, s->buf.len);
    out->len += s->buf.len;
    int32_t n = (int32_t)s->samples;
    s->buf.len = 0;
    s->samples = 0;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* The interpreter is going away: stop and free its sampler. */
void pb_sample_forget(pb_interp *ip)
{
    pb_sampler *s = ip->sampler;
    if (!s)
        return;
    pb_sample_stop(ip);
    pthread_mutex_lock(&g_lock);   /* the sampler thread reads ip->sampler under g_lock */
    ip->sampler = NULL;
    pthread_mutex_unlock(&g_lock);
    pb_buf_release(&s->buf);
    if (s->evals) {
        for (int i = 0; i < s->evals->nfiles; i++)
            free(s->evals->files[i]);
        free(s->evals);
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}
