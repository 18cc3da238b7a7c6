/* checksrc sample: banned calls must be caught; the comment's strcpy(x) not. */
#include <stdio.h>
#include <string.h>

void bad_banned(char *d, const char *s);

void
bad_banned(char *d, const char *s)
{
    const char *t = "sprintf(d, s) in a string is fine";

    strcpy(d, s);
    (void)sprintf(d, "%s", t);
    (void)atoi(s);
}
