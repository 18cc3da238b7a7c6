/* peerlog: one line per client address per window (see peerlog.h). */
#include "http/peerlog.h"

#include <stdio.h>
#include <string.h>

void
sn_peerlog_init(struct sn_peerlog *pl, time_t window)
{
    memset(pl, 0, sizeof(*pl));
    pthread_mutex_init(&pl->lock, NULL);
    pl->window = window;
}

void
sn_peerlog_cleanup(struct sn_peerlog *pl)
{
    pthread_mutex_destroy(&pl->lock);
}

/* The slot of addr, or a slot to take for it (unused, or whose window has
 * ended with nothing held), or NULL: the table is full. */
static struct sn_peerlog_slot *
find_slot(struct sn_peerlog *pl, const char *addr, time_t now, int *found)
{
    struct sn_peerlog_slot *s, *free_slot = NULL;
    size_t i;

    *found = 0;
    for (i = 0; i < SN_PEERLOG_SLOTS; i++) {
        s = &pl->slot[i];
        /* Compared as stored (cut to the slot): a longer string is the
         * same key, not a new slot per event. */
        if (s->used && strncmp(s->addr, addr, sizeof(s->addr) - 1) == 0) {
            *found = 1;
            return s;
        }
        if (free_slot == NULL &&
            (!s->used || (s->held == 0 && now - s->since >= pl->window)))
            free_slot = s;
    }
    return free_slot;
}

int
sn_peerlog_event(struct sn_peerlog *pl, const char *addr, time_t now)
{
    struct sn_peerlog_slot *s;
    int found, show = 0;

    pthread_mutex_lock(&pl->lock);
    s = find_slot(pl, addr, now, &found);
    if (s == NULL) {
        if (pl->others++ == 0)
            pl->others_since = now;
    } else if (found && now - s->since < pl->window && now >= s->since) {
        s->held++;
    } else {
        /* A new address, or one whose window ended: a line now. Held
         * events not yet reported are left to sn_peerlog_expire. */
        if (!found) {
            snprintf(s->addr, sizeof(s->addr), "%s", addr);
            s->held = 0;
            s->used = 1;
        } else if (s->held != 0) {
            /* Its window ended but the report is due: hold this one too
             * and let the report (a line) carry both. */
            s->held++;
            goto out;
        }
        s->since = now;
        show = 1;
    }
out:
    pthread_mutex_unlock(&pl->lock);
    return show;
}

size_t
sn_peerlog_expire(struct sn_peerlog *pl, time_t now,
                  struct sn_peerlog_report *out, size_t max)
{
    struct sn_peerlog_slot *s;
    size_t i, n = 0;

    pthread_mutex_lock(&pl->lock);
    for (i = 0; i < SN_PEERLOG_SLOTS && n < max; i++) {
        s = &pl->slot[i];
        if (!s->used || (now - s->since < pl->window && now >= s->since))
            continue;
        if (s->held == 0) {
            s->used = 0; /* quiet for a window: forgotten */
            continue;
        }
        snprintf(out[n].addr, sizeof(out[n].addr), "%s", s->addr);
        out[n++].n = s->held;
        s->held = 0;
        s->since = now;
    }
    if (n < max && pl->others != 0 && now - pl->others_since >= pl->window) {
        out[n].addr[0] = '\0';
        out[n++].n = pl->others;
        pl->others = 0;
    }
    pthread_mutex_unlock(&pl->lock);
    return n;
}
