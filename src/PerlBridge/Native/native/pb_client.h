/* The agent client: how an interpreter with no engine in its process (plain perl, a forked
 * child of the host, an ithread) reaches `perl-sentry agent` over a Unix stream socket.
 * Shared by the host's shim (forked children) and the XS module PerlSentry::Client (plain perl).
 *
 * Frames, both ways: u32 length of what follows, u8 kind, payload (little endian; values in the
 * shim's format, pb_api.h). Client to agent:
 *   HELLO      values: protocol, pid, thread id, thread name, perl version, library dirs (':'), origin
 *              (a hash: kind, snapshot; or undef), current directory
 *   CALL       u32 seq, u8 flags (1: reply wanted, 2: list context), u64 monotonic ns, name (STR), u32 count, values
 *   SAMPLES    the sampler's drained records (pb_sample.h)
 *   CB_RESULT  u32 seq, u8 status (0 ok, 1 died, 2 exit), a value (the result, the message, the status)
 * Agent to client:
 *   HELLO_OK   values: session id; then sampler commands and warnings
 *   REPLY      u32 seq, u8 status (0 ok, 1 died, 2 exit), u32 count, values; then sampler commands and warnings
 *   CALLBACK   u32 seq, u64 token, u32 count, values: run a code reference the client handed over
 *   ACK        u32 seq: every call up to it is handled (what the client would send a new agent again);
 *              u8 sampler releases made by calls that did not wait (carried out at the next call)
 * Sampler commands: u8 count, then per command u8 op (1 acquire: u32 interval us, u32 depth;
 * 2 release). The agent decides what to profile; the client holds and marks the sampler.
 * Warnings: u8 count, then strings the client prints on the program's STDERR. Then one byte of
 * hints, which calls must wait from now on: 1 capture_event, 2 transaction_start, 4 transaction_finish
 * (a profiled transaction's finish does not wait: the client takes its closing sample and ships its
 * samples ahead of the call).
 *
 * One-way calls are batched and written by a flusher thread; calls that wait write at once and
 * read their reply on the calling thread (running callbacks the agent asks for meanwhile). */
#ifndef PB_CLIENT_H
#define PB_CLIENT_H

#include "pb_common.h"

#define PB_PROTOCOL 1

#define PB_F_HELLO     1
#define PB_F_CALL      2
#define PB_F_SAMPLES   3
#define PB_F_CB_RESULT 4
#define PB_F_HELLO_OK  0x80
#define PB_F_REPLY     0x81
#define PB_F_CALLBACK  0x82
#define PB_F_ACK       0x83

#define PB_CMD_ACQUIRE 1
#define PB_CMD_RELEASE 2

typedef struct pb_client pb_client;

/* Produces the snapshot of the calling interpreter's session that a forked child continues
 * from (the host's engine fills it in; the XS module asks the agent). 0 on success. */
typedef int (*pb_snapshot_fn)(pTHX_ pb_buf *out);

/* Process-wide settings: the command that starts the agent (copied; NULL keeps the default:
 * $PERLSENTRY_AGENT_BIN, else `perl-sentry` on PATH) and where fork snapshots come from. */
void pb_client_configure(const char *agent_cmd, pb_snapshot_fn snapshot);

/* The calling interpreter's client, made on first use (never NULL). */
pb_client *pb_client_get(pTHX);

/* Calls Sentry::Engine::NAME through the agent. Results are pushed as mortals on *out (an AV the
 * caller owns). Returns 1 when the call went (or was queued), 0 when the agent cannot be reached
 * (the caller falls back to the Perl stand-in), and never dies; an exit inside a callback the
 * agent asked for is passed on as *exit_status >= 0. A died call sets *died to its message. */
int pb_client_call(pTHX_ pb_client *c, const char *name, SV **args, I32 nargs, int list, AV *out, SV **died, int *exit_status);

/* The body of Sentry::Engine::NAME where the engine is the agent: arguments at ST(0..items-1)
 * (ax as dXSARGS set it); returns how many results it left at ST(0). Falls back to
 * Sentry::Internal::Null::NAME where the agent cannot answer. */
I32 pb_client_xsub(pTHX_ const char *name, I32 ax, I32 items);

/* Snapshot of this interpreter's session for a fork, taken in the parent (pb_snapshot_fn of the XS module). */
int pb_client_snapshot(pTHX_ pb_buf *out);

/* Whether this interpreter's client is in use (it sent or queued a call). */
int pb_client_active(pTHX);

/* Sends what is queued and closes the connection (at interpreter destruction). */
void pb_client_close(pTHX);

/* In an ithread clone's CLONE: its client continues from the parent's snapshot (taken in
 * CLONE_SKIP), with the parent's code references mapped to the clone's copies (same tokens). */
void pb_client_clone(pTHX_ SV *snapshot, UV parent, const char *thread_name);
int pb_client_is_clone(pTHX);
/* When the clone's interpreter ends: send what is queued, close, forget its sampler. */
void pb_client_clone_done(pTHX);

/* Defines PerlSentry::Client::_clone and ::_interp_id (the XS module's boot, the host's xs_init). */
void pb_client_define_subs(pTHX);

/* Registers a code reference the agent may call back; its token. The client holds a reference. */
uint64_t pb_client_token(pTHX_ pb_client *c, SV *code);

#endif
