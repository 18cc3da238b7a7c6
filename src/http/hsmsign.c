/* hsmsign: the HSM as a sign callback, timing each signature for metrics. */
#include "http/hsmsign.h"

#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "common/util.h"

sn_err
sn_hsm_signer_init(const struct sn_deps *deps, const struct sn_key *key,
                   struct sn_hsm_signer *hs)
{
    memset(hs, 0, sizeof(*hs));
    hs->deps = deps;
    hs->key = key;
    return deps->keeper != NULL ? SN_OK : SN_ERR_STATE;
}

sn_err
sn_hsm_signer_cb(void *arg, enum sn_digest md, const uint8_t *digest,
                 size_t dlen, uint8_t **sig, size_t *siglen)
{
    struct sn_hsm_signer *hs = arg;
    enum sn_scheme scheme =
        sn_keyalg_is_rsa(hs->key->alg) ? SN_SCHEME_PKCS1 : SN_SCHEME_ECDSA;
    struct timespec t0, t1;
    sn_err r;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    r = sn_keeper_sign_digest(hs->deps->keeper, hs->key->subscriber,
                              hs->key->id, md, scheme, digest, dlen, sig,
                              siglen);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (r == SN_OK) {
        uint8_t h[32];

        if (EVP_Digest(*sig, *siglen, h, NULL, EVP_sha256(), NULL) == 1)
            sn_hex_encode(h, sizeof(h), hs->sig_sha256);
    }
    if (r == SN_OK)
        sn_metrics_signature(hs->deps->metrics, hs->key->alg,
                             (double)(t1.tv_sec - t0.tv_sec) +
                                 (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return r;
}
