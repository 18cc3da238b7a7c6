/*
 * log: one-line structured log records to stderr. Callers never pass
 * secrets, tokens or request bodies; log hashes and lengths instead.
 *
 * Every line has one format, so that a reader (or a regex) can split it:
 *   2026-12-06T03:58:56.123Z warn client=192.0.2.7 auth: unknown token
 * the time (UTC, RFC 3339, milliseconds), the level (debug, info, warn,
 * error), the client address while the thread is working for a request
 * (sn_log_set_client), then the message. Control characters in the
 * message (a newline quoted from a client, a library's own line end)
 * become '?': one record is always one line.
 */
#ifndef SN_LOG_H
#define SN_LOG_H

enum sn_log_level { SN_LOG_DEBUG, SN_LOG_INFO, SN_LOG_WARN, SN_LOG_ERROR };

void sn_log_set_level(enum sn_log_level level);
void sn_log(enum sn_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * The client address (numeric) that this thread's lines carry from now
 * on; NULL: none. Set it when a thread starts working for a request and
 * clear it when it stops, or unrelated lines would name that client.
 */
void sn_log_set_client(const char *addr);

/*
 * A budget for lines a client can cause at will (a refused token, a probe
 * of another tenant's key): at most max lines a window of secs seconds;
 * the lines over it are only counted, and the next line let through says
 * how many were left out. Static storage, zero-initialised but for max
 * and secs: SN_LOG_LIMIT(10, 10).
 */
struct sn_log_limit {
    unsigned max, secs;
    long long window; /* start of the current window (seconds) */
    unsigned n;       /* lines in it */
    unsigned dropped; /* left out since the last line let through */
};
#define SN_LOG_LIMIT(max, secs)                                                \
    {                                                                          \
        (max), (secs), 0, 0, 0                                                 \
    }

/* sn_log within the budget l (thread-safe). */
void sn_log_limited(struct sn_log_limit *l, enum sn_log_level level,
                    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define sn_info(...) sn_log(SN_LOG_INFO, __VA_ARGS__)
#define sn_warn(...) sn_log(SN_LOG_WARN, __VA_ARGS__)
#define sn_error(...) sn_log(SN_LOG_ERROR, __VA_ARGS__)
#define sn_debug(...) sn_log(SN_LOG_DEBUG, __VA_ARGS__)

#endif
