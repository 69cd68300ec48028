/* The value wire format between Perl and C# (tags in pb_api.h).
 * Plain arrays and hashes are copied deeply; objects, code, globs and scalar
 * references cross as handles (one SV reference owned by the receiver). */
#include "pb_common.h"
#include <stdlib.h>
#include <string.h>

#define PB_MAX_DEPTH 64   /* deeper (or cyclic) structures cross as handles */

void pb_buf_reserve(pb_buf *b, size_t extra)
{
    size_t need = b->len + extra;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (!d)
        abort();   /* out of memory: perl itself would panic too */
    b->data = d;
    b->cap = cap;
}

void pb_buf_reset(pb_buf *b) { b->len = 0; }

void pb_buf_release(pb_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void pb_put_u8(pb_buf *b, uint8_t v)
{
    pb_buf_reserve(b, 1);
    b->data[b->len++] = v;
}

void pb_put_u32(pb_buf *b, uint32_t v)
{
    pb_buf_reserve(b, 4);
    memcpy(b->data + b->len, &v, 4);
    b->len += 4;
}

static void put_u64(pb_buf *b, uint64_t v)
{
    pb_buf_reserve(b, 8);
    memcpy(b->data + b->len, &v, 8);
    b->len += 8;
}

void pb_put_str(pb_buf *b, uint8_t tag, const char *s, size_t len)
{
    pb_buf_reserve(b, 5 + len);
    b->data[b->len++] = tag;
    uint32_t l = (uint32_t)len;
    memcpy(b->data + b->len, &l, 4);
    memcpy(b->data + b->len + 4, s, len);
    b->len += 4 + len;
}

void pb_put_name(pb_buf *b, const char *name)
{
    size_t len = name ? strlen(name) : 0;
    pb_buf_reserve(b, 4 + len);
    uint32_t l = (uint32_t)len;
    memcpy(b->data + b->len, &l, 4);
    if (len)
        memcpy(b->data + b->len + 4, name, len);
    b->len += 4 + len;
}

uint8_t pb_ref_kind(pTHX_ SV *ref);

static void put_handle(pTHX_ pb_buf *b, SV *ref)
{
    SV *rv = SvRV(ref);
    uint8_t kind = pb_ref_kind(aTHX_ ref);
    pb_put_u8(b, PB_T_REF);
    put_u64(b, (uint64_t)(uintptr_t)newSVsv(ref));   /* the receiver owns this copy */
    pb_put_u8(b, kind);
    pb_put_name(b, SvOBJECT(rv) ? HvNAME(SvSTASH(rv)) : NULL);
}

static void encode_with(pTHX_ pb_buf *b, SV *sv, int depth, int magic, pb_ref_writer put_ref, void *ctx);

static void put_handle_writer(pTHX_ pb_buf *b, SV *ref, void *ctx) { (void)ctx; put_handle(aTHX_ b, ref); }

static void encode(pTHX_ pb_buf *b, SV *sv, int depth, int magic)
{
    encode_with(aTHX_ b, sv, depth, magic, put_handle_writer, NULL);
}

static void encode_with(pTHX_ pb_buf *b, SV *sv, int depth, int magic, pb_ref_writer put_ref, void *ctx)
{
    if (magic)
        SvGETMAGIC(sv);
    if (pb_put_plain_iv(b, sv))
        return;
    if (SvROK(sv)) {
        SV *rv = SvRV(sv);
        if (!SvOBJECT(rv) && depth < PB_MAX_DEPTH && !SvRMAGICAL(rv)) {
            if (SvTYPE(rv) == SVt_PVAV) {
                AV *av = (AV *)rv;
                SSize_t n = av_count(av);
                pb_put_u8(b, PB_T_ARRAY);
                pb_put_u32(b, (uint32_t)n);
                for (SSize_t i = 0; i < n; i++) {
                    SV **e = av_fetch(av, i, 0);
                    encode_with(aTHX_ b, e ? *e : &PL_sv_undef, depth + 1, 1, put_ref, ctx);
                }
                return;
            }
            if (SvTYPE(rv) == SVt_PVHV) {
                HV *hv = (HV *)rv;
                pb_put_u8(b, PB_T_HASH);
                size_t count_at = b->len;
                pb_put_u32(b, 0);
                uint32_t n = 0;
                HE *he;
                hv_iterinit(hv);
                while ((he = hv_iternext(hv))) {
                    STRLEN klen;
                    const char *k = HePV(he, klen);
                    pb_put_str(b, HeUTF8(he) ? PB_T_STR : PB_T_BYTES, k, klen);
                    encode_with(aTHX_ b, HeVAL(he), depth + 1, 1, put_ref, ctx);
                    n++;
                }
                memcpy(b->data + count_at, &n, 4);
                return;
            }
        }
        put_ref(aTHX_ b, sv, ctx);
        return;
    }
#ifdef SvIsBOOL
    if (SvIsBOOL(sv)) {
        pb_put_u8(b, PB_T_BOOL);
        pb_put_u8(b, SvTRUE_nomg_NN(sv) ? 1 : 0);
        return;
    }
#endif
    if (SvPOKp(sv)) {
        STRLEN len;
        const char *s = SvPV_nomg(sv, len);
        pb_put_str(b, SvUTF8(sv) ? PB_T_STR : PB_T_BYTES, s, len);
    } else if (SvNOKp(sv)) {
        NV nv = SvNVX(sv);
        pb_put_u8(b, PB_T_NV);
        pb_buf_reserve(b, 8);
        memcpy(b->data + b->len, &nv, 8);
        b->len += 8;
    } else if (SvIOKp(sv)) {
        pb_put_u8(b, SvIsUV(sv) ? PB_T_UV : PB_T_IV);
        put_u64(b, (uint64_t)SvIVX(sv));
    } else if (SvOK(sv)) {
        /* globs, vstrings, regexps and such: their string form */
        STRLEN len;
        const char *s = SvPV_nomg(sv, len);
        pb_put_str(b, SvUTF8(sv) ? PB_T_STR : PB_T_BYTES, s, len);
    } else {
        pb_put_u8(b, PB_T_UNDEF);
    }
}

void pb_encode_sv(pTHX_ pb_buf *b, SV *sv) { encode(aTHX_ b, sv, 0, 1); }

void pb_encode_sv_refs(pTHX_ pb_buf *b, SV *sv, pb_ref_writer put_ref, void *ctx) { encode_with(aTHX_ b, sv, 0, 1, put_ref, ctx); }

/* The kind of the referent, as PB_T_REF records it. */
uint8_t pb_ref_kind(pTHX_ SV *ref)
{
    SV *rv = SvRV(ref);
    switch (SvTYPE(rv)) {
    case SVt_PVAV: return PB_REF_ARRAY;
    case SVt_PVHV: return PB_REF_HASH;
    case SVt_PVCV: return PB_REF_CODE;
    case SVt_PVGV: return PB_REF_GLOB;
    default: return SvTYPE(rv) < SVt_PVAV ? PB_REF_SCALAR : PB_REF_OTHER;
    }
}

static int take(const uint8_t **p, const uint8_t *end, void *dst, size_t n)
{
    if ((size_t)(end - *p) < n)
        return 0;
    memcpy(dst, *p, n);
    *p += n;
    return 1;
}

int pb_decode_scalar_into(pTHX_ SV *target, const uint8_t **p, const uint8_t *end)
{
    const uint8_t *q = *p;
    if (q >= end)
        return 0;
    switch (*q) {
    case PB_T_IV: {
        int64_t v;
        if (end - q < 9) return 0;
        memcpy(&v, q + 1, 8);
        if ((SvFLAGS(target) & (SVTYPEMASK | SVf_THINKFIRST | SVf_IVisUV)) == SVt_IV) {
            /* A plain IV (no reference, no magic): set in place, as perl's TARGi does. */
            SvFLAGS(target) |= SVf_IOK | SVp_IOK;
            SvIV_set(target, (IV)v);
        } else {
            sv_setiv(target, (IV)v);
        }
        *p = q + 9;
        return 1;
    }
    case PB_T_NV: {
        double v;
        if (end - q < 9) return 0;
        memcpy(&v, q + 1, 8);
        sv_setnv(target, (NV)v);
        *p = q + 9;
        return 1;
    }
    case PB_T_STR:
    case PB_T_BYTES: {
        uint32_t len;
        if (end - q < 5) return 0;
        memcpy(&len, q + 1, 4);
        if ((size_t)(end - q - 5) < len) return 0;
        sv_setpvn(target, (const char *)q + 5, len);
        if (*q == PB_T_STR) SvUTF8_on(target); else SvUTF8_off(target);
        *p = q + 5 + len;
        return 1;
    }
    default:
        return 0;   /* undef, refs, structures: the caller makes a new SV */
    }
}

static SV *decode(pTHX_ const uint8_t **p, const uint8_t *end, int refs);

SV *pb_decode_sv(pTHX_ const uint8_t **p, const uint8_t *end) { return decode(aTHX_ p, end, 1); }

SV *pb_decode_sv_plain(pTHX_ const uint8_t **p, const uint8_t *end) { return decode(aTHX_ p, end, 0); }

static SV *decode(pTHX_ const uint8_t **p, const uint8_t *end, int refs)
{
    uint8_t tag;
    if (!take(p, end, &tag, 1))
        return NULL;
    switch (tag) {
    case PB_T_UNDEF:
        return newSV(0);
    case PB_T_BOOL: {
        uint8_t v;
        if (!take(p, end, &v, 1)) return NULL;
        return newSVsv(v ? &PL_sv_yes : &PL_sv_no);
    }
    case PB_T_IV: {
        int64_t v;
        if (!take(p, end, &v, 8)) return NULL;
        return newSViv((IV)v);
    }
    case PB_T_UV: {
        uint64_t v;
        if (!take(p, end, &v, 8)) return NULL;
        return newSVuv((UV)v);
    }
    case PB_T_NV: {
        double v;
        if (!take(p, end, &v, 8)) return NULL;
        return newSVnv((NV)v);
    }
    case PB_T_STR:
    case PB_T_BYTES: {
        uint32_t len;
        if (!take(p, end, &len, 4) || (size_t)(end - *p) < len) return NULL;
        SV *sv = newSVpvn((const char *)*p, len);
        *p += len;
        if (tag == PB_T_STR)
            SvUTF8_on(sv);
        return sv;
    }
    case PB_T_ARRAY: {
        uint32_t n;
        if (!take(p, end, &n, 4)) return NULL;
        if (n > (size_t)(end - *p))   /* every value takes at least one byte */
            return NULL;
        AV *av = newAV();
        if (n) av_extend(av, n - 1);
        for (uint32_t i = 0; i < n; i++) {
            SV *e = decode(aTHX_ p, end, refs);
            if (!e) { SvREFCNT_dec((SV *)av); return NULL; }
            av_push(av, e);
        }
        return newRV_noinc((SV *)av);
    }
    case PB_T_HASH: {
        uint32_t n;
        if (!take(p, end, &n, 4)) return NULL;
        HV *hv = newHV();
        for (uint32_t i = 0; i < n; i++) {
            SV *k = decode(aTHX_ p, end, refs);
            SV *v = k ? decode(aTHX_ p, end, refs) : NULL;
            if (!v) { SvREFCNT_dec(k); SvREFCNT_dec((SV *)hv); return NULL; }
            hv_store_ent(hv, k, v, 0);
            SvREFCNT_dec(k);
        }
        return newRV_noinc((SV *)hv);
    }
    case PB_T_REF: {
        uint64_t h;
        uint8_t kind;
        uint32_t len;
        if (!take(p, end, &h, 8) || !take(p, end, &kind, 1) || !take(p, end, &len, 4)
            || (size_t)(end - *p) < len)
            return NULL;
        *p += len;   /* the class name is informational */
        if (!refs)
            return newSV(0);   /* from another process: never a pointer here */
        return newSVsv((SV *)(uintptr_t)h);   /* the sender keeps its handle */
    }
    default:
        return NULL;
    }
}

/* Steps over one value without making SVs (safe off the interpreter's thread). 0 on success. */
int pb_skip_value(const uint8_t **p, const uint8_t *end)
{
    uint8_t tag;
    uint32_t n;
    if (!take(p, end, &tag, 1))
        return -1;
    switch (tag) {
    case PB_T_UNDEF: return 0;
    case PB_T_BOOL: return (*p += 1) <= end ? 0 : -1;
    case PB_T_IV: case PB_T_UV: case PB_T_NV: return end - *p >= 8 ? (*p += 8, 0) : -1;
    case PB_T_STR: case PB_T_BYTES:
        if (!take(p, end, &n, 4) || (size_t)(end - *p) < n) return -1;
        *p += n;
        return 0;
    case PB_T_ARRAY:
        if (!take(p, end, &n, 4)) return -1;
        for (uint32_t i = 0; i < n; i++)
            if (pb_skip_value(p, end) != 0) return -1;
        return 0;
    case PB_T_HASH:
        if (!take(p, end, &n, 4)) return -1;
        for (uint32_t i = 0; i < 2 * n; i++)
            if (pb_skip_value(p, end) != 0) return -1;
        return 0;
    case PB_T_REF:
        if (end - *p < 13) return -1;
        *p += 9;
        if (!take(p, end, &n, 4) || (size_t)(end - *p) < n) return -1;
        *p += n;
        return 0;
    default:
        return -1;
    }
}
