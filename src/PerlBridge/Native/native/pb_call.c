/* Calls from C# into Perl, and Perl calls of subs implemented in C#.
 *
 * No longjmp may cross a managed frame: every entry from C# runs Perl code
 * under its own JMPENV (for exit) and G_EVAL (for die), and the trampoline
 * croaks or exits only after C# has returned. */
#include "pb_common.h"
#include "pb_client.h"
#include "pb_sample.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef void (*pb_body_fn)(pTHX_ void *ctx, pb_result *res, int32_t *status);

static I32 gimme_flags(int32_t ctx)
{
    return ctx == PB_CTX_LIST ? G_LIST : ctx == PB_CTX_SCALAR ? G_SCALAR : G_VOID;
}

static void put_error(pTHX_ pb_buf *b, SV *err)
{
    STRLEN len;
    const char *s = SvPV(err, len);
    pb_put_str(b, SvUTF8(err) ? PB_T_STR : PB_T_BYTES, s, len);
    if (SvROK(err))
        pb_encode_sv(aTHX_ b, err);
    else
        pb_put_u8(b, PB_T_UNDEF);
}

static void put_message(pb_buf *b, const char *msg)
{
    b->len = 0;
    pb_put_str(b, PB_T_STR, msg, strlen(msg));
    pb_put_u8(b, PB_T_UNDEF);
}

static int32_t guarded(pb_interp *ip, pb_body_fn body, void *ctx, pb_result *res)
{
    dTHXa(ip->perl);
    PERL_SET_CONTEXT(my_perl);
    dJMPENV;
    int jret;
    volatile int32_t status = PB_OK;
    I32 oldscope = PL_scopestack_ix;
    res->out.len = 0;
    res->count = 0;
    res->exit_status = 0;
    /* Called back from inside a host sub (a callback of the SDK): the program's $@ is its own. */
    SV *volatile saved_err = ip->cb_depth > 0 ? newSVsv(ERRSV) : NULL;
    ENTER;
    SAVETMPS;
    JMPENV_PUSH(jret);
    switch (jret) {
    case 0:
        body(aTHX_ ctx, res, (int32_t *)&status);
        break;
    case 2:   /* exit(): my_exit_jump has unwound Perl's contexts already */
        status = PB_EXITED;
        res->exit_status = STATUS_EXIT;
        break;
    default:  /* a die that escaped every eval (only possible outside the body's G_EVAL) */
        status = PB_ERROR;
        PL_restartop = NULL;
        put_message(&res->out, "a Perl exception escaped while converting values");
        break;
    }
    JMPENV_POP;
    pb_unwind(aTHX_ oldscope, status == PB_EXITED);
    if (saved_err) {
        SV *err = saved_err;
        sv_setsv(ERRSV, err);
        SvREFCNT_dec(err);
    }
    if (pb_is_child) {
        /* The forked child's Perl code came back to the host: end it as perl would. */
        if (status == PB_DIED || status == PB_ERROR) {
            SV *err = ERRSV;
            PerlIO_printf(PerlIO_stderr(), "%" SVf, SVfARG(err));
            STATUS_UNIX_SET(255);
        } else if (status == PB_OK) {
            STATUS_UNIX_SET(0);
        }
        pb_child_finish(aTHX);
    }
    return status;
}

/* Pops n results (pushed by call_sv/eval_sv) into res, or the error in $@. */
static void collect(pTHX_ I32 n, pb_result *res, int32_t *status)
{
    dSP;
    SV *err = ERRSV;
    /* Only now: nested calls made while Perl ran share this buffer. */
    res->out.len = 0;
    if (SvTRUE(err)) {
        SP -= n;
        PUTBACK;
        put_error(aTHX_ &res->out, err);
        *status = PB_DIED;
        return;
    }
    SV **base = SP - n + 1;
    for (I32 i = 0; i < n; i++)
        pb_encode_sv(aTHX_ &res->out, base[i]);
    res->count = n;
    SP -= n;
    PUTBACK;
}

static int push_args(pTHX_ const uint8_t *args, size_t len, int32_t nargs)
{
    dSP;
    const uint8_t *p = args, *end = args + len;
    PUSHMARK(SP);
    EXTEND(SP, nargs);
    for (int32_t i = 0; i < nargs; i++) {
        SV *sv = pb_decode_sv(aTHX_ &p, end);
        if (!sv) {
            SP = PL_stack_base + POPMARK;
            PUTBACK;
            return 0;
        }
        PUSHs(sv_2mortal(sv));
    }
    PUTBACK;
    return 1;
}

