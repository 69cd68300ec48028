/* See pb_client.h. Nothing here may die into the program or block it on the agent for long:
 * a call that cannot reach the agent returns 0 and the caller uses the Perl stand-in. */
#include "pb_client.h"
/* Messages and paths are cut to their buffers on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "pb_sample.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define ST_NEW      0   /* not connected yet (or lost): the next flush or waiting call connects */
#define ST_UP       1
#define ST_FAILED   2   /* the agent cannot be reached: calls fall back until retry_at */

#define OUT_LIMIT   (16u << 20)   /* queued one-way frames beyond this are dropped and counted */
#define REPLY_WAIT_MS 10000       /* a waiting call gives up on a silent agent after this */

struct pb_client {
    PerlInterpreter *perl;
    pthread_t owner;              /* the interpreter's thread */
    int64_t tid;                  /* its OS thread id (the profile's thread_id) */
    char thread_name[32];
    pb_interp *ip;                /* the interpreter's sampler state */
    pid_t pid;                    /* the process this state belongs to */
    pthread_mutex_t lock;         /* out, fd, state, hello */
    pthread_cond_t wake;          /* the flusher's */
    int fd;
    dev_t fd_dev;                 /* what fd was when we opened it: a program that closes */
    ino_t fd_ino;                 /*   and reuses descriptors must not get our frames */
    int state;
    uint64_t retry_at_ns;
    int used;                     /* a call was made: the flusher has work to do */
    int ever_connected;
    pb_buf out;                   /* frames not written yet */
    pb_buf unanswered;            /* frames written since the agent last answered: replayed to a new agent */
    pb_buf in;                    /* bytes read, not yet a whole frame */
    uint32_t seq;
    pb_buf origin;                /* HELLO's origin value: a fork's snapshot, else undef */
    pb_buf init_frame;            /* the last init call, replayed to an agent that restarted */
    int wait_capture, wait_tx_start, wait_tx_finish;
    int tx_start_ahead;           /* a transaction start may profile: the client takes the sampler ahead, */
    uint32_t ahead_interval_us;   /*   at these settings, instead of waiting for the agent to say so */
    uint32_t ahead_depth;
    int sampler_users;
    int deferred_releases;   /* sampler releases an ACK brought to the flusher: applied on the owner's next call */
    SV **refs;                    /* code references handed to the agent; token = index + 1 */
    uint32_t nrefs, refcap;
    pthread_t flusher;
    int flusher_running;
    int stopping;
    uint64_t dropped;             /* one-way frames dropped (queue full) */
    char why[256];                /* why the agent cannot be reached, for the stand-in's warning */
    char sdk_dir[1024];           /* where Sentry/SDK.pm came from: library code, not the app's */
    int is_clone;                 /* an ithread's: set up by pb_client_clone */
    int awaiting;                 /* a call waits for its reply (the calling thread reads the socket) */
    pb_buf snap;                  /* the last fork's snapshot, and the call it was taken at */
    uint32_t snap_seq;
};

static char *g_agent_cmd;
static pb_snapshot_fn g_snapshot;
static pthread_mutex_t g_clients_lock = PTHREAD_MUTEX_INITIALIZER;
static pb_client *g_clients[PB_MAX_INTERPS];
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

/* ---- small helpers ---- */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void put_u64(pb_buf *b, uint64_t v)
{
    pb_buf_reserve(b, 8);
    memcpy(b->data + b->len, &v, 8);
    b->len += 8;
}

static size_t frame_begin(pb_buf *b, uint8_t kind)
{
    size_t at = b->len;
    pb_put_u32(b, 0);
    pb_put_u8(b, kind);
    return at;
}

static void frame_end(pb_buf *b, size_t at)
{
    uint32_t len = (uint32_t)(b->len - at - 4);
    memcpy(b->data + at, &len, 4);
}

static void put_iv(pb_buf *b, int64_t v)
{
    pb_put_u8(b, PB_T_IV);
    put_u64(b, (uint64_t)v);
}

static void put_text(pb_buf *b, const char *s) { pb_put_str(b, PB_T_BYTES, s ? s : "", s ? strlen(s) : 0); }

static int g_debug = -1;

/* Client-side debug lines on STDERR (the `debug` option, or PERLSENTRY_DEBUG=1). */
static void debug_line(const char *fmt, const char *a, long n)
{
    if (g_debug < 0) {
        const char *e = getenv("PERLSENTRY_DEBUG");
        g_debug = e && *e == '1';
    }
    if (!g_debug)
        return;
    char line[600];
    int len = snprintf(line, sizeof line, "[sentry] client %ld: ", (long)getpid());
    len += snprintf(line + len, sizeof line - (size_t)len, fmt, a ? a : "", n);
    line[len < (int)sizeof line - 1 ? len : (int)sizeof line - 2] = 0;
    strcat(line, "\n");
    ssize_t w = write(2, line, strlen(line));
    (void)w;
}

static void set_why(pb_client *c, const char *fmt, const char *a, const char *b)
{
    snprintf(c->why, sizeof c->why, fmt, a ? a : "", b ? b : "");
    debug_line("%s%.0ld", c->why, 0);
}

/* ---- where the agent is ---- */

/* The agent's folder is ours alone: made 0700, refused when someone else owns it or can write it. */
static int private_dir(pb_client *c, const char *dir)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        set_why(c, "cannot create %s (%s)", dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        set_why(c, "%s is not a directory", dir, NULL);
        return -1;
    }
    if (st.st_uid != getuid()) {
        set_why(c, "%s belongs to another user; remove it or set PERLSENTRY_AGENT to a socket of your own", dir, NULL);
        return -1;
    }
    if (st.st_mode & 022) {
        set_why(c, "%s can be written by other users; make it private (chmod 700)", dir, NULL);
        return -1;
    }
    return 0;
}

/* The socket (and the lock file next to it): $PERLSENTRY_AGENT, else a private folder of ours. */
static int socket_path(pb_client *c, char *path, size_t n, char *lock, size_t ln, int *is_default)
{
    const char *env = getenv("PERLSENTRY_AGENT");
    char dir[4096];
    *is_default = !(env && *env);
    if (!*is_default) {
        if (strlen(env) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            set_why(c, "PERLSENTRY_AGENT is too long for a socket path (%s)", env, NULL);
            return -1;
        }
        snprintf(path, n, "%s", env);
        snprintf(lock, ln, "%s.lock", env);
        return 0;
    }
    const char *run = getenv("XDG_RUNTIME_DIR");
    if (run && *run && run[0] == '/')
        snprintf(dir, sizeof dir, "%s/perl-sentry", run);
    else
        snprintf(dir, sizeof dir, "/tmp/perl-sentry-%u", (unsigned)getuid());
    if (private_dir(c, dir) != 0)
        return -1;
    snprintf(path, n, "%s/agent.sock", dir);
    snprintf(lock, ln, "%s/agent.lock", dir);
    return 0;
}

