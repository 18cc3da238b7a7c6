/*
 * chain: code signing chain verification (see chain.h). The chain comes
 * from a subscriber and is untrusted; the anchors are the operator's.
 * The leaf must chain to an anchor, strictly, at the given time, and be
 * a code signing certificate: a self-signed leaf naming anyone at all, or
 * a TLS certificate of the right key, is refused.
 */
#include "crypto/chain.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#define SUBJECT_SHOWN 96 /* bytes of a subject quoted in why */

/* "certificate N (subject)" into buf; the subject is RFC 2253 with every
 * control and non-ASCII byte escaped, cut at SUBJECT_SHOWN. */
static void
name_cert(X509 *x, int depth, char *buf, size_t len)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n = 0;

    if (x != NULL && b != NULL &&
        X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >=
            0)
        n = BIO_get_mem_data(b, &data);
    if (n <= 0 || data == NULL)
        snprintf(buf, len, "certificate %d", depth);
    else
        snprintf(buf, len, "certificate %d (%.*s%s)", depth,
                 (int)(n > SUBJECT_SHOWN ? SUBJECT_SHOWN : n), data,
                 n > SUBJECT_SHOWN ? "..." : "");
    BIO_free(b);
}

static sn_err
refuse(X509 *x, int depth, const char *what, char *why, size_t whylen)
{
    char who[SUBJECT_SHOWN + 64];

    name_cert(x, depth, who, sizeof(who));
    snprintf(why, whylen, "%s: %s", who, what);
    return SN_ERR_INVALID;
}

/* The leaf's and the intermediates' uses (the anchor is the operator's
 * choice and is not judged here). */
static sn_err
check_uses(STACK_OF(X509) *verified, char *why, size_t whylen)
{
    X509 *leaf = sk_X509_value(verified, 0);
    uint32_t flags;
    int i;

    flags = X509_get_extension_flags(leaf);
    if (!(flags & EXFLAG_XKUSAGE) ||
        !(X509_get_extended_key_usage(leaf) & XKU_CODE_SIGN))
        return refuse(leaf, 0,
                      "no extendedKeyUsage codeSigning "
                      "(1.3.6.1.5.5.7.3.3)",
                      why, whylen);
    if (X509_check_ca(leaf) != 0)
        return refuse(leaf, 0, "a CA certificate, not a code signing leaf", why,
                      whylen);
    if ((flags & EXFLAG_KUSAGE) &&
        !(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE))
        return refuse(leaf, 0, "keyUsage without digitalSignature", why,
                      whylen);
    for (i = 1; i < sk_X509_num(verified) - 1; i++) {
        X509 *x = sk_X509_value(verified, i);

        if ((X509_get_extension_flags(x) & EXFLAG_XKUSAGE) &&
            !(X509_get_extended_key_usage(x) & (XKU_CODE_SIGN | XKU_ANYEKU)))
            return refuse(x, i,
                          "an issuing CA whose extendedKeyUsage excludes "
                          "codeSigning",
                          why, whylen);
    }
    return SN_OK;
}

/* A store of the anchors, and the untrusted certificates as a stack that
 * borrows them (free it with sk_X509_free, not pop_free). */
static sn_err
setup(STACK_OF(X509) *chain, STACK_OF(X509) *anchors, STACK_OF(X509) *known,
      X509_STORE **store, STACK_OF(X509) **untrusted)
{
    int i;

    if ((*store = X509_STORE_new()) == NULL ||
        (*untrusted = sk_X509_new_null()) == NULL)
        return SN_ERR_NOMEM;
    for (i = 0; i < sk_X509_num(anchors); i++)
        if (X509_STORE_add_cert(*store, sk_X509_value(anchors, i)) != 1)
            return SN_ERR_NOMEM;
    for (i = 1; i < sk_X509_num(chain); i++)
        if (!sk_X509_push(*untrusted, sk_X509_value(chain, i)))
            return SN_ERR_NOMEM;
    for (i = 0; known != NULL && i < sk_X509_num(known); i++)
        if (!sk_X509_push(*untrusted, sk_X509_value(known, i)))
            return SN_ERR_NOMEM;
    return SN_OK;
}

sn_err
sn_chain_verify_codesigning(STACK_OF(X509) *chain, STACK_OF(X509) *anchors,
                            STACK_OF(X509) *known, time_t now, char *why,
                            size_t whylen)
{
    STACK_OF(X509) *untrusted = NULL;
    X509_STORE *store = NULL;
    X509_STORE_CTX *ctx = NULL;
    X509_VERIFY_PARAM *param;
    X509 *leaf;
    int err;
    sn_err r = SN_ERR_INTERNAL;

    if (whylen > 0)
        why[0] = '\0';
    if (chain == NULL || sk_X509_num(chain) < 1 || anchors == NULL) {
        snprintf(why, whylen, "no certificate");
        return SN_ERR_INVALID;
    }
    leaf = sk_X509_value(chain, 0);
    if ((r = setup(chain, anchors, known, &store, &untrusted)) != SN_OK)
        goto out;
    r = SN_ERR_NOMEM;
    if ((ctx = X509_STORE_CTX_new()) == NULL ||
        X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1)
        goto out;
    param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
    X509_VERIFY_PARAM_set_time(param, now);
    if (X509_verify_cert(ctx) != 1) {
        err = X509_STORE_CTX_get_error(ctx);
        r = refuse(X509_STORE_CTX_get_current_cert(ctx),
                   X509_STORE_CTX_get_error_depth(ctx),
                   err == X509_V_OK ? "does not verify"
                                    : X509_verify_cert_error_string(err),
                   why, whylen);
        goto out;
    }
    r = check_uses(X509_STORE_CTX_get0_chain(ctx), why, whylen);
out:
    if (r == SN_ERR_NOMEM)
        snprintf(why, whylen, "out of memory");
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    X509_STORE_free(store);
    return r;
}
