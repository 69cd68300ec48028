/* The one table the shim hands to C# (src/PerlBridge/Native/PerlNative.cs mirrors it).
 * Bump PB_ABI_VERSION on any change to a signature or to the order of fields. */
#ifndef PB_API_H
#define PB_API_H

#include <stdint.h>
#include <stddef.h>

#define PB_ABI_VERSION 4

/* Status of every entry that runs Perl code. */
#define PB_OK      0
#define PB_DIED    1   /* Perl died: result holds message, file, line, error value */
#define PB_EXITED  2   /* Perl called exit: result.exit_status holds the status */
#define PB_ERROR  -1   /* bridge failure: result holds a message */

/* Calling context, as C# passes it. */
#define PB_CTX_VOID   0
#define PB_CTX_SCALAR 1
#define PB_CTX_LIST   2

/* Value tags of the wire format shared with PerlValueCodec.cs (little endian). */
#define PB_T_UNDEF  0
#define PB_T_IV     1   /* int64 */
#define PB_T_UV     2   /* uint64 */
#define PB_T_NV     3   /* double */
#define PB_T_STR    4   /* u32 length + UTF-8 characters */
#define PB_T_BYTES  5   /* u32 length + bytes (a perl string without the UTF-8 flag) */
#define PB_T_ARRAY  6   /* u32 count + values */
#define PB_T_HASH   7   /* u32 count + (key: STR or BYTES value, value) pairs */
#define PB_T_REF    8   /* u64 SV* (receiver owns one reference) + u8 kind + u32 length + class name */
#define PB_T_BOOL   9   /* u8 0 or 1 */

#define PB_REF_SCALAR 0
#define PB_REF_ARRAY  1
#define PB_REF_HASH   2
#define PB_REF_CODE   3
#define PB_REF_GLOB   4
#define PB_REF_OTHER  5

/* A growable byte buffer; data comes from malloc and is freed by buf_free. */
typedef struct pb_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} pb_buf;

typedef struct pb_result {
    pb_buf out;           /* results, or the error record on PB_DIED / PB_ERROR */
    int32_t exit_status;  /* on PB_EXITED */
    int32_t count;        /* number of values in out on PB_OK */
} pb_result;

typedef struct pb_interp pb_interp;

/* Called on the interpreter's thread for every call of a sub registered by define_sub.
 * args: the encoded arguments (borrowed for the duration of the call).
 * ret: the callee appends encoded results (PB_OK), an error record (PB_DIED: message
 * string, then optionally a REF to rethrow) or nothing (PB_EXITED, status in *exit_status).
 * Returns the number of results on PB_OK through *count. */
typedef int32_t (*pb_callback_fn)(pb_interp *ip, int32_t id, int32_t ctx,
                                  const uint8_t *args, size_t args_len, int32_t nargs,
                                  pb_buf *ret, int32_t *count, int32_t *exit_status);

typedef struct pb_api {
    uint32_t abi;
    uint32_t size;
    const char *perl_version;   /* the perl the shim was compiled against, e.g. "5.36.0" */
    const char *archname;
    const char *perl_path;      /* the perl binary of that build: what $^X says in hosted code */
    const char *lib_dirs;       /* perl's own library dirs (privlib, archlib, vendor*, site*), ':'-separated */

    int32_t (*sys_init)(pb_callback_fn callback, char *err, int32_t errlen);
    pb_interp *(*interp_new)(const char *caret_x, char *err, int32_t errlen);
    int32_t (*interp_parse)(pb_interp *ip, int32_t argc, const char *const *argv);
    int32_t (*interp_run)(pb_interp *ip);
    int32_t (*interp_destruct)(pb_interp *ip);   /* perl_destruct + perl_free; ip stays for drain */
    void (*interp_free)(pb_interp *ip);
    int32_t (*eval)(pb_interp *ip, const uint8_t *code, size_t len, int32_t ctx, pb_result *res);
    int32_t (*call_named)(pb_interp *ip, const uint8_t *name, size_t name_len, int32_t ctx,
                          const uint8_t *args, size_t args_len, int32_t nargs, pb_result *res);
    int32_t (*call_ref)(pb_interp *ip, void *sv, int32_t ctx,
                        const uint8_t *args, size_t args_len, int32_t nargs, pb_result *res);
    int32_t (*define_sub)(pb_interp *ip, const uint8_t *name, size_t name_len, int32_t id, pb_result *res);
    void (*sv_release)(pb_interp *ip, void *sv);
    void (*buf_reserve)(pb_buf *b, size_t extra);
    void (*buf_free)(pb_buf *b);
    int32_t (*is_child)(void);
    int32_t (*interp_count)(void);
    void (*signals_claim)(pb_interp *ip);

    /* sampling profiler (pb_sample.h) */
    int32_t (*sample_start)(pb_interp *ip, int64_t interval_ns, int32_t max_depth);
    void (*sample_stop)(pb_interp *ip);
    int32_t (*sample_drain)(pb_interp *ip, pb_buf *out);
    int32_t (*sample_now)(pb_interp *ip);
    void (*clock)(int64_t *monotonic_ns, int64_t *realtime_ns);
    void (*sample_wrap_xs)(void);

    /* the agent client of forked children (pb_client.h) */
    void (*client_configure)(const char *agent_cmd, int32_t (*snapshot)(pb_interp *ip, pb_buf *out));
    uint64_t (*client_token)(pb_interp *ip, void *sv);   /* a code ref's token in this interpreter's client */

    /* called on the interpreter's thread just before the program's exec (ops compiled after) */
    void (*sample_on_exec)(void (*hook)(void));

    /* from any thread: the running Perl code dies with the message at its next safe point (a timeout);
     * a NULL message takes back one not yet acted on */
    int32_t (*interrupt)(pb_interp *ip, const char *message);
} pb_api;

#ifndef PB_EXPORT
#define PB_EXPORT
#endif
PB_EXPORT const pb_api *pb_get_api(void);

#endif