static int connect_to(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Whether cmd names an executable file (a path, or a name found on PATH). */
static int runnable(const char *cmd)
{
    if (strchr(cmd, '/'))
        return access(cmd, X_OK) == 0;
    const char *path = getenv("PATH");
    char dir[4096];
    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        snprintf(dir, sizeof dir, "%.*s/%s", (int)n, path, cmd);
        if (n && access(dir, X_OK) == 0)
            return 1;
        path = colon ? colon + 1 : NULL;
    }
    return 0;
}

static const char *agent_command(void)
{
    const char *env = getenv("PERLSENTRY_AGENT_BIN");
    if (env && *env)
        return env;
    return g_agent_cmd ? g_agent_cmd : "perl-sentry";
}

/* Starts `perl-sentry agent` detached (through sh, so it is not our child: a program's wait()
 * must never see it), one at a time across processes (a lock file), and waits for its socket. */
static int start_agent(pb_client *c, const char *path, const char *lockpath)
{
    int lk = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lk < 0) {
        set_why(c, "cannot open %s (%s)", lockpath, strerror(errno));
        return -1;
    }
    uint64_t give_up = mono_ns() + 5000000000ULL;
    while (flock(lk, LOCK_EX | LOCK_NB) != 0) {
        if (mono_ns() > give_up) {
            close(lk);
            set_why(c, "another process holds %s and the agent did not start", lockpath, NULL);
            return -1;
        }
        usleep(2000);
    }
    int fd = connect_to(path);   /* someone else may have started it meanwhile */
    const char *cmd = agent_command();
    if (fd < 0 && !runnable(cmd)) {
        set_why(c, "%s is not an executable program: install perl-sentry on PATH or set PERLSENTRY_AGENT_BIN to its path%s", cmd, NULL);
    } else if (fd < 0) {
        char *argv[] = { "sh", "-c", "exec \"$0\" agent --daemon --socket \"$1\" </dev/null >/dev/null 2>&1 &",
                         (char *)cmd, (char *)path, NULL };
        pid_t sh;
        sigset_t none;
        sigemptyset(&none);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
        int rc = posix_spawn(&sh, "/bin/sh", NULL, &attr, argv, environ);
        posix_spawnattr_destroy(&attr);
        if (rc != 0) {
            set_why(c, "cannot run /bin/sh to start the agent (%s)", strerror(rc), NULL);
        } else {
            int st;
            while (waitpid(sh, &st, 0) < 0 && errno == EINTR) { }
            uint64_t until = mono_ns() + 5000000000ULL;
            while ((fd = connect_to(path)) < 0 && mono_ns() < until)
                usleep(3000);
            if (fd < 0)
                set_why(c, "the agent did not start: check that `%s agent` runs (set PERLSENTRY_AGENT_BIN to perl-sentry's path)", cmd, NULL);
        }
    }
    flock(lk, LOCK_UN);
    close(lk);
    return fd;
}

/* ---- frames on the wire ---- */

static int fd_is_ours(pb_client *c)
{
    struct stat st;
    return c->fd >= 0 && fstat(c->fd, &st) == 0 && st.st_dev == c->fd_dev && st.st_ino == c->fd_ino;
}

static void drop_connection(pb_client *c)
{
    if (c->fd >= 0 && fd_is_ours(c))
        close(c->fd);
    c->fd = -1;
    c->state = ST_NEW;
    c->in.len = 0;
}

