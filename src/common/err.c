/* err: texts for the error enum (trusted, static). */
#include "common/err.h"

const char *
sn_err_str(sn_err e)
{
    static const char *const texts[] = {
#define SN_ERR_TEXT(name, text) text,
        SN_ERRORS(SN_ERR_TEXT)
#undef SN_ERR_TEXT
    };
    if ((unsigned)e >= sizeof(texts) / sizeof(texts[0]))
        return "unknown error";
    return texts[e];
}
