/*
 * log: one-line structured log records to stderr. Callers never pass
 * secrets, tokens or request bodies; log hashes and lengths instead.
 */
#ifndef SN_LOG_H
#define SN_LOG_H

enum sn_log_level { SN_LOG_DEBUG, SN_LOG_INFO, SN_LOG_WARN, SN_LOG_ERROR };

void sn_log_set_level(enum sn_log_level level);
void sn_log(enum sn_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define sn_info(...) sn_log(SN_LOG_INFO, __VA_ARGS__)
#define sn_warn(...) sn_log(SN_LOG_WARN, __VA_ARGS__)
#define sn_error(...) sn_log(SN_LOG_ERROR, __VA_ARGS__)
#define sn_debug(...) sn_log(SN_LOG_DEBUG, __VA_ARGS__)

#endif
