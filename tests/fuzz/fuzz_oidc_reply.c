/*
 * libFuzzer driver: the OIDC client's parsers (src/apiclient/oidcreply.c),
 * which read what a CI platform's ID token endpoint and signetd's
 * POST /v1/auth/oidc send back, and check the shape of ID tokens read from
 * files and variables. An accepted grant must hold a printable token of
 * bounded length and a positive expiry.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apiclient/oidcreply.h"
#include "common/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sn_oidc_grant g;
    char *jwt = NULL, *text;
    size_t i, n;

    if (sn_oidc_parse_actions(data, size, &jwt) == SN_OK) {
        if (sn_idtoken_check(jwt, strlen(jwt)) != SN_OK)
            abort();
        sn_secret_free(jwt);
    }
    if (sn_oidc_parse_grant(data, size, &g) == SN_OK) {
        n = strlen(g.token);
        if (n == 0 || n > SN_OIDC_TOKEN_MAX || g.expires_at <= 0)
            abort();
        for (i = 0; i < n; i++)
            if ((unsigned char)g.token[i] < 0x21 ||
                (unsigned char)g.token[i] > 0x7e)
                abort();
        sn_oidc_grant_cleanup(&g);
    }
    (void)sn_idtoken_check((const char *)data, size);
    if ((text = malloc(size + 1)) != NULL) {
        memcpy(text, data, size);
        text[size] = '\0';
        (void)sn_idtoken_trim_check(text);
        free(text);
    }
    return 0;
}
