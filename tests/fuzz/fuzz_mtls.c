/*
 * libFuzzer driver: the untrusted parsers of mTLS (issue 16). The first
 * byte picks one, the rest is its input:
 *   0: a PKCS#11 URI (common/p11uri.c), as a client key setting;
 *   1: stored subject rules (crypto/peercert.c, sn_peercert_rules_parse);
 *   2: a POST /v1/client-certs body (http/bodies.c, sn_body_clientcert);
 *   3: a presented chain, one DER certificate per 2-byte length prefix,
 *      checked as a pinned leaf and under its own last certificate as CA.
 * A refusal must say why (URI) and leave the output zeroed; an accepted
 * input must satisfy the limits; nothing may crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/p11uri.h"
#include "crypto/peercert.h"
#include "http/bodies.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
text_of(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s != NULL) {
        memcpy(s, data, size);
        s[size] = '\0';
    }
    return s;
}

static void
uri(const uint8_t *data, size_t size)
{
    static const struct sn_p11uri zero;
    struct sn_p11uri u;
    const char *why = NULL;
    char *s = text_of(data, size);

    if (s == NULL)
        return;
    if (sn_p11uri_parse(s, &u, &why) != SN_OK) {
        if (why == NULL || memcmp(&u, &zero, sizeof(u)) != 0)
            abort();
    } else if ((u.object[0] == '\0' && u.id_len == 0) ||
               u.id_len > sizeof(u.id) || strlen(u.token) > SN_P11URI_VALUE_MAX)
        abort();
    free(s);
}

static void
rules(const uint8_t *data, size_t size)
{
    struct sn_subject_rule r[SN_PEERCERT_MAX_RULES];
    char back[SN_CLIENTCERT_RULES_MAX];
    char *s = text_of(data, size);
    size_t n = 0, i;

    if (s == NULL)
        return;
    if (sn_peercert_rules_parse(s, r, &n) == SN_OK) {
        if (n == 0 || n > SN_PEERCERT_MAX_RULES)
            abort();
        for (i = 0; i < n; i++)
            if (strlen(r[i].pattern) == 0 ||
                strlen(r[i].pattern) > SN_PEERCERT_PATTERN_MAX)
                abort();
        /* What is stored reads back the same. */
        if (sn_peercert_rules_format(r, n, back, sizeof(back)) == SN_OK &&
            strlen(s) < sizeof(back) && strcmp(back, s) != 0)
            abort();
    }
    free(s);
}

static void
body(const uint8_t *data, size_t size)
{
    struct sn_body_clientcert b;
    struct sn_body_fault f;
    json_t *j;

    j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        return;
    }
    memset(&f, 0, sizeof(f));
    if (sn_body_clientcert(j, 2000000000, &b, &f) == SN_OK) {
        if (b.cert == NULL || b.roles == 0 ||
            (b.kind == SN_CLIENTCERT_CA) != (b.nrules > 0))
            abort();
        sn_body_clientcert_cleanup(&b);
    } else if (f.why[0] == '\0' || b.cert != NULL)
        abort();
    json_decref(j);
}

static void
chain(const uint8_t *data, size_t size)
{
    const uint8_t *der[SN_PEERCERT_MAX_CHAIN + 1];
    size_t len[SN_PEERCERT_MAX_CHAIN + 1], n = 0, l;
    struct sn_subject_rule rule;
    STACK_OF(X509) *sk = NULL;
    X509 *ca;

    while (size >= 2 && n < SN_PEERCERT_MAX_CHAIN + 1) {
        l = (size_t)data[0] << 8 | data[1];
        data += 2;
        size -= 2;
        if (l > size)
            l = size;
        der[n] = data;
        len[n++] = l;
        data += l;
        size -= l;
    }
    if (sn_peercert_chain_parse(der, len, n, &sk) != SN_OK)
        return;
    if (sn_peercert_rule_make("CN", "a*", &rule) != SN_OK)
        abort();
    (void)sn_peercert_check_leaf(sk_X509_value(sk, 0), 2000000000);
    ca = sk_X509_value(sk, sk_X509_num(sk) - 1);
    (void)sn_peercert_check_ca(sk, ca, 2000000000, &rule, 1);
    (void)sn_peercert_not_after(sk);
    sk_X509_pop_free(sk, X509_free);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0] % 4) {
    case 0:
        uri(data + 1, size - 1);
        break;
    case 1:
        rules(data + 1, size - 1);
        break;
    case 2:
        body(data + 1, size - 1);
        break;
    default:
        chain(data + 1, size - 1);
        break;
    }
    return 0;
}