/* Writes all of buf; blocking. 0 on success. */
static int write_all(pb_client *c, const uint8_t *data, size_t len)
{
    while (len) {
        if (!fd_is_ours(c)) {
            errno = EBADF;
            return -1;
        }
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                struct pollfd p = { c->fd, POLLOUT, 0 };
                poll(&p, 1, 1000);
                continue;
            }
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads one whole frame into c->in; returns its kind and payload. -1 on EOF, error or timeout. */
static int read_frame(pb_client *c, int timeout_ms, const uint8_t **payload, uint32_t *plen)
{
    uint64_t deadline = mono_ns() + (uint64_t)timeout_ms * 1000000ULL;
    for (;;) {
        if (c->in.len >= 5) {
            uint32_t len;
            memcpy(&len, c->in.data, 4);
            if (len == 0 || len > (64u << 20))
                return -1;
            if (c->in.len >= 4 + (size_t)len) {
                *payload = c->in.data + 5;
                *plen = len - 1;
                return c->in.data[4];
            }
        }
        uint64_t now = mono_ns();
        if (now >= deadline || !fd_is_ours(c))
            return -1;
        struct pollfd p = { c->fd, POLLIN, 0 };
        int r = poll(&p, 1, (int)((deadline - now) / 1000000ULL) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        pb_buf_reserve(&c->in, 65536);
        ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
        if (n == 0)
            return -1;
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -1;
        }
        c->in.len += (size_t)n;
    }
}

/* Forgets the frame read_frame returned. */
static void consume_frame(pb_client *c)
{
    uint32_t len;
    memcpy(&len, c->in.data, 4);
    size_t used = 4 + (size_t)len;
    memmove(c->in.data, c->in.data + used, c->in.len - used);
    c->in.len -= used;
}

/* ---- the sampler, held for the agent's profiles ---- */

/* Carries out the agent's sampler commands. A mark walks the interpreter's stack, so it is
 * taken only on the interpreter's own thread (on_owner). */
static void apply_commands(pb_client *c, const uint8_t **p, const uint8_t *end, int on_owner)
{
    if (*p >= end)
        return;
    uint8_t n = *(*p)++;
    for (uint8_t i = 0; i < n && *p < end; i++) {
        uint8_t op = *(*p)++;
        if (op == PB_CMD_ACQUIRE && end - *p >= 8) {
            uint32_t interval_us, depth;
            memcpy(&interval_us, *p, 4);
            memcpy(&depth, *p + 4, 4);
            *p += 8;
            if (c->sampler_users++ == 0)
                pb_sample_start(c->ip, (int64_t)interval_us * 1000, (int32_t)depth);
            if (on_owner)
                pb_sample_now(c->ip);   /* the profile's first sample */
        } else if (op == PB_CMD_RELEASE) {
            if (c->sampler_users > 0 && --c->sampler_users == 0)
                pb_sample_stop(c->ip);
        }
    }
}

/* Sampler releases of calls that did not wait (a profiled transaction's finish) or of none (a
 * continuous session the agent ended at a drain): the agent sends them in its ACKs; they are carried
 * out by whichever thread reads the ACK, the flusher or the program's (pb_sample_stop works from any
 * thread). Caller holds the lock. */
static void apply_deferred_releases(pb_client *c)
{
    for (; c->deferred_releases > 0; c->deferred_releases--) {
        if (c->sampler_users > 0 && --c->sampler_users == 0) {
            pb_sample_stop(c->ip);
            debug_line("sampler stopped (the agent let it go)%.0ld", NULL, 0);
        }
    }
}

/* The agent's hints (which calls must wait for it), after its commands and warnings. */
static void apply_hints(pb_client *c, const uint8_t **p, const uint8_t *end)
{
    if (*p >= end)
        return;
    uint8_t bits = *(*p)++;
    c->wait_capture = (bits & 1) != 0;
    c->wait_tx_start = (bits & 2) != 0;
    c->wait_tx_finish = (bits & 4) != 0;
    c->tx_start_ahead = 0;
    if ((bits & 8) && end - *p >= 8) {
        memcpy(&c->ahead_interval_us, *p, 4);
        memcpy(&c->ahead_depth, *p + 4, 4);
        *p += 8;
        c->tx_start_ahead = 1;
    }
}

/* Prints the warnings the agent owes the program (its STDERR; no Perl API, any thread). */
static void print_warnings(const uint8_t **p, const uint8_t *end)
{
    if (*p >= end)
        return;
    uint8_t n = *(*p)++;
    for (uint8_t i = 0; i < n && *p < end; i++) {
        uint8_t tag = **p;
        uint32_t len;
        if ((tag != PB_T_STR && tag != PB_T_BYTES) || end - *p < 5)
            return;
        memcpy(&len, *p + 1, 4);
        if ((size_t)(end - *p - 5) < len)
            return;
        ssize_t w = write(2, *p + 5, len);
        w = write(2, "\n", 1);
        (void)w;
        *p += 5 + len;
    }
}

/* Appends the samples taken so far as a SAMPLES frame. Caller holds the lock. */
static void queue_samples(pb_client *c)
{
    if (!c->ip || !c->ip->sampler)
        return;
    size_t at = frame_begin(&c->out, PB_F_SAMPLES);
    size_t count_at = c->out.len;
    pb_put_u32(&c->out, 0);
    int32_t n = pb_sample_drain(c->ip, &c->out);
    if (n <= 0) {
        c->out.len = at;
        return;
    }
    uint32_t un = (uint32_t)n;
    memcpy(c->out.data + count_at, &un, 4);
    frame_end(&c->out, at);
}

/* ---- connecting ---- */

static void put_hello(pb_client *c, pb_buf *b)
{
    size_t at = frame_begin(b, PB_F_HELLO);
    put_iv(b, PB_PROTOCOL);
    put_iv(b, (int64_t)getpid());
    put_iv(b, c->tid);
    put_text(b, c->thread_name);
    put_text(b, STRINGIFY(PERL_REVISION) "." STRINGIFY(PERL_VERSION) "." STRINGIFY(PERL_SUBVERSION));
    static const char dirs[] = PRIVLIB_EXP ":" ARCHLIB_EXP
#ifdef PERL_VENDORLIB_EXP
        ":" PERL_VENDORLIB_EXP
#endif
#ifdef PERL_VENDORARCH_EXP
        ":" PERL_VENDORARCH_EXP
#endif
#ifdef SITELIB_EXP
        ":" SITELIB_EXP
#endif
#ifdef SITEARCH_EXP
        ":" SITEARCH_EXP
#endif
        ;
    {
        pb_buf d = { 0 };
        pb_buf_reserve(&d, sizeof dirs + strlen(c->sdk_dir) + 2);
        memcpy(d.data, dirs, sizeof dirs - 1);
        d.len = sizeof dirs - 1;
        if (c->sdk_dir[0]) {
            d.data[d.len++] = ':';
            memcpy(d.data + d.len, c->sdk_dir, strlen(c->sdk_dir));
            d.len += strlen(c->sdk_dir);
        }
        pb_put_str(b, PB_T_BYTES, (const char *)d.data, d.len);
        pb_buf_release(&d);
    }
    if (c->origin.len) {
        pb_buf_reserve(b, c->origin.len);
        memcpy(b->data + b->len, c->origin.data, c->origin.len);
        b->len += c->origin.len;
    } else {
        pb_put_u8(b, PB_T_UNDEF);
    }
    char cwd[4096];
    put_text(b, getcwd(cwd, sizeof cwd) ? cwd : "/");
    frame_end(b, at);
}

/* Connects (starting the agent when there is none) and says hello. Caller holds the lock. 0 when up. */
static int do_connect(pb_client *c)
{
    if (c->state == ST_UP && fd_is_ours(c))
        return 0;
    if (c->state == ST_FAILED && mono_ns() < c->retry_at_ns)
        return -1;
    drop_connection(c);
    char path[4096], lock[4200];
    int is_default;
    if (socket_path(c, path, sizeof path, lock, sizeof lock, &is_default) != 0)
        goto failed;
    int fd = connect_to(path);
    if (fd < 0 && (errno == ENOENT || errno == ECONNREFUSED))
        fd = start_agent(c, path, lock);
    else if (fd < 0)
        set_why(c, "cannot connect to %s (%s)", path, strerror(errno));
    if (fd < 0)
        goto failed;
    struct stat st;
    fstat(fd, &st);
    c->fd = fd;
    c->fd_dev = st.st_dev;
    c->fd_ino = st.st_ino;
    pb_buf hello = { 0 };
    put_hello(c, &hello);
    int ok = write_all(c, hello.data, hello.len) == 0;
    pb_buf_release(&hello);
    const uint8_t *payload;
    uint32_t plen;
    if (!ok || read_frame(c, 5000, &payload, &plen) != PB_F_HELLO_OK) {
        set_why(c, "the agent at %s did not answer", path, NULL);
        drop_connection(c);
        goto failed;
    }
    const uint8_t *p = payload, *end = payload + plen;
    if (pb_skip_value(&p, end) == 0 && pb_skip_value(&p, end) == 0) {   /* the session's id (for logs), old hints */
        apply_commands(c, &p, end, pthread_equal(pthread_self(), c->owner));
        print_warnings(&p, end);
        apply_hints(c, &p, end);
    }
    consume_frame(c);
    c->state = ST_UP;
    debug_line("connected to %s (fd %ld)", path, fd);
    c->origin.len = 0;   /* a later reconnect starts a fresh session, replaying init */
    if (c->ever_connected) {
        /* a restarted agent: the options again (one-way), then what the last one may not have handled */
        debug_line("the agent was restarted%s: sending the options and %ld unanswered bytes again", "", (long)c->unanswered.len);
        if (c->init_frame.len)
            write_all(c, c->init_frame.data, c->init_frame.len);
        if (c->unanswered.len)
            write_all(c, c->unanswered.data, c->unanswered.len);
        c->unanswered.len = 0;
    }
    c->ever_connected = 1;
    return 0;
failed:
    c->state = ST_FAILED;
    c->retry_at_ns = mono_ns() + 2000000000ULL;
    return -1;
}

/* Writes what is queued. Caller holds the lock. */
#define UNANSWERED_LIMIT (8u << 20)

/* Frames the agent may not have handled: any answer means it handled every earlier frame (it
 * handles them in order); if it dies before answering, a new one gets them again. Events keep
 * their ids, so Sentry drops what arrives twice. Caller holds the lock. */
static void remember_written(pb_client *c, const uint8_t *data, size_t len)
{
    if (c->unanswered.len + len > UNANSWERED_LIMIT)
        c->unanswered.len = 0;   /* that old, the agent has handled them */
    pb_buf_reserve(&c->unanswered, len);
    memcpy(c->unanswered.data + c->unanswered.len, data, len);
    c->unanswered.len += len;
}

/* The agent has handled every call up to seq: those frames need not be sent again. Caller holds the lock. */
static void trim_unanswered(pb_client *c, uint32_t seq)
{
    size_t at = 0;
    while (at + 5 <= c->unanswered.len) {
        uint32_t len;
        memcpy(&len, c->unanswered.data + at, 4);
        if (at + 4 + len > c->unanswered.len)
            break;
        uint8_t kind = c->unanswered.data[at + 4];
        if (kind == PB_F_CALL && len >= 5) {
            uint32_t fseq;
            memcpy(&fseq, c->unanswered.data + at + 5, 4);
            if ((int32_t)(fseq - seq) > 0)
                break;
        }
        at += 4 + len;
    }
    memmove(c->unanswered.data, c->unanswered.data + at, c->unanswered.len - at);
    c->unanswered.len -= at;
}

/* Reads the agent's acknowledgements that have arrived, without waiting (the flusher, when no call
 * is waiting for a reply, is the only reader then). Caller holds the lock. */
static void read_acks(pb_client *c)
{
    if (c->awaiting || c->state != ST_UP || !fd_is_ours(c))
        return;
    for (;;) {
        pb_buf_reserve(&c->in, 4096);
        ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, MSG_DONTWAIT);
        if (n <= 0)
            break;
        c->in.len += (size_t)n;
    }
    while (c->in.len >= 5) {
        uint32_t len;
        memcpy(&len, c->in.data, 4);
        if (len == 0 || c->in.len < 4 + (size_t)len || c->in.data[4] != PB_F_ACK)
            break;
        if (len >= 5) {
            uint32_t seq;
            memcpy(&seq, c->in.data + 5, 4);
            trim_unanswered(c, seq);
        }
        if (len >= 6)
            c->deferred_releases += c->in.data[9];
        consume_frame(c);
    }
    apply_deferred_releases(c);
}

