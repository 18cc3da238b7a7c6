/*
 * libFuzzer driver: the OIDC parsers of untrusted input (src/auth): the
 * compact-JWS ID token (jwt.c), the JWKS document (jwk.c) and a trust
 * policy's rules (trustpol.c), each over the same bytes. A token that
 * parses is verified against the JWKS parsed from the input (if any): it
 * must never verify without a key, and nothing may crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "auth/trustpol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_token(const uint8_t *data, size_t size, const struct sn_jwks *ks)
{
    struct sn_jwt_expect ex = {"https://issuer.example", "signet", 1700000000,
                               600};
    struct sn_jwt *t = NULL;
    char jti[SN_JWT_JTI_MAX + 1];
    time_t exp;

    if (sn_jwt_parse((const char *)data, size, &t) != SN_JWT_OK)
        return;
    (void)sn_jwt_issuer(t);
    if (sn_jwt_verify(t, ks, &ex, &exp, jti) == SN_JWT_OK && ks == NULL)
        abort();
    sn_jwt_free(t);
}

static void
fuzz_rules(const uint8_t *data, size_t size)
{
    struct sn_trust_rules r;
    char why[256], proof[512], *dump;
    json_t *body = json_loadb((const char *)data, size, 0, NULL);

    if (body == NULL)
        return;
    if (sn_trust_rules_parse(body, &r, why, sizeof(why)) == 0) {
        (void)sn_trust_match(r.claims, body);
        sn_trust_proof("https://issuer.example", r.claims, body, proof,
                       sizeof(proof));
        if (strlen(proof) >= sizeof(proof))
            abort();
        dump = sn_trust_rules_dump(&r);
        free(dump);
        sn_trust_rules_cleanup(&r);
    }
    json_decref(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sn_jwks *ks = NULL;

    if (size > 16384)
        return 0;
    if (sn_jwks_parse((const char *)data, size, &ks) != SN_OK)
        ks = NULL;
    fuzz_token(data, size, ks);
    sn_jwks_free(ks);
    fuzz_rules(data, size);
    return 0;
}
