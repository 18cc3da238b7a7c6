/* checksrc sample: nothing here is a violation (in a comment: gets(x)). */
#include "common/err.h"
#include "crypto/x509util.h"

int good(const char *s);

int
good(const char *s)
{
    /* struct members and longer names are not the banned calls */
    return my_atoi(s) + s->rand(1);
}
