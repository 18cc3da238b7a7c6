/*
 * mtls: a TLS client certificate as a credential (see auth.h). The chain
 * is the TLS peer's (untrusted; the handshake proved possession of the
 * leaf's key). The registrations it could match are looked up by the
 * leaf's fingerprint (pinned leaves) and by the SHA-256 of each chain
 * certificate's issuer name (registered CAs), then each is checked with
 * OpenSSL (crypto/peercert.h), oldest first.
 */
#include "auth/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "crypto/peercert.h"

/* Registrations looked at for one certificate, at most. */
#define MAX_CANDIDATES 32

struct candidates {
    struct sn_clientcert c[MAX_CANDIDATES];
    size_t n;
};

static void
candidates_free(struct candidates *cs)
{
    size_t i;

    for (i = 0; i < cs->n; i++)
        sn_clientcert_cleanup(&cs->c[i]);
    cs->n = 0;
}

/* Adds the registrations with match of kind (each once), moving them. */
static sn_err
gather(struct sn_store *st, const char *match, enum sn_clientcert_kind kind,
       struct candidates *cs)
{
    struct sn_clientcert *found = NULL;
    size_t n = 0, i, j;
    sn_err r;

    if ((r = sn_store_clientcert_find(st, match, &found, &n)) != SN_OK)
        return r;
    for (i = 0; i < n; i++) {
        for (j = 0; j < cs->n; j++)
            if (strcmp(cs->c[j].id, found[i].id) == 0)
                break;
        if (found[i].kind != kind || j < cs->n || cs->n == MAX_CANDIDATES)
            continue;
        cs->c[cs->n++] = found[i];
        memset(&found[i], 0, sizeof(found[i]));
    }
    sn_clientcert_list_free(found, n);
    return SN_OK;
}

static enum sn_auth_fault
from_peercert(enum sn_peercert_fault f)
{
    switch (f) {
    case SN_PEERCERT_OK:
        return SN_AUTH_OK;
    case SN_PEERCERT_MALFORMED:
        return SN_AUTH_CERT_MALFORMED;
    case SN_PEERCERT_NOT_YET_VALID:
        return SN_AUTH_CERT_NOT_YET_VALID;
    case SN_PEERCERT_EXPIRED:
        return SN_AUTH_CERT_EXPIRED;
    case SN_PEERCERT_PURPOSE:
        return SN_AUTH_CERT_PURPOSE;
    case SN_PEERCERT_SUBJECT:
        return SN_AUTH_CERT_SUBJECT;
    case SN_PEERCERT_UNTRUSTED:
        break;
    }
    return SN_AUTH_CERT_UNTRUSTED;
}

/* Does the chain satisfy registration c? */
static enum sn_auth_fault
check_one(const struct sn_clientcert *c, STACK_OF(X509) *chain,
          const char *leaf_fp, time_t now)
{
    struct sn_subject_rule rules[SN_PEERCERT_MAX_RULES];
    enum sn_peercert_fault f;
    X509 *ca = NULL;
    size_t nrules = 0;

    if (c->kind == SN_CLIENTCERT_LEAF) {
        if (strcmp(c->fingerprint, leaf_fp) != 0)
            return SN_AUTH_CERT_UNKNOWN;
        return from_peercert(
            sn_peercert_check_leaf(sk_X509_value(chain, 0), now));
    }
    if (sn_peercert_parse_pem(c->pem, &ca) != SN_OK ||
        sn_peercert_rules_parse(c->rules, rules, &nrules) != SN_OK) {
        X509_free(ca);
        sn_error("auth: client-certificate registration %s unreadable", c->id);
        return SN_AUTH_CERT_UNTRUSTED;
    }
    f = sn_peercert_check_ca(chain, ca, now, rules, nrules);
    X509_free(ca);
    return from_peercert(f);
}

/* The subscriber's log shows a certificate refused under its registration. */
static void
audit_refused(struct sn_store *st, const struct sn_clientcert *c,
              const char *fp, const char *client, enum sn_auth_fault f)
{
    char proof[SN_PROOF_MAX];

    snprintf(proof, sizeof(proof), "sha256:%s", fp);
    sn_auth_audit_refused(st, c->subscriber, c->id, SN_AUTH_MTLS, c->id, proof,
                          client, f);
}

static void
principal_from(const struct sn_clientcert *c, const char *fp, time_t not_after,
               struct sn_principal *p)
{
    memset(p, 0, sizeof(*p));
    p->method = SN_AUTH_MTLS;
    snprintf(p->id, sizeof(p->id), "%s", c->id);
    snprintf(p->name, sizeof(p->name), "%s", c->name);
    snprintf(p->subscriber, sizeof(p->subscriber), "%s", c->subscriber);
    p->roles = c->roles;
    memcpy(p->keys, c->keys, sizeof(p->keys));
    p->nkeys = c->nkeys;
    p->expires_at = not_after;
    p->created_at = c->created_at;
    snprintf(p->via, sizeof(p->via), "%s", c->id);
    snprintf(p->proof, sizeof(p->proof), "sha256:%s", fp);
}