/* Writes what is queued, as far as the socket takes it without waiting (the program's thread
 * never waits for the agent on a one-way call); the flusher writes the rest. Caller holds the lock. */
static void push_now(pb_client *c)
{
    if (c->state != ST_UP || !fd_is_ours(c) || c->out.len == 0)
        return;
    size_t done = 0;
    while (done < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + done, c->out.len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    if (done == 0)
        return;
    remember_written(c, c->out.data, done);
    memmove(c->out.data, c->out.data + done, c->out.len - done);
    c->out.len -= done;
}

static int flush_locked(pb_client *c)
{
    if (c->out.len == 0)
        return 0;
    if (do_connect(c) != 0)
        return -1;
    if (write_all(c, c->out.data, c->out.len) != 0) {
        drop_connection(c);
        return -1;
    }
    remember_written(c, c->out.data, c->out.len);
    c->out.len = 0;
    return 0;
}

/* ---- the flusher thread: batches of one-way calls and samples, off the program's thread ---- */

static void *flusher_main(void *arg)
{
    pb_client *c = arg;   /* no Perl API on this thread: it is not the interpreter's */
    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        if (c->out.len == 0)
            pthread_cond_timedwait(&c->wake, &c->lock, &until);
        if (c->stopping)
            break;
        if (c->out.len && c->out.len < 65536) {
            /* a moment for more calls to join the batch */
            pthread_mutex_unlock(&c->lock);
            usleep(2000);
            pthread_mutex_lock(&c->lock);
        }
        if (c->sampler_users > 0 || (c->ip && c->ip->sampler))
            queue_samples(c);
        read_acks(c);
        if (flush_locked(c) != 0 && c->state == ST_FAILED) {
            /* nowhere to send: keep memory bounded */
            if (c->out.len > OUT_LIMIT) {
                c->dropped++;
                c->out.len = 0;
            }
        }
    }
    c->flusher_running = 0;
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static void ensure_flusher(pb_client *c)
{
    if (c->flusher_running)
        return;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);   /* never a target for the program's signals */
    if (pthread_create(&c->flusher, NULL, flusher_main, c) == 0) {
        pthread_detach(c->flusher);
        c->flusher_running = 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* ---- fork ---- */

/* Before a fork: the snapshot the child continues from, taken on the forking thread (the host's
 * engine makes it, or the agent does for a client); then every client's state is made consistent. */
static void atfork_prepare(void)
{
    PerlInterpreter *here = PERL_GET_CONTEXT;
    if (here) {
        dTHXa(here);
        pb_buf blob = { 0 };
        int have = pb_client_active(aTHX) ? pb_client_snapshot(aTHX_ &blob) == 0
                 : g_snapshot ? g_snapshot(aTHX_ &blob) == 0 : 0;
        if (have) {
            pb_client *c = pb_client_get(aTHX);
            c->origin.len = 0;
            pb_put_u8(&c->origin, PB_T_HASH);
            pb_put_u32(&c->origin, 2);
            put_text(&c->origin, "kind");
            put_text(&c->origin, "fork");
            put_text(&c->origin, "snapshot");
            pb_put_str(&c->origin, PB_T_BYTES, (const char *)blob.data, blob.len);
        }
        pb_buf_release(&blob);
    }
    pthread_mutex_lock(&g_clients_lock);
    for (int i = 0; i < PB_MAX_INTERPS; i++)
        if (g_clients[i])
            pthread_mutex_lock(&g_clients[i]->lock);
}

static void atfork_parent(void)
{
    for (int i = 0; i < PB_MAX_INTERPS; i++)
        if (g_clients[i]) {
            if (g_clients[i]->state == ST_UP)
                g_clients[i]->origin.len = 0;   /* the snapshot was for the child */
            pthread_mutex_unlock(&g_clients[i]->lock);
        }
    pthread_mutex_unlock(&g_clients_lock);
}

/* Only the forking thread lives on: its interpreter's client starts over as a new connection
 * (from the snapshot taken before the fork); the others' interpreters are gone. */
static void atfork_child(void)
{
    PerlInterpreter *here = PERL_GET_CONTEXT;
    for (int i = 0; i < PB_MAX_INTERPS; i++) {
        pb_client *c = g_clients[i];
        if (!c)
            continue;
        pthread_mutex_unlock(&c->lock);
        pthread_mutex_init(&c->lock, NULL);
        pthread_cond_init(&c->wake, NULL);
        c->flusher_running = 0;
        if (c->fd >= 0)
            close(c->fd);   /* the parent's connection: ours is a copy of the descriptor */
        c->fd = -1;
        c->state = ST_NEW;
        c->out.len = 0;
        c->in.len = 0;
        c->unanswered.len = 0;
        c->awaiting = 0;
        c->ever_connected = 0;   /* its first connection is a new session (from the snapshot), not a reconnect */
        c->sampler_users = 0;
        c->deferred_releases = 0;
        c->pid = getpid();
        c->tid = (int64_t)syscall(SYS_gettid);   /* the forking thread: the child's main thread now */
        if (c->perl != here)
            g_clients[i] = NULL;   /* that interpreter's thread did not come along */
    }
    pthread_mutex_unlock(&g_clients_lock);
}

static void install_atfork(void) { pthread_atfork(atfork_prepare, atfork_parent, atfork_child); }

/* ---- the client of an interpreter ---- */

void pb_client_configure(const char *agent_cmd, pb_snapshot_fn snapshot)
{
    pthread_once(&g_atfork_once, install_atfork);   /* forks before the first client need their snapshot too */
    if (agent_cmd) {
        free(g_agent_cmd);
        g_agent_cmd = strdup(agent_cmd);
    }
    if (snapshot)
        g_snapshot = snapshot;
}

pb_client *pb_client_get(pTHX)
{
    pthread_once(&g_atfork_once, install_atfork);
    pthread_mutex_lock(&g_clients_lock);
    pb_client *c = NULL;
    int free_slot = -1;
    for (int i = 0; i < PB_MAX_INTERPS; i++) {
        if (g_clients[i] && g_clients[i]->perl == my_perl) {
            c = g_clients[i];
            break;
        }
        if (!g_clients[i] && free_slot < 0)
            free_slot = i;
    }
    if (!c && free_slot >= 0) {
        c = calloc(1, sizeof *c);
        if (c) {
            c->perl = my_perl;
            c->owner = pthread_self();
            c->tid = (int64_t)syscall(SYS_gettid);
            snprintf(c->thread_name, sizeof c->thread_name, "%s", my_perl == PL_curinterp ? "main" : "ithread");
            c->pid = getpid();
            c->fd = -1;
            pthread_mutex_init(&c->lock, NULL);
            pthread_cond_init(&c->wake, NULL);
            SV **inc = hv_fetchs(GvHVn(PL_incgv), "Sentry/SDK.pm", 0);
            if (inc && SvPOK(*inc)) {
                snprintf(c->sdk_dir, sizeof c->sdk_dir, "%s", SvPVX(*inc));
                char *cut = strstr(c->sdk_dir, "/Sentry/SDK.pm");
                if (cut) *cut = 0; else c->sdk_dir[0] = 0;
            }
            c->ip = pb_interp_of(aTHX);
            if (!c->ip && (c->ip = calloc(1, sizeof *c->ip))) {
                c->ip->perl = my_perl;
                c->ip->owner = pthread_self();
                pb_registry_add(c->ip);
            }
            g_clients[free_slot] = c;
        }
    }
    pthread_mutex_unlock(&g_clients_lock);
    if (!c)
        croak("PerlSentry: no room for another agent client");
    return c;
}

int pb_client_active(pTHX)
{
    for (int i = 0; i < PB_MAX_INTERPS; i++)
        if (g_clients[i] && g_clients[i]->perl == my_perl)
            return g_clients[i]->used;
    return 0;
}

uint64_t pb_client_token(pTHX_ pb_client *c, SV *code)
{
    SV *cv = SvRV(code);
    for (uint32_t i = 0; i < c->nrefs; i++)
        if (SvRV(c->refs[i]) == cv)
            return i + 1;
    if (c->nrefs == c->refcap) {
        uint32_t cap = c->refcap ? c->refcap * 2 : 16;
        SV **r = realloc(c->refs, cap * sizeof *r);
        if (!r)
            return 0;
        c->refs = r;
        c->refcap = cap;
    }
    c->refs[c->nrefs++] = newSVsv(code);
    return c->nrefs;
}

/* References cross as tokens: code the agent may call back, JSON booleans as booleans, the rest
 * as kind and class only (the engine shows "Class object"). */
static void put_remote_ref(pTHX_ pb_buf *b, SV *ref, void *ctx)
{
    pb_client *c = ctx;
    SV *rv = SvRV(ref);
    const char *cls = SvOBJECT(rv) ? HvNAME(SvSTASH(rv)) : NULL;
    if (SvTYPE(rv) < SVt_PVAV && !SvROK(rv)
        && (!cls || strcmp(cls, "JSON::PP::Boolean") == 0 || strcmp(cls, "Types::Serialiser::Boolean") == 0)) {
        pb_put_u8(b, PB_T_BOOL);
        pb_put_u8(b, SvTRUE(rv) ? 1 : 0);
        return;
    }
    uint8_t kind = pb_ref_kind(aTHX_ ref);
    pb_put_u8(b, PB_T_REF);
    put_u64(b, kind == PB_REF_CODE ? pb_client_token(aTHX_ c, ref) : 0);
    pb_put_u8(b, kind);
    pb_put_name(b, cls);
}

/* Whether NAME (with its arguments) needs the agent's answer before the program goes on. */
static int must_wait(pb_client *c, const char *name, SV **args, I32 nargs)
{
    switch (name[0]) {
    case 'i': return strcmp(name, "init") == 0 || strcmp(name, "is_enabled") == 0;
    case 'f': return strcmp(name, "flush") == 0;
    case 'c':
        if (strcmp(name, "capture_event") == 0)
            return c->wait_capture;
        return strcmp(name, "close") == 0;
    case 's':
        return strcmp(name, "shutdown") == 0 || strcmp(name, "scope_get") == 0 || strcmp(name, "span_get") == 0
            || strcmp(name, "snapshot") == 0;
    case 'l': return strcmp(name, "last_event_id") == 0;
    case 'p': return strcmp(name, "profiler_call") == 0;
    case 't':
        if (strcmp(name, "transaction_start") == 0)
            return c->wait_tx_start || (c->tx_start_ahead && !c->ip);   /* no sampler to take ahead: ask */
        if (strcmp(name, "transaction_finish") == 0)
            return c->wait_tx_finish;   /* a profile's end needs no answer: its release comes in an ACK */
        return 0;
    default: return 0;
    }
    (void)args; (void)nargs;
}

/* Runs a code reference the agent asked for (a callback of the program) and answers. */
static int run_callback(pTHX_ pb_client *c, const uint8_t *p, const uint8_t *end, int *exit_status)
{
    uint32_t seq, count;
    uint64_t token;
    if (end - p < 16)
        return -1;
    memcpy(&seq, p, 4);
    memcpy(&token, p + 4, 8);
    memcpy(&count, p + 12, 4);
    p += 16;
    AV *args = (AV *)sv_2mortal((SV *)newAV());
    for (uint32_t i = 0; i < count; i++) {
        SV *v = pb_decode_sv_plain(aTHX_ &p, end);
        if (!v)
            return -1;
        av_push(args, v);
    }
    consume_frame(c);
    pb_buf reply = { 0 };
    size_t at = frame_begin(&reply, PB_F_CB_RESULT);
    pb_put_u32(&reply, seq);
    if (token == 0 || token > c->nrefs) {
        pb_put_u8(&reply, 1);
        put_text(&reply, "no such code reference");
    } else {
        dJMPENV;
        int jret;
        volatile int status = 0;
        SV *volatile result = NULL;
        SV *saved_err = newSVsv(ERRSV);
        I32 oldscope = PL_scopestack_ix;
        ENTER;
        SAVETMPS;
        JMPENV_PUSH(jret);
        if (jret == 0) {
            dSP;
            PUSHMARK(SP);
            for (SSize_t i = 0; i <= av_top_index(args); i++)
                XPUSHs(*av_fetch(args, i, 0));
            PUTBACK;
            int n = call_sv(c->refs[token - 1], G_SCALAR | G_EVAL);
            SPAGAIN;
            SV *r = n > 0 ? POPs : &PL_sv_undef;
            PUTBACK;
            if (SvTRUE(ERRSV)) {
                status = 1;
                result = newSVsv(ERRSV);
            } else {
                result = newSVsv(r);
            }
        } else if (jret == 2) {
            status = 2;   /* exit(): answered, then passed on once the agent has unwound */
            *exit_status = STATUS_EXIT;
        }
        JMPENV_POP;
        pb_unwind(aTHX_ oldscope, status == 2);
        sv_setsv(ERRSV, saved_err);
        SvREFCNT_dec(saved_err);
        pb_put_u8(&reply, (uint8_t)status);
        if (status == 2)
            put_iv(&reply, *exit_status);
        else if (result)
            pb_encode_sv_refs(aTHX_ &reply, result, put_remote_ref, c);
        else
            pb_put_u8(&reply, PB_T_UNDEF);
        SvREFCNT_dec(result);
    }
    frame_end(&reply, at);
    pthread_mutex_lock(&c->lock);
    int rc = write_all(c, reply.data, reply.len);
    pthread_mutex_unlock(&c->lock);
    pb_buf_release(&reply);
    return rc;
}

/* Reads until the reply to seq; runs callbacks meanwhile. 0 on a reply (results in out). */
static int await_reply(pTHX_ pb_client *c, uint32_t seq, AV *out, SV **died, int *exit_status)
{
    for (;;) {
        const uint8_t *payload;
        uint32_t plen;
        int kind = read_frame(c, REPLY_WAIT_MS, &payload, &plen);
        if (kind < 0)
            return -1;
        const uint8_t *p = payload, *end = payload + plen;
        if (kind == PB_F_ACK) {
            uint32_t aseq;
            if (end - p >= 4) {
                memcpy(&aseq, p, 4);
                pthread_mutex_lock(&c->lock);
                trim_unanswered(c, aseq);
                if (end - p >= 5)
                    c->deferred_releases += p[4];
                apply_deferred_releases(c);
                pthread_mutex_unlock(&c->lock);
            }
            consume_frame(c);
            continue;
        }
        if (kind == PB_F_CALLBACK) {
            if (run_callback(aTHX_ c, p, end, exit_status) != 0)
                return -1;
            continue;
        }
        if (kind != PB_F_REPLY || end - p < 9) {
            consume_frame(c);
            continue;
        }
        uint32_t rseq, count;
        memcpy(&rseq, p, 4);
        uint8_t status = p[4];
        memcpy(&count, p + 5, 4);
        p += 9;
        if (rseq != seq) {
            consume_frame(c);
            continue;
        }
        for (uint32_t i = 0; i < count; i++) {
            SV *v = pb_decode_sv_plain(aTHX_ &p, end);
            if (!v)
                break;
            if (status == 1 && i == 0 && died)
                *died = sv_2mortal(v);
            else
                av_push(out, v);
        }
        pthread_mutex_lock(&c->lock);   /* sampler_users: the flusher carries out releases too */
        apply_commands(c, &p, end, 1);
        pthread_mutex_unlock(&c->lock);
        print_warnings(&p, end);
        apply_hints(c, &p, end);
        consume_frame(c);
        pthread_mutex_lock(&c->lock);
        trim_unanswered(c, seq);   /* it handled this call, so every one before it */
        pthread_mutex_unlock(&c->lock);
        return 0;
    }
}

int pb_client_call(pTHX_ pb_client *c, const char *name, SV **args, I32 nargs, int list, AV *out, SV **died, int *exit_status)
{
    int is_init = strcmp(name, "init") == 0;
    if (c->is_clone == 1) {
        /* perl_clone ran CLONE on the creating thread: this, the first call, is on the clone's own */
        c->is_clone = 2;
        c->owner = pthread_self();
        c->tid = (int64_t)syscall(SYS_gettid);
    }
    pthread_mutex_lock(&c->lock);
    if (c->state == ST_FAILED && mono_ns() < c->retry_at_ns) {
        pthread_mutex_unlock(&c->lock);
        return 0;
    }
    if (!c->ever_connected && c->origin.len && do_connect(c) != 0) {
        /* A session that continues another (a fork): which calls wait depends on its options,
         * so the first call connects (and learns them) before it decides. */
        pthread_mutex_unlock(&c->lock);
        return 0;
    }
    int wait = must_wait(c, name, args, nargs);
    if (nargs >= 2 && strcmp(name, "scope_set") == 0 && SvPOK(args[1])
        && strcmp(SvPVX(args[1]), "add_event_processor") == 0)
        c->wait_capture = c->wait_tx_finish = 1;   /* events now run a callback of the program */
    c->used = 1;
    apply_deferred_releases(c);
    if (c->sampler_users > 0 && (wait || strcmp(name, "transaction_finish") == 0)) {
        /* the closing sample of whatever this call may end, and everything before it */
        pb_sample_now(c->ip);
        queue_samples(c);
    }
    if (c->out.len > OUT_LIMIT && !wait) {
        c->dropped++;
        pthread_mutex_unlock(&c->lock);
        return 1;
    }
    /* A transaction that may be profiled does not wait for the agent's decision: the sampler is
     * taken now, and the agent keeps it (its acquire is this one) or gives it back in an ACK. */
    int ahead = !wait && c->tx_start_ahead && c->ip && strcmp(name, "transaction_start") == 0;
    uint32_t seq = ++c->seq;
    debug_line(wait ? "call %s (waits)%.0ld" : "call %s%.0ld", name, 0);
    size_t at = frame_begin(&c->out, PB_F_CALL);
    pb_put_u32(&c->out, seq);
    pb_put_u8(&c->out, (uint8_t)((wait ? 1 : 0) | (list ? 2 : 0) | (ahead ? 4 : 0)));
    put_u64(&c->out, mono_ns());
    put_text(&c->out, name);
    pb_put_u32(&c->out, (uint32_t)nargs);
    for (I32 i = 0; i < nargs; i++)
        pb_encode_sv_refs(aTHX_ &c->out, args[i], put_remote_ref, c);
    frame_end(&c->out, at);
    if (is_init) {
        /* kept to replay (one-way) to an agent that restarted */
        c->init_frame.len = 0;
        pb_buf_reserve(&c->init_frame, c->out.len - at);
        memcpy(c->init_frame.data, c->out.data + at, c->out.len - at);
        c->init_frame.len = c->out.len - at;
        c->init_frame.data[9] = 0;   /* flags: no reply wanted */
    }
    if (ahead) {
        if (c->sampler_users++ == 0)
            pb_sample_start(c->ip, (int64_t)c->ahead_interval_us * 1000, (int32_t)c->ahead_depth);
        pb_sample_now(c->ip);   /* the profile's first sample, after the call's time */
    }
    if (!wait) {
        int was_empty = at == 0;
        if (name[0] == 'c' || strcmp(name, "transaction_finish") == 0)
            push_now(c);   /* what a program that ends in _exit (Minion's jobs) must not lose */
        ensure_flusher(c);
        if (c->out.len && (was_empty || c->out.len > 65536))
            pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->lock);
        return 1;
    }
    int outer_awaiting = c->awaiting;
    c->awaiting = 1;
    if (flush_locked(c) != 0) {
        c->awaiting = outer_awaiting;
        c->out.len = at;   /* this call did not go: the caller answers it with the stand-in */
        pthread_mutex_unlock(&c->lock);
        return 0;
    }
    ensure_flusher(c);
    pthread_mutex_unlock(&c->lock);
    int rc = await_reply(aTHX_ c, seq, out, died, exit_status);
    pthread_mutex_lock(&c->lock);
    c->awaiting = outer_awaiting;
    if (rc != 0)
        drop_connection(c);
    pthread_mutex_unlock(&c->lock);
    if (rc != 0) {
        av_clear(out);
        return *exit_status >= 0 ? 1 : 0;
    }
    return 1;
}

int pb_client_snapshot(pTHX_ pb_buf *out)
{
    pb_client *c = pb_client_get(aTHX);
    if (!c->used || c->state != ST_UP)
        return -1;
    if (c->snap.len && c->snap_seq == c->seq) {
        /* no call since the last fork: the session is as it was (a prefork server forks in a loop) */
        pb_buf_reserve(out, c->snap.len);
        memcpy(out->data + out->len, c->snap.data, c->snap.len);
        out->len += c->snap.len;
        return 0;
    }
    AV *res = (AV *)sv_2mortal((SV *)newAV());
    SV *died = NULL;
    int exit_status = -1;
    if (pb_client_call(aTHX_ c, "snapshot", NULL, 0, 0, res, &died, &exit_status) != 1 || died || av_top_index(res) < 0)
        return -1;
    STRLEN len;
    const char *s = SvPV(*av_fetch(res, 0, 0), len);
    pb_buf_reserve(out, len);
    memcpy(out->data + out->len, s, len);
    out->len += len;
    c->snap.len = 0;
    pb_buf_reserve(&c->snap, len);
    memcpy(c->snap.data, s, len);
    c->snap.len = len;
    c->snap_seq = c->seq;
    return 0;
}

void pb_client_close(pTHX)
{
    pthread_mutex_lock(&g_clients_lock);
    pb_client *c = NULL;
    for (int i = 0; i < PB_MAX_INTERPS; i++)
        if (g_clients[i] && g_clients[i]->perl == my_perl) {
            c = g_clients[i];
            g_clients[i] = NULL;
        }
    pthread_mutex_unlock(&g_clients_lock);
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = 1;
    pthread_cond_signal(&c->wake);
    if (c->ip && c->ip->sampler && c->sampler_users > 0) {
        pb_sample_stop(c->ip);
        c->sampler_users = 0;
    }
    queue_samples(c);
    if (c->state == ST_UP)
        flush_locked(c);
    drop_connection(c);
    pthread_mutex_unlock(&c->lock);
    /* the flusher may still hold c: it is left to end on its own (c is not freed) */
}

/* The body of Sentry::Engine::NAME where the engine is the agent (the XS module's subs, and the
 * host's in a forked child): arguments at ST(0..items-1); returns how many results it left at ST(0).
 * Where the agent cannot answer, Sentry::Internal::Null::NAME does. */
I32 pb_client_xsub(pTHX_ const char *name, I32 ax, I32 items)
{
    pb_client *c = pb_client_get(aTHX);
    U8 gimme = GIMME_V;
    AV *out = (AV *)sv_2mortal((SV *)newAV());
    SV *died = NULL;
    int exit_status = -1;
    int ok = pb_client_call(aTHX_ c, name, &PL_stack_base[ax], items, gimme == G_LIST, out, &died, &exit_status);
    if (exit_status >= 0)
        my_exit((U32)exit_status);   /* a callback of the program called exit */
    if (!ok) {
        char stand_in[128];
        snprintf(stand_in, sizeof stand_in, "Sentry::Internal::Null::%s", name);
        CV *cv = get_cv(stand_in, 0);
        if (!cv)
            return 0;
        if (c->why[0])
            sv_setpv(get_sv("Sentry::Internal::Null::REASON", GV_ADD), c->why);
        SV **sp = PL_stack_base + ax + items - 1;
        PUSHMARK(PL_stack_base + ax - 1);
        PUTBACK;
        return call_sv((SV *)cv, gimme);
    }
    if (died)
        croak_sv(died);
    SSize_t n = av_top_index(out) + 1;
    SV **sp = PL_stack_base + ax - 1;
    if (gimme != G_LIST && n > 1) {
        /* scalar context: the last value, as a list in scalar context would give */
        EXTEND(sp, 1);
        *++sp = sv_2mortal(SvREFCNT_inc(*av_fetch(out, n - 1, 0)));
        PL_stack_sp = sp;
        return 1;
    }
    EXTEND(sp, n);
    for (SSize_t i = 0; i < n; i++)
        *++sp = sv_2mortal(SvREFCNT_inc(*av_fetch(out, i, 0)));
    PL_stack_sp = sp;
    return (I32)n;
}

/* An ithread clone's client (from CLONE, in the new thread, while perl_clone's pointer table still
 * maps the parent's values to the clone's): the code references the parent handed to the agent get
 * the same tokens here, so the session the clone continues from (a snapshot the parent took in
 * CLONE_SKIP) calls this thread's copies. */
void pb_client_clone(pTHX_ SV *snapshot, UV parent, const char *thread_name)
{
    pb_client *c = pb_client_get(aTHX);
    snprintf(c->thread_name, sizeof c->thread_name, "%s", thread_name);
    pb_client *from = NULL;
    pthread_mutex_lock(&g_clients_lock);
    for (int i = 0; i < PB_MAX_INTERPS; i++)
        if (g_clients[i] && (UV)(uintptr_t)g_clients[i]->perl == parent)
            from = g_clients[i];
    pthread_mutex_unlock(&g_clients_lock);
    if (from && from->nrefs && PL_ptr_table) {
        c->refs = calloc(from->nrefs, sizeof *c->refs);
        if (c->refs) {
            c->refcap = c->nrefs = from->nrefs;
            for (uint32_t i = 0; i < from->nrefs; i++) {
                /* our table holds its own reference; the code it points at is what was copied */
                SV *cv = (SV *)ptr_table_fetch(PL_ptr_table, SvRV(from->refs[i]));
                c->refs[i] = cv ? newRV_inc(cv) : newSV(0);
            }
        }
    }
    if (snapshot && SvOK(snapshot)) {
        STRLEN len;
        const char *blob = SvPV(snapshot, len);
        c->origin.len = 0;
        pb_put_u8(&c->origin, PB_T_HASH);
        pb_put_u32(&c->origin, 2);
        put_text(&c->origin, "kind");
        put_text(&c->origin, "clone");
        put_text(&c->origin, "snapshot");
        pb_put_str(&c->origin, PB_T_BYTES, blob, len);
    }
    c->is_clone = 1;
}

int pb_client_is_clone(pTHX)
{
    for (int i = 0; i < PB_MAX_INTERPS; i++)
        if (g_clients[i] && g_clients[i]->perl == my_perl)
            return g_clients[i]->is_clone;
    return 0;
}

/* The clone's interpreter is going away (its thread ended): the client sends what it holds and
 * goes, and so does the sampler state made for the clone. */
void pb_client_clone_done(pTHX)
{
    pb_interp *ip = pb_interp_of(aTHX);
    pb_client_close(aTHX);
    if (ip && !ip->subdefs) {   /* made by the client for this clone, not the host's */
        pb_sample_forget(ip);
        pb_registry_remove(ip);
    }
}

static void clone_done(pTHX_ void *unused)
{
    (void)unused;
    pb_client_clone_done(aTHX);
}

/* PerlSentry::Client::_clone($snapshot, $parent_id, $thread_name): see pb_client_clone. */
XS(pb_xs_clone);
XS(pb_xs_clone)
{
    dXSARGS;
    if (items != 3)
        croak("usage: PerlSentry::Client::_clone($snapshot, $parent_id, $thread_name)");
    pb_client_clone(aTHX_ ST(0), SvUV(ST(1)), SvPV_nolen(ST(2)));
    Perl_call_atexit(aTHX_ clone_done, NULL);
    XSRETURN_EMPTY;
}

/* PerlSentry::Client::_interp_id(): this interpreter, as the number a clone names its parent by. */
XS(pb_xs_interp_id);
XS(pb_xs_interp_id)
{
    dXSARGS;
    (void)items;
    ST(0) = sv_2mortal(newSVuv((UV)(uintptr_t)my_perl));
    XSRETURN(1);
}

/* How many profiles hold this interpreter's sampler (for tests). */
XS(pb_xs_sampler_users);
XS(pb_xs_sampler_users)
{
    dXSARGS;
    (void)items;
    int n = 0;
    for (int i = 0; i < PB_MAX_INTERPS; i++)
        if (g_clients[i] && g_clients[i]->perl == my_perl)
            n = g_clients[i]->sampler_users;
    ST(0) = sv_2mortal(newSViv(n));
    XSRETURN(1);
}

/* PerlSentry::Client::_eval_site($n): the file and line that ran string eval $n (the code perl
 * names "(eval $n)"), or the empty list; for stack frames of events, as profiles place them. */
XS(pb_xs_eval_site);
XS(pb_xs_eval_site)
{
    dXSARGS;
    const char *file;
    uint32_t line;
    if (items != 1 || !pb_sample_eval_site(pb_interp_of(aTHX), (uint32_t)SvUV(ST(0)), &file, &line))
        XSRETURN_EMPTY;
    ST(0) = sv_2mortal(newSVpv(file, 0));
    ST(1) = sv_2mortal(newSVuv(line));
    XSRETURN(2);
}

void pb_client_define_subs(pTHX)
{
    newXS("PerlSentry::Client::_eval_site", pb_xs_eval_site, __FILE__);
    newXS("PerlSentry::Client::_clone", pb_xs_clone, __FILE__);
    newXS("PerlSentry::Client::_interp_id", pb_xs_interp_id, __FILE__);
    newXS("PerlSentry::Client::_sampler_users", pb_xs_sampler_users, __FILE__);
}
