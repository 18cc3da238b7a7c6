/*
 * secretin: reading a secret a person types or pipes in (a password, a
 * TOTP or recovery code). From a terminal the input is not echoed; from a
 * pipe or file it is one line. Secrets never come from the command line,
 * where other users see them. Buffers are the caller's, who wipes them.
 */
#ifndef SN_SECRETIN_H
#define SN_SECRETIN_H

#include <stddef.h>

#include "common/err.h"

/*
 * One line from standard input into buf (len bytes, NUL-terminated, the
 * newline and a carriage return before it removed). When standard input is
 * a terminal, prompt goes to standard error and echo is off while typing.
 * SN_ERR_NOT_FOUND at end of input before any byte, SN_ERR_LIMIT if the
 * line does not fit (it is read to its end and wiped), SN_ERR_INVALID if it
 * holds a NUL byte, SN_ERR_IO on a read error.
 */
sn_err sn_secretin_prompt(const char *prompt, char *buf, size_t len);

/*
 * A secret from a file: its one line (a final newline is allowed). "-"
 * reads standard input as sn_secretin_prompt does. Errors as above; a
 * file with a second line is SN_ERR_INVALID.
 */
sn_err sn_secretin_file(const char *path, const char *prompt, char *buf,
                        size_t len);

/* Whether standard input is a terminal (a person typing). */
int sn_secretin_tty(void);

#endif