struct eval_ctx { const uint8_t *code; size_t len; int32_t ctx; };

static void eval_body(pTHX_ void *c, pb_result *res, int32_t *status)
{
    struct eval_ctx *e = c;
    SV *src = sv_2mortal(newSVpvn((const char *)e->code, e->len));
    if (!is_utf8_invariant_string(e->code, e->len))
        SvUTF8_on(src);
    I32 n = eval_sv(src, gimme_flags(e->ctx) | G_EVAL);
    collect(aTHX_ n, res, status);
}

int32_t pb_eval(pb_interp *ip, const uint8_t *code, size_t len, int32_t ctx, pb_result *res)
{
    struct eval_ctx e = { code, len, ctx };
    return guarded(ip, eval_body, &e, res);
}

struct call_ctx {
    const char *name;
    SV *target;
    int32_t ctx;
    const uint8_t *args;
    size_t args_len;
    int32_t nargs;
};

static void call_body(pTHX_ void *c, pb_result *res, int32_t *status)
{
    struct call_ctx *k = c;
    if (!push_args(aTHX_ k->args, k->args_len, k->nargs)) {
        put_message(&res->out, "malformed argument buffer");
        *status = PB_ERROR;
        return;
    }
    I32 flags = gimme_flags(k->ctx) | G_EVAL;
    I32 n = k->name ? call_pv(k->name, flags) : call_sv(k->target, flags);
    collect(aTHX_ n, res, status);
}

int32_t pb_call_named(pb_interp *ip, const uint8_t *name, size_t name_len, int32_t ctx,
                      const uint8_t *args, size_t args_len, int32_t nargs, pb_result *res)
{
    char small[256];
    char *z = name_len < sizeof small ? small : malloc(name_len + 1);
    memcpy(z, name, name_len);
    z[name_len] = 0;
    struct call_ctx k = { z, NULL, ctx, args, args_len, nargs };
    int32_t st = guarded(ip, call_body, &k, res);
    if (z != small)
        free(z);
    return st;
}

int32_t pb_call_ref(pb_interp *ip, void *sv, int32_t ctx,
                    const uint8_t *args, size_t args_len, int32_t nargs, pb_result *res)
{
    struct call_ctx k = { NULL, (SV *)sv, ctx, args, args_len, nargs };
    return guarded(ip, call_body, &k, res);
}

void pb_sv_release(pb_interp *ip, void *sv)
{
    dTHXa(ip->perl);
    PERL_SET_CONTEXT(my_perl);
    SvREFCNT_dec((SV *)sv);
}

/* ---- Perl -> C# ---- */

static void make_xsub(pTHX_ pb_interp *ip, const char *name, int32_t id);

static pb_cbframe *frame_at(pb_interp *ip, int d)
{
    if (LIKELY(d == 0))
        return &ip->frame0;
    if (d >= ip->cb_cap) {
        int cap = ip->cb_cap ? ip->cb_cap * 2 : 8;
        pb_cbframe **f = realloc(ip->frames, (size_t)cap * sizeof *f);
        if (!f)
            abort();
        memset(f + ip->cb_cap, 0, (size_t)(cap - ip->cb_cap) * sizeof *f);
        ip->frames = f;
        ip->cb_cap = cap;
    }
    if (!ip->frames[d] && !(ip->frames[d] = calloc(1, sizeof(pb_cbframe))))
        abort();
    return ip->frames[d];
}

static void call_host(pTHX_ pb_subdef *def, I32 ax, I32 items);

XS(pb_trampoline);
XS(pb_trampoline)
{
    dXSARGS;
    pb_subdef *def = (pb_subdef *)CvXSUBANY(cv).any_ptr;
    pb_interp *ip = def->ip;
    if (UNLIKELY(pb_is_child || ip->perl != my_perl)) {
        /* After fork the CLR is gone: the SDK's subs reach the engine as the agent's client.
         * An ithread clone is an interpreter C# never met: the SDK's subs fall back to their
         * Perl stand-ins. Other host subs do nothing. */
        if (def->fallback && ((pb_is_child && ip->perl == my_perl) || (ip->perl != my_perl && pb_client_is_clone(aTHX)))) {
            PUTBACK;
            I32 n = pb_client_xsub(aTHX_ def->fallback + sizeof "Sentry::Internal::Null::" - 1, ax, items);
            XSRETURN(n);
        }
        CV *stand_in = def->fallback ? get_cv(def->fallback, 0) : NULL;
        if (!stand_in) {
            if (ip->perl != my_perl)
                croak("PerlSentry: host subs cannot be called from an ithread clone");
            XSRETURN_EMPTY;
        }
        PUSHMARK(MARK);   /* the arguments are still on the stack above MARK */
        PUTBACK;
        I32 n = call_sv((SV *)stand_in, GIMME_V);
        XSRETURN(n);
    }
    call_host(aTHX_ def, ax, items);
}