/* Budgeted: anyone can present a certificate (see log.h). */
static struct sn_log_limit refused_lines = SN_LOG_LIMIT(10, 10);

/* The registrations the chain could match. */
static sn_err
lookup(struct sn_store *st, STACK_OF(X509) *chain, const char *fp,
       struct candidates *cs)
{
    char issuer[65];
    sn_err r;
    int i;

    if ((r = gather(st, fp, SN_CLIENTCERT_LEAF, cs)) != SN_OK)
        return r;
    for (i = 0; i < sk_X509_num(chain); i++) {
        if (sn_peercert_name_hash(sk_X509_value(chain, i), 1, issuer) != SN_OK)
            return SN_ERR_INVALID;
        if ((r = gather(st, issuer, SN_CLIENTCERT_CA, cs)) != SN_OK)
            return r;
    }
    return SN_OK;
}

enum sn_auth_fault
sn_auth_mtls(struct sn_store *st, const uint8_t *const *der, const size_t *len,
             size_t n, const char *subscriber, const char *client,
             struct sn_principal *out)
{
    struct candidates *cs = NULL;
    STACK_OF(X509) *chain = NULL;
    enum sn_auth_fault f, g;
    char fp[65];
    size_t i, chosen = 0, others = 0;
    int found = 0;
    time_t now = time(NULL);
    sn_err r;

    memset(out, 0, sizeof(*out));
    f = SN_AUTH_CERT_MALFORMED;
    if (sn_peercert_chain_parse(der, len, n, &chain) != SN_OK ||
        sn_peercert_fingerprint(sk_X509_value(chain, 0), fp) != SN_OK)
        goto out;
    f = SN_AUTH_UNAVAILABLE;
    if ((cs = calloc(1, sizeof(*cs))) == NULL)
        goto out;
    if ((r = lookup(st, chain, fp, cs)) != SN_OK) {
        f = r == SN_ERR_INVALID ? SN_AUTH_CERT_MALFORMED : SN_AUTH_UNAVAILABLE;
        goto out;
    }
    f = SN_AUTH_CERT_UNKNOWN;
    for (i = 0; i < cs->n; i++) {
        if (subscriber != NULL && strcmp(cs->c[i].subscriber, subscriber)) {
            others++;
            continue;
        }
        if ((g = check_one(&cs->c[i], chain, fp, now)) != SN_AUTH_OK) {
            if (g != SN_AUTH_CERT_UNKNOWN) {
                audit_refused(st, &cs->c[i], fp, client, g);
                if (!found)
                    f = g;
            }
            continue;
        }
        if (found && strcmp(cs->c[chosen].subscriber, cs->c[i].subscriber)) {
            f = SN_AUTH_CERT_AMBIGUOUS;
            goto out;
        }
        if (!found)
            chosen = i;
        found = 1;
    }
    if (found) {
        principal_from(&cs->c[chosen], fp, sn_peercert_not_after(chain), out);
        f = SN_AUTH_OK;
    } else if (f == SN_AUTH_CERT_UNKNOWN && others > 0)
        f = SN_AUTH_CERT_MISMATCH;
out:
    if (f != SN_AUTH_OK && f != SN_AUTH_UNAVAILABLE)
        sn_log_limited(&refused_lines, SN_LOG_WARN,
                       "auth: %s: sha256:%s from %s", sn_auth_fault_str(f),
                       f == SN_AUTH_CERT_MALFORMED ? "-" : fp, client);
    if (cs != NULL)
        candidates_free(cs);
    free(cs);
    sk_X509_pop_free(chain, X509_free);
    return f;
}

enum sn_auth_fault
sn_auth_mtls_recheck(struct sn_store *st, const struct sn_principal *p)
{
    struct sn_clientcert c;
    enum sn_auth_fault f = SN_AUTH_OK;
    sn_err r;

    if ((r = sn_store_clientcert_get(st, p->via, &c)) != SN_OK)
        return r == SN_ERR_NOT_FOUND ? SN_AUTH_CERT_DELETED
                                     : SN_AUTH_UNAVAILABLE;
    if (strcmp(c.subscriber, p->subscriber) != 0)
        f = SN_AUTH_CERT_DELETED;
    else if (p->expires_at != 0 && p->expires_at <= time(NULL))
        f = SN_AUTH_CERT_EXPIRED;
    sn_clientcert_cleanup(&c);
    return f;
}
