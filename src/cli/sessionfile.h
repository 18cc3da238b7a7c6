/*
 * sessionfile: a person's login session (issue 17), kept between commands
 * in $XDG_CONFIG_HOME/signet/session, by default ~/.config/signet/session:
 * the server's URL, the session token, when it expires and the CA file
 * that verified the server. The file is made mode 0600 in a directory
 * made 0700 and is replaced whole (a temporary file renamed over it). It
 * is the user's own, but is still parsed strictly: bounded and typed.
 */
#ifndef SN_SESSIONFILE_H
#define SN_SESSIONFILE_H

#include <stddef.h>
#include <time.h>

#include "common/err.h"

#define SN_SESSIONFILE_URL_MAX 512
#define SN_SESSIONFILE_PATH_MAX 4096

struct sn_sessionfile {
    char url[SN_SESSIONFILE_URL_MAX + 1];
    char *token;       /* the session token: a secret, malloc'd */
    time_t expires_at; /* 0: the server named no expiry */
    char ca_file[SN_SESSIONFILE_PATH_MAX]; /* absolute; "": system store */
    char name[65];                         /* the account's name */
    char account[64];                      /* its id */
    int mfa;                               /* the login proved a 2nd factor */
};

/*
 * The file's path: $XDG_CONFIG_HOME (if set and absolute, as the XDG base
 * directory specification asks) or $HOME/.config, then /signet/session.
 * SN_ERR_CONFIG if neither is usable.
 */
sn_err sn_sessionfile_path(char *buf, size_t len);

/* Writes s (creating the directories, 0700); why says what failed. */
sn_err sn_sessionfile_save(const struct sn_sessionfile *s, char *why,
                           size_t whylen);

/*
 * Reads the stored session into s (zeroed first; free with
 * sn_sessionfile_cleanup). SN_ERR_NOT_FOUND if there is none; a file
 * others can read or that is not the user's, or one that does not parse,
 * is refused with why set.
 */
sn_err sn_sessionfile_load(struct sn_sessionfile *s, char *why, size_t whylen);

/* Removes the stored session; SN_ERR_NOT_FOUND if there was none. */
sn_err sn_sessionfile_remove(char *why, size_t whylen);

/* Wipes and frees the token; s can be loaded again. */
void sn_sessionfile_cleanup(struct sn_sessionfile *s);

#endif
