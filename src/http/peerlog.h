/*
 * peerlog: "at most one log line per client address per window" for
 * events a client can repeat at will (a failed TLS handshake). A small
 * table, bounded whatever the number of addresses: the first event of an
 * address is to be logged at once, the next ones in its window are held
 * and reported together when the window ends. Addresses the full table
 * cannot take are counted together ("others"), also once a window. Over
 * a window that makes at most SN_PEERLOG_SLOTS + 1 lines however many
 * addresses there are. Pure: no logging, no clock of its own (the caller
 * passes the time), thread-safe. Input (the address) is the network's:
 * a string bounded here.
 */
#ifndef SN_PEERLOG_H
#define SN_PEERLOG_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#define SN_PEERLOG_SLOTS 64
#define SN_PEERLOG_ADDR 64 /* numeric addresses; longer ones are cut */

struct sn_peerlog_slot {
    char addr[SN_PEERLOG_ADDR];
    time_t since;  /* start of the address's window (its last line) */
    unsigned held; /* events in the window after its line */
    int used;
};

struct sn_peerlog {
    pthread_mutex_t lock;
    time_t window; /* seconds */
    struct sn_peerlog_slot slot[SN_PEERLOG_SLOTS];
    unsigned others; /* events of addresses the table had no room for */
    time_t others_since;
};

/* A report of held events: addr "" stands for the others. */
struct sn_peerlog_report {
    char addr[SN_PEERLOG_ADDR];
    unsigned n;
};

void sn_peerlog_init(struct sn_peerlog *pl, time_t window);
void sn_peerlog_cleanup(struct sn_peerlog *pl);
/* An event of addr at now: 1 if it is to be logged now, 0 if held. */
int sn_peerlog_event(struct sn_peerlog *pl, const char *addr, time_t now);
/*
 * The held events of the windows ended by now, at most max reports into
 * out (SN_PEERLOG_SLOTS + 1 take them all); returns how many. An address
 * reported starts a new window (the report is its line).
 */
size_t sn_peerlog_expire(struct sn_peerlog *pl, time_t now,
                         struct sn_peerlog_report *out, size_t max);

#endif
