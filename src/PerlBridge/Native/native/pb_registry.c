/* The registry of live interpreters this library knows: the sampler thread and hook, the
 * signal router and the agent client find their interpreter here (ithreads clone hooks and
 * XSUBs, so neither can carry it). Shared by the host's shim and the XS client module. */
#include "pb_common.h"
#include <string.h>

static pb_interp *volatile g_interps[PB_MAX_INTERPS];
static pthread_mutex_t g_registry = PTHREAD_MUTEX_INITIALIZER;

pb_interp *pb_interp_of(pTHX)
{
    for (int i = 0; i < PB_MAX_INTERPS; i++) {
        pb_interp *ip = g_interps[i];
        if (ip && ip->perl == my_perl)
            return ip;
    }
    return NULL;
}

pb_interp *pb_interp_at(int i) { return i < PB_MAX_INTERPS ? g_interps[i] : NULL; }
int pb_interp_slots(void) { return PB_MAX_INTERPS; }

int pb_registry_add(pb_interp *ip)
{
    pthread_mutex_lock(&g_registry);
    int slot = -1;
    for (int i = 0; i < PB_MAX_INTERPS; i++)
        if (!g_interps[i]) { slot = i; break; }
    if (slot >= 0)
        g_interps[slot] = ip;
    pthread_mutex_unlock(&g_registry);
    return slot;
}

void pb_registry_remove(pb_interp *ip)
{
    pthread_mutex_lock(&g_registry);
    for (int i = 0; i < PB_MAX_INTERPS; i++)
        if (g_interps[i] == ip)
            g_interps[i] = NULL;
    pthread_mutex_unlock(&g_registry);
}

int pb_registry_count(void)
{
    int n = 0;
    for (int i = 0; i < PB_MAX_INTERPS; i++)
        n += g_interps[i] != NULL;
    return n;
}
