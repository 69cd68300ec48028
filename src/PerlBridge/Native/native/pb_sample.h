/* The sampling profiler's native half: a sampler thread on absolute deadlines asks each
 * profiled interpreter for a sample by setting PL_sig_pending; the interpreter's
 * PL_signalhook takes it at the next safe point. No signals are involved. */
#ifndef PB_SAMPLE_H
#define PB_SAMPLE_H

#include "pb_common.h"

/* Installs the wrappers on ops that block or run long without a safe point.
 * Process-wide; must run before any interpreter compiles code. */
void pb_sample_wrap_ops(void);
/* Where string eval number `seq` of this interpreter ran: 1 and its file and line, or 0. Owner thread. */
int pb_sample_eval_site(pb_interp *ip, uint32_t seq, const char **file, uint32_t *line);
/* Calls hook (on the interpreter's thread) just before the program's exec replaces the process:
 * for ops compiled after this. NULL stops calling it. */
void pb_sample_on_exec(void (*hook)(void));
/* Also wraps entersub, so time inside XS subs lands on their caller's frame, not the next one. */
void pb_sample_wrap_xs(void);
/* The safe point a host sub's own call op (pb_call.c, which bypasses entersub) takes at its end,
 * when entersub is wrapped: the time inside C# lands on the calling statement, as for XS subs. */
OP *pb_sample_after_host_call(pTHX_ OP *next);

/* Record layout of the drained buffer (little endian), one per sample:
 *   u64 monotonic ns of the first tick it stands for, u32 weight (ticks), u16 frame count,
 *   u16 flags (1: stack truncated at max depth; 2: a marker taken inside an SDK call, whose
 *   innermost frames are the SDK's own), then per frame, innermost first:
 *   u16 name length, name, u16 file length, file, u32 line. */
#define PB_SAMPLE_TRUNCATED 1
#define PB_SAMPLE_MARKER    2

int32_t pb_sample_start(pb_interp *ip, int64_t interval_ns, int32_t max_depth);
void pb_sample_stop(pb_interp *ip);   /* any thread */
int32_t pb_sample_drain(pb_interp *ip, pb_buf *out);
int32_t pb_sample_now(pb_interp *ip);

/* The interrupt hook (PL_signalhook of host interpreters): perl's signals, then a pending interrupt. */
void pb_interrupt_hook(pTHX);
/* From any thread: the Perl code running in ip dies with `message` at its next safe point. */
int32_t pb_interrupt(pb_interp *ip, const char *message);
void pb_clock(int64_t *monotonic_ns, int64_t *realtime_ns);
void pb_sample_forget(pb_interp *ip);

#endif
