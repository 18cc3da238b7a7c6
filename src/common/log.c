/* log: timestamped lines on stderr, one write per record (see log.h). */
#include "common/log.h"

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 1024
#define CLIENT_MAX 64 /* an IPv6 address with a scope fits */

static enum sn_log_level min_level = SN_LOG_INFO;

/* The request this thread works for ("": none); see sn_log_set_client. */
static __thread char client[CLIENT_MAX];

void
sn_log_set_level(enum sn_log_level level)
{
    min_level = level;
}

void
sn_log_set_client(const char *addr)
{
    size_t i;

    client[0] = '\0';
    if (addr == NULL)
        return;
    /* Only what a numeric address is made of: the field stays one word. */
    for (i = 0; addr[i] != '\0' && i < sizeof(client) - 1; i++) {
        if (!isalnum((unsigned char)addr[i]) &&
            strchr(".:%[]-_", addr[i]) == NULL) {
            client[0] = '\0';
            return;
        }
        client[i] = addr[i];
    }
    client[i] = '\0';
}

/* The time, level and client of a line into line; its length or -1. */
static int
prefix(char *line, size_t len, enum sn_log_level level)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    return snprintf(line, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s%s%s",
                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, names[level],
                    client[0] != '\0' ? "client=" : "", client,
                    client[0] != '\0' ? " " : "");
}

static void vlog(enum sn_log_level level, unsigned dropped, const char *fmt,
                 va_list ap) __attribute__((format(printf, 3, 0)));

static void
vlog(enum sn_log_level level, unsigned dropped, const char *fmt, va_list ap)
{
    char line[LINE_MAX_BYTES];
    int n, m, i;

    if (level < min_level || (unsigned)level > SN_LOG_ERROR)
        return;
    n = prefix(line, sizeof(line), level);
    if (n < 0 || (size_t)n >= sizeof(line) - 2)
        return;
    m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    if (m >= 0 && dropped > 0 && (size_t)(n + m) < sizeof(line) - 2) {
        int k = snprintf(line + n + m, sizeof(line) - (size_t)(n + m) - 1,
                         " (and %u more like it left out)", dropped);
        if (k > 0)
            m += k;
    }
    if (m < 0)
        return;
    if ((size_t)m > sizeof(line) - (size_t)n - 2)
        m = (int)(sizeof(line) - (size_t)n - 2); /* truncated */
    /* A trailing line end is dropped; any other control character of the
     * message (it may quote a client or a library) becomes '?'. */
    while (m > 0 && (line[n + m - 1] == '\n' || line[n + m - 1] == '\r'))
        m--;
    for (i = n; i < n + m; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
    n += m;
    line[n++] = '\n';
    (void)!write(STDERR_FILENO, line, (size_t)n);
}

void
sn_log(enum sn_log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(level, 0, fmt, ap);
    va_end(ap);
}

static pthread_mutex_t limit_lock = PTHREAD_MUTEX_INITIALIZER;

void
sn_log_limited(struct sn_log_limit *l, enum sn_log_level level, const char *fmt,
               ...)
{
    struct timespec ts;
    unsigned dropped = 0;
    int pass = 0;
    va_list ap;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    pthread_mutex_lock(&limit_lock);
    if (ts.tv_sec - l->window >= (long long)l->secs) {
        l->window = ts.tv_sec;
        l->n = 0;
    }
    if (l->n < l->max) {
        l->n++;
        dropped = l->dropped;
        l->dropped = 0;
        pass = 1;
    } else if (l->dropped < UINT_MAX) {
        l->dropped++;
    }
    pthread_mutex_unlock(&limit_lock);
    if (!pass)
        return;
    va_start(ap, fmt);
    vlog(level, dropped, fmt, ap);
    va_end(ap);
}