/* The call into C#: the arguments are ST(0) .. ST(items - 1) from `ax`; the results replace them. */
static inline void call_host(pTHX_ pb_subdef *def, I32 ax, I32 items)
{
    dSP;
    pb_interp *ip = def->ip;
    int d = ip->cb_depth;
    pb_cbframe *f = frame_at(ip, d);
    f->args.len = 0;
    f->ret.len = 0;
    for (I32 i = 0; i < items; i++)
        if (!pb_put_plain_iv(&f->args, ST(i)))
            pb_encode_sv(aTHX_ &f->args, ST(i));
    U8 gimme = GIMME_V;
    int32_t ctx = gimme == G_VOID ? PB_CTX_VOID : gimme == G_SCALAR ? PB_CTX_SCALAR : PB_CTX_LIST;
    int32_t count = 0, exit_status = 0;
    int saved_errno = errno;   /* C# file and socket calls must not change the program's $! */
    ip->cb_depth = d + 1;
    int32_t st = pb_callback(ip, def->id, ctx, f->args.data, f->args.len,
                             (int32_t)items, &f->ret, &count, &exit_status);
    ip->cb_depth = d;
    errno = saved_errno;
    /* C# may have run Perl code, which can reallocate the argument stack. */
    SPAGAIN;
    const uint8_t *p = f->ret.data, *end = p + f->ret.len;
    if (st == PB_OK) {
        SP -= items;
        if (count == 1 && (PL_op->op_private & OPpENTERSUB_HASTARG)) {
            /* One plain scalar: reuse the call op's target instead of a new mortal. */
            SV *targ = PAD_SV(PL_op->op_targ);
            if (pb_decode_scalar_into(aTHX_ targ, &p, end)) {
                EXTEND(SP, 1);
                PUSHs(targ);
                PUTBACK;
                return;
            }
        }
        EXTEND(SP, count);
        for (int32_t i = 0; i < count; i++) {
            SV *sv = pb_decode_sv(aTHX_ &p, end);
            if (!sv)
                croak("PerlSentry: a C# sub returned a malformed value");
            PUSHs(sv_2mortal(sv));
        }
        PUTBACK;
        return;
    }
    if (st == PB_EXITED)
        my_exit((U32)exit_status);
    SV *msg = pb_decode_sv(aTHX_ &p, end);
    SV *val = msg ? pb_decode_sv(aTHX_ &p, end) : NULL;
    if (msg)
        sv_2mortal(msg);
    if (val && SvROK(val))
        croak_sv(sv_2mortal(val));   /* rethrow the original exception object */
    SvREFCNT_dec(val);
    croak_sv(msg ? msg : sv_2mortal(newSVpvs("PerlSentry: a C# sub failed")));
}

/* A call of a host sub that perl compiled knowing the sub (`Sentry::Engine::scope_set(...)`, not
 * `&$ref` or `&name`) runs this op in place of entersub: the trampoline straight away, without
 * entersub's scope (ENTER, SAVETMPS, LEAVE) and dispatch, which cost about as much as the call into
 * C# itself (bench/RESULTS.md, Bridge call cost). Anything unusual takes perl's own entersub: the
 * name now holds another sub, the debugger wants its DB::sub, a forked child or an ithread clone
 * (the trampoline's fallbacks need entersub's scope). */
