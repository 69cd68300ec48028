/* Shared declarations of the PerlSentry bridge shim.
 *
 * The shim owns everything that depends on perl's macros, inline functions and
 * struct layouts; C# only sees the function table in pb_api.h. */
#ifndef PB_COMMON_H
#define PB_COMMON_H

#define PERL_NO_GET_CONTEXT   /* aTHX is the my_perl we pass, not a TLS lookup */
#include <EXTERN.h>
#include <perl.h>
#include <XSUB.h>
#include <stdint.h>
#include <pthread.h>

#include "pb_api.h"

/* One callback frame per nesting level of Perl -> C# calls: a nested call
 * must not overwrite the arguments its caller may still be reading. */
typedef struct pb_cbframe {
    pb_buf args;
    pb_buf ret;
} pb_cbframe;

struct pb_interp {
    PerlInterpreter *perl;
    pthread_t owner;          /* the only thread that runs this interpreter */
    int argc;
    char **argv;              /* perl keeps pointers into argv: alive until destruct */
    int cb_depth;
    pb_cbframe frame0;        /* the outermost call's frame: no pointer to follow on the usual call */
    int cb_cap;
    pb_cbframe **frames;      /* nested calls' frames (index = depth, 0 unused); frames[i] stays put when the array grows */
    void *sampler;            /* pb_sample state, owned by pb_sample.c */
    char *caret_x;            /* what $^X should say: the real perl, not the host */
    int stashes_ready;        /* perl_parse has reached xs_init: newXS works */
    int pending_count;        /* subs defined before that, made in xs_init */
    struct pb_pending_sub { char *name; int32_t id; } *pending;
    struct pb_subdef *subdefs; /* every sub defined here; freed with the interpreter */
    int interrupt;            /* set by pb_interrupt (another thread): die at the next safe point */
    char interrupt_msg[512];
    void *signal_prev;        /* PL_signalhook before the interrupt hook */
};

/* What each host XSUB carries in CvXSUBANY: no lookup on the call path. */
typedef struct pb_subdef {
    pb_interp *ip;
    PerlInterpreter *perl;    /* ip->perl, read by the compiled call's check without going through ip */
    int32_t id;
    char *fallback;           /* Perl sub that answers where C# cannot (a forked child, an ithread), or NULL */
    struct pb_subdef *next;
} pb_subdef;

/* pb_call.c */
void pb_define_pending(pTHX_ pb_interp *ip);

/* pb_value.c */
void pb_buf_reserve(pb_buf *b, size_t extra);

/* The common argument, a plain integer (no string, ref, bool or float form, no magic), as PB_T_IV:
 * 1 when written, 0 when sv needs the general encoder. */
static inline int pb_put_plain_iv(pb_buf *b, SV *sv)
{
    if ((SvFLAGS(sv) & (SVf_IOK | SVf_POK | SVf_NOK | SVf_ROK | SVs_GMG | SVp_POK | SVp_NOK | SVf_IVisUV)) != SVf_IOK)
        return 0;
    if (UNLIKELY(b->len + 9 > b->cap))
        pb_buf_reserve(b, 9);
    b->data[b->len] = PB_T_IV;
    int64_t v = (int64_t)SvIVX(sv);
    memcpy(b->data + b->len + 1, &v, 8);
    b->len += 9;
    return 1;
}
void pb_buf_reset(pb_buf *b);
void pb_buf_release(pb_buf *b);
void pb_put_u8(pb_buf *b, uint8_t v);
void pb_put_u32(pb_buf *b, uint32_t v);
void pb_put_str(pb_buf *b, uint8_t tag, const char *s, size_t len);
void pb_put_name(pb_buf *b, const char *name);   /* u32 length and bytes; NULL is empty */
/* Appends sv (get-magic applied) to b. */
void pb_encode_sv(pTHX_ pb_buf *b, SV *sv);

/* After JMPENV_POP of a guarded call that did ENTER/SAVETMPS at scope OLDSCOPE: an exit() unwound
 * past our LEAVE (leave every scope down to it), else the call returned or died (leave ours). */
static inline void pb_unwind(pTHX_ I32 oldscope, int exited)
{
    if (exited) {
        while (PL_scopestack_ix > oldscope)
            LEAVE;
        FREETMPS;
    } else {
        FREETMPS;
        LEAVE;
    }
}
/* Appends sv, writing references that are not copied with put_ref (see pb_client.c). */
typedef void (*pb_ref_writer)(pTHX_ pb_buf *b, SV *ref, void *ctx);
void pb_encode_sv_refs(pTHX_ pb_buf *b, SV *sv, pb_ref_writer put_ref, void *ctx);
uint8_t pb_ref_kind(pTHX_ SV *ref);
/* Decodes one value at *p (advanced); the caller owns the returned SV. NULL on malformed input. */
SV *pb_decode_sv(pTHX_ const uint8_t **p, const uint8_t *end);
/* The same for values from another process: a reference decodes as undef, never as a pointer. */
SV *pb_decode_sv_plain(pTHX_ const uint8_t **p, const uint8_t *end);
/* Steps over one value without making SVs (safe off the interpreter's thread). 0 on success. */
int pb_skip_value(const uint8_t **p, const uint8_t *end);
/* Sets target from one IV, NV or string value at *p; returns 0 (nothing consumed) for other kinds. */
int pb_decode_scalar_into(pTHX_ SV *target, const uint8_t **p, const uint8_t *end);

/* pb_registry.c: the live interpreters (at most PB_MAX_INTERPS) */
#define PB_MAX_INTERPS 64
pb_interp *pb_interp_of(pTHX);
pb_interp *pb_interp_at(int i);
int pb_interp_slots(void);
int pb_registry_add(pb_interp *ip);      /* the slot, or -1 when full */
void pb_registry_remove(pb_interp *ip);
int pb_registry_count(void);

/* pb_interp.c */
void pb_child_finish(pTHX);
extern pb_callback_fn pb_callback;

/* pb_signal.c */
void pb_signal_install(void);
extern volatile int pb_is_child;

#endif