static OP *pb_pp_host_call(pTHX)
{
    SV *sv = *PL_stack_sp;
    CV *cv = SvTYPE(sv) == SVt_PVGV ? GvCV((GV *)sv)
           : SvROK(sv) && SvTYPE(SvRV(sv)) == SVt_PVCV ? (CV *)SvRV(sv)
           : NULL;
    if (UNLIKELY(!cv || !CvISXSUB(cv) || CvXSUB(cv) != pb_trampoline
                 || (PL_op->op_private & OPpENTERSUB_DB) || !(PL_op->op_flags & OPf_STACKED) || pb_is_child))
        return PL_ppaddr[OP_ENTERSUB](aTHX);
    pb_subdef *def = (pb_subdef *)CvXSUBANY(cv).any_ptr;
    if (UNLIKELY(def->perl != my_perl))
        return PL_ppaddr[OP_ENTERSUB](aTHX);
    PL_stack_sp--;   /* the sub itself, as entersub pops it */
    I32 base = POPMARK;
    bool scalar = GIMME_V == G_SCALAR;
    call_host(aTHX_ def, base + 1, (I32)(PL_stack_sp - (PL_stack_base + base)));
    if (scalar) {
        /* Exactly one value in scalar context, as entersub makes it: undef for none, else the last. */
        SV **first = PL_stack_base + base + 1;
        if (PL_stack_sp < first)
            *first = &PL_sv_undef;
        else if (PL_stack_sp > first)
            *first = *PL_stack_sp;
        PL_stack_sp = first;
    }
    /* A sample that fell due while C# ran lands on the caller's line (see pb_sample.c's op wrappers). */
    return UNLIKELY(PL_sig_pending) ? pb_sample_after_host_call(aTHX_ PL_op->op_next) : PL_op->op_next;
}

static OP *pb_ck_host_call(pTHX_ OP *o, GV *namegv, SV *ckobj)
{
    o = ck_entersub_args_proto_or_list(o, namegv, ckobj);
    if (o->op_type == OP_ENTERSUB)
        o->op_ppaddr = pb_pp_host_call;
    return o;
}

struct define_ctx { pb_interp *ip; const char *name; int32_t id; };

static void define_body(pTHX_ void *c, pb_result *res, int32_t *status)
{
    struct define_ctx *k = c;
    make_xsub(aTHX_ k->ip, k->name, k->id);
}

/* Sentry::Engine::NAME falls back to Sentry::Internal::Null::NAME where C# cannot answer. */
static char *fallback_for(const char *name)
{
    static const char engine[] = "Sentry::Engine::", null_pkg[] = "Sentry::Internal::Null::";
    if (strncmp(name, engine, sizeof engine - 1) != 0)
        return NULL;
    const char *rest = name + sizeof engine - 1;
    char *f = malloc(sizeof null_pkg + strlen(rest));
    if (!f)
        abort();
    memcpy(f, null_pkg, sizeof null_pkg - 1);
    strcpy(f + sizeof null_pkg - 1, rest);
    return f;
}

static void make_xsub(pTHX_ pb_interp *ip, const char *name, int32_t id)
{
    CV *cv = newXS(name, pb_trampoline, "PerlSentry");
    pb_subdef *def = malloc(sizeof *def);
    if (!def)
        abort();
    def->ip = ip;
    def->perl = my_perl;
    def->id = id;
    def->fallback = fallback_for(name);
    def->next = ip->subdefs;
    ip->subdefs = def;
    CvXSUBANY(cv).any_ptr = def;
    if (!getenv("PERLSENTRY_ENTERSUB"))   /* =1: every call through perl's entersub (for comparison) */
        cv_set_call_checker_flags(cv, pb_ck_host_call, (SV *)cv, 0);
}

void pb_define_pending(pTHX_ pb_interp *ip)
{
    for (int i = 0; i < ip->pending_count; i++) {
        make_xsub(aTHX_ ip, ip->pending[i].name, ip->pending[i].id);
        free(ip->pending[i].name);
    }
    free(ip->pending);
    ip->pending = NULL;
    ip->pending_count = 0;
}

int32_t pb_define_sub(pb_interp *ip, const uint8_t *name, size_t name_len, int32_t id, pb_result *res)
{
    char *z = malloc(name_len + 1);
    memcpy(z, name, name_len);
    z[name_len] = 0;
    if (!ip->stashes_ready) {
        /* Before perl_parse there are no stashes: xs_init defines it, before BEGIN blocks run. */
        struct pb_pending_sub *p = realloc(ip->pending, (size_t)(ip->pending_count + 1) * sizeof *p);
        if (!p)
            abort();
        ip->pending = p;
        p[ip->pending_count].name = z;
        p[ip->pending_count].id = id;
        ip->pending_count++;
        res->out.len = 0;
        res->count = 0;
        return PB_OK;
    }
    struct define_ctx k = { ip, z, id };
    int32_t st = guarded(ip, define_body, &k, res);
    free(z);
    return st;
}
