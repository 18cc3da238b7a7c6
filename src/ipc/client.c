/*
 * client: the front end's keeper calls. A pool of connections, each used
 * by one thread for one request and reply at a time. Each request carries
 * the asking thread's nice (relative to the front end's own), and the
 * keeper serves it at that much below its own priority: the front end's
 * lower-priority work (a busy tenant's signers, anonymous time-stamps)
 * stays lower in the keeper too, where the HSM's CPU is spent. A link is
 * pooled with its nice and reused only at the same one, so a keeper
 * thread seldom has to change its priority.
 */
#define _GNU_SOURCE
#include "ipc/client.h"
#include "ipc/proto.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define POOL_MAX 64
#define REPLY_TIMEOUT_MS 120000 /* an RSA-4096 key in a slow module */

struct sn_keeper {
    pthread_mutex_t lock;
    char path[108];
    int idle[POOL_MAX];
    uint8_t idle_nice[POOL_MAX];
    size_t nidle;
    int base_nice; /* the process's: a thread's nice is told relative to it */
    unsigned gen;  /* bumped when the keeper went away: idle links are stale */
    sn_keeper_opener opener;
    void *opener_arg;
    int gone_logged;
};

struct reply {
    uint8_t *body;
    struct sn_kp_msg m;
};

sn_err
sn_keeper_new(const char *path, struct sn_keeper **out)
{
    struct sn_keeper *k;

    *out = NULL;
    if (strlen(path) >= sizeof(k->path))
        return SN_ERR_INVALID;
    if ((k = calloc(1, sizeof(*k))) == NULL)
        return SN_ERR_NOMEM;
    pthread_mutex_init(&k->lock, NULL);
    memcpy(k->path, path, strlen(path) + 1);
    errno = 0;
    k->base_nice = getpriority(PRIO_PROCESS, (id_t)getpid());
    if (errno != 0)
        k->base_nice = 0;
    *out = k;
    return SN_OK;
}

void
sn_keeper_free(struct sn_keeper *k)
{
    size_t i;

    if (k == NULL)
        return;
    for (i = 0; i < k->nidle; i++)
        close(k->idle[i]);
    pthread_mutex_destroy(&k->lock);
    free(k);
}

void
sn_keeper_set_opener(struct sn_keeper *k, sn_keeper_opener fn, void *arg)
{
    k->opener = fn;
    k->opener_arg = arg;
}

static int
dial(const struct sn_keeper *k)
{
    struct timeval tv = {REPLY_TIMEOUT_MS / 1000, 0};
    struct sockaddr_un sa;
    int fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, k->path, strlen(k->path) + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Set by sn_keeper_thread_nice; -1: the thread's own. */
static __thread int nice_set = -1;

void
sn_keeper_thread_nice(int nice)
{
    nice_set = nice < 0 ? -1 : nice > SN_KP_NICE_MAX ? SN_KP_NICE_MAX : nice;
}

/* The calling thread's nice above the process's, as the keeper takes it
 * (Linux: nice is per thread), unless the thread said otherwise. */
static unsigned
thread_nice(const struct sn_keeper *k)
{
    int n;

    if (nice_set >= 0)
        return (unsigned)nice_set;
    errno = 0;
    n = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    if (errno != 0 || n <= k->base_nice)
        return 0;
    n -= k->base_nice;
    return n > SN_KP_NICE_MAX ? SN_KP_NICE_MAX : (unsigned)n;
}

/* An idle link at this nice (*pooled = 1) or a new one; -1 if the keeper
 * is gone. */
static int
take(struct sn_keeper *k, unsigned nice, int *pooled, unsigned *gen)
{
    int fd = -1;
    size_t i;

    pthread_mutex_lock(&k->lock);
    *gen = k->gen;
    for (i = k->nidle; i-- > 0;)
        if (k->idle_nice[i] == nice) {
            fd = k->idle[i];
            k->idle[i] = k->idle[k->nidle - 1];
            k->idle_nice[i] = k->idle_nice[k->nidle - 1];
            k->nidle--;
            break;
        }
    pthread_mutex_unlock(&k->lock);
    *pooled = fd >= 0;
    if (fd < 0 && (fd = dial(k)) < 0) {
        if (!__atomic_exchange_n(&k->gone_logged, 1, __ATOMIC_SEQ_CST))
            sn_error("keeper: cannot reach %s: %s", k->path, strerror(errno));
    } else if (fd >= 0 &&
               __atomic_exchange_n(&k->gone_logged, 0, __ATOMIC_SEQ_CST))
        sn_info("keeper: reachable again");
    return fd;
}

/* Pools fd at nice. A full pool gives up a link at another nice, if it
 * has one, so that no nice is left to dial a link for every request. */
static void
give_back(struct sn_keeper *k, int fd, unsigned nice, unsigned gen)
{
    size_t i;
    int out = fd;

    pthread_mutex_lock(&k->lock);
    if (gen == k->gen && k->nidle < POOL_MAX) {
        k->idle[k->nidle] = fd;
        k->idle_nice[k->nidle++] = (uint8_t)nice;
        out = -1;
    } else if (gen == k->gen) {
        for (i = 0; i < k->nidle; i++)
            if (k->idle_nice[i] != nice) {
                out = k->idle[i];
                k->idle[i] = fd;
                k->idle_nice[i] = (uint8_t)nice;
                break;
            }
    }
    pthread_mutex_unlock(&k->lock);
    if (out >= 0)
        close(out);
}

/* The keeper went away: every idle link is to the old one. */
static void
drop_all(struct sn_keeper *k)
{
    size_t i, n;
    int fds[POOL_MAX];

    pthread_mutex_lock(&k->lock);
    k->gen++;
    n = k->nidle;
    memcpy(fds, k->idle, n * sizeof(int));
    k->nidle = 0;
    pthread_mutex_unlock(&k->lock);
    for (i = 0; i < n; i++)
        close(fds[i]);
}

static int
send_all(int fd, const uint8_t *p, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/*
 * One exchange on fd: 0; -1 if the request could not be written (a link
 * whose keeper is gone: EPIPE, nothing reached a keeper, another link may
 * be tried); -2 if the link failed after it was written (nothing to
 * trust, nothing to send again). The reply is read in as few calls as it
 * arrives in: usually one.
 */
static int
exchange(int fd, const uint8_t *frame, size_t flen, uint8_t req,
         struct reply *rep)
{
    uint8_t *buf = NULL, *bigger, type = 0;
    size_t have = 0, cap = 4096, total = 0, blen = 0;
    unsigned nice = 0;
    ssize_t n;

    if (send_all(fd, frame, flen) != 0)
        return -1;
    if ((buf = malloc(cap)) == NULL)
        return -2;
    while (total == 0 || have < total) {
        n = recv(fd, buf + have, cap - have, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail; /* closed, or no answer within REPLY_TIMEOUT_MS */
        have += (size_t)n;
        if (total == 0 && have >= SN_KP_HDR) {
            /* a reply carries nice 0 (docs/ipc.md) */
            if (sn_kp_header(buf, &type, &blen, &nice) != SN_OK || nice != 0)
                goto fail;
            total = SN_KP_HDR + blen;
            if (total > cap) {
                if ((bigger = malloc(total)) == NULL)
                    goto fail;
                memcpy(bigger, buf, have);
                free(buf);
                buf = bigger;
                cap = total;
            }
        }
    }
    /* one reply per request: nothing after it */
    if (have != total ||
        sn_kp_decode(type, req, buf + SN_KP_HDR, blen, &rep->m) != SN_OK)
        goto fail;
    rep->body = buf;
    return 0;
fail:
    if (buf != NULL)
        explicit_bzero(buf, have);
    free(buf);
    return -2;
}

/* Sends the frame o built and reads the reply: SN_OK with rep (free
 * rep->body), the keeper's error, or SN_ERR_HSM if it cannot be asked.
 * A request is written once: a link that fails after it was sent is not
 * retried (the keeper may have acted: a token made, a key generated). */
static sn_err
call(struct sn_keeper *k, struct sn_kp_out *o, struct reply *rep)
{
    uint8_t *frame = NULL;
    size_t flen = 0;
    unsigned gen, nice = thread_nice(k);
    int fd, pooled, tries, n;
    uint8_t req = o->type;
    sn_err r = SN_ERR_HSM;

    memset(rep, 0, sizeof(*rep));
    sn_kp_nice(o, nice);
    if ((r = sn_kp_finish(o, &frame, &flen)) != SN_OK)
        return r;
    r = SN_ERR_HSM;
    /* A pooled link may be to a keeper that has since restarted: then
     * every idle one is; a new one is dialled before anything is sent. */
    for (tries = 0; tries < 2; tries++) {
        if ((fd = take(k, nice, &pooled, &gen)) < 0)
            break;
        if ((n = exchange(fd, frame, flen, req, rep)) == 0) {
            give_back(k, fd, nice, gen);
            r = SN_OK;
            break;
        }
        close(fd);
        drop_all(k);
        /* only a request no keeper received goes on a new link */
        if (n != -1 || !pooled)
            break;
    }
    free(frame);
    if (r != SN_OK)
        return r;
    if (rep->m.type == SN_KP_ERR) {
        r = rep->m.f[0].u > 0 && rep->m.f[0].u < 1000 ? (sn_err)rep->m.f[0].u
                                                      : SN_ERR_INTERNAL;
        free(rep->body);
        rep->body = NULL;
        return r;
    }
    return SN_OK;
}

static sn_err
copy_field(const struct sn_kp_field *f, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if ((*out = malloc(f->len ? f->len : 1)) == NULL)
        return SN_ERR_NOMEM;
    memcpy(*out, f->p, f->len);
    *len = f->len;
    return SN_OK;
}

sn_err
sn_keeper_ping(struct sn_keeper *k)
{
    struct sn_kp_out o;
    struct reply rep;
    sn_err r;

    sn_kp_begin(&o, SN_KP_PING, 0);
    if ((r = call(k, &o, &rep)) == SN_OK)
        free(rep.body);
    return r;
}

sn_err
sn_keeper_token_create(struct sn_keeper *k, const char *subscriber,
                       const char *name, char label[65], uint8_t **sealed,
                       size_t *slen)
{
    struct sn_kp_out o;
    struct reply rep;
    sn_err r;

    *sealed = NULL;
    *slen = 0;
    sn_kp_begin(&o, SN_KP_TOKEN_CREATE, 0);
    sn_kp_s(&o, subscriber);
    sn_kp_s(&o, name);
    if ((r = call(k, &o, &rep)) != SN_OK)
        return r;
    if ((r = sn_kp_str(&rep.m.f[0], label, 65)) == SN_OK && rep.m.f[1].len > 0)
        r = copy_field(&rep.m.f[1], sealed, slen);
    free(rep.body);
    return r;
}

static sn_err
token_open(struct sn_keeper *k, const char *subscriber)
{
    char name[129] = "";
    uint8_t *sealed = NULL;
    size_t slen = 0;
    struct sn_kp_out o;
    struct reply rep;
    sn_err r;

    if (k->opener == NULL)
        return SN_ERR_STATE;
    if ((r = k->opener(k->opener_arg, subscriber, name, &sealed, &slen)) !=
        SN_OK)
        return r;
    sn_kp_begin(&o, SN_KP_TOKEN_OPEN, 0);
    sn_kp_s(&o, subscriber);
    sn_kp_s(&o, name);
    sn_kp_b(&o, sealed, slen);
    free(sealed);
    if ((r = call(k, &o, &rep)) == SN_OK)
        free(rep.body);
    return r;
}

/* A call about a subscriber's token, which the keeper may not have open
 * yet (or no more: it restarted). build fills o. */
static sn_err
sub_call(struct sn_keeper *k, const char *subscriber,
         void (*build)(struct sn_kp_out *, const void *), const void *arg,
         uint8_t type, struct reply *rep)
{
    struct sn_kp_out o;
    sn_err r;

    sn_kp_begin(&o, type, 0);
    build(&o, arg);
    if ((r = call(k, &o, rep)) != SN_ERR_STATE)
        return r;
    if ((r = token_open(k, subscriber)) != SN_OK)
        return r;
    sn_kp_begin(&o, type, 0);
    build(&o, arg);
    return call(k, &o, rep);
}

struct gen_args {
    const char *subscriber, *id;
    enum sn_keyalg alg;
    time_t at;
};

static void
build_gen(struct sn_kp_out *o, const void *arg)
{
    const struct gen_args *a = arg;

    sn_kp_s(o, a->subscriber);
    sn_kp_s(o, a->id);
    sn_kp_u(o, (uint64_t)a->alg);
    sn_kp_u(o, a->at > 0 ? (uint64_t)a->at : 0);
}

void
sn_keeper_key_cleanup(struct sn_keeper_key *key)
{
    free(key->spki);
    free(key->att_der);
    memset(key, 0, sizeof(*key));
}

sn_err
sn_keeper_key_generate(struct sn_keeper *k, const char *subscriber,
                       const char *id, enum sn_keyalg alg, time_t generated_at,
                       struct sn_keeper_key *out)
{
    struct gen_args a = {subscriber, id, alg, generated_at};
    const uint8_t *f;
    struct reply rep;
    sn_err r;

    memset(out, 0, sizeof(*out));
    if ((r = sub_call(k, subscriber, build_gen, &a, SN_KP_KEY_GENERATE,
                      &rep)) != SN_OK)
        return r;
    f = rep.m.f[1].p;
    out->facts.local = f[0];
    out->facts.never_extractable = f[1];
    out->facts.always_sensitive = f[2];
    out->facts.extractable = f[3];
    out->facts.sensitive = f[4];
    if ((r = copy_field(&rep.m.f[0], &out->spki, &out->spki_len)) != SN_OK ||
        (r = sn_kp_str(&rep.m.f[2], out->hsm.manufacturer,
                       sizeof(out->hsm.manufacturer))) != SN_OK ||
        (r = sn_kp_str(&rep.m.f[3], out->hsm.model, sizeof(out->hsm.model))) !=
            SN_OK ||
        (r = sn_kp_str(&rep.m.f[4], out->hsm.serial,
                       sizeof(out->hsm.serial))) != SN_OK ||
        (r = sn_kp_str(&rep.m.f[5], out->hsm.label, sizeof(out->hsm.label))) !=
            SN_OK ||
        (r = copy_field(&rep.m.f[6], &out->att_der, &out->att_len)) != SN_OK)
        sn_keeper_key_cleanup(out);
    free(rep.body);
    return r;
}

struct key_args {
    const char *subscriber, *id;
};

static void
build_destroy(struct sn_kp_out *o, const void *arg)
{
    const struct key_args *a = arg;

    sn_kp_s(o, a->subscriber);
    sn_kp_s(o, a->id);
}

sn_err
sn_keeper_key_destroy(struct sn_keeper *k, const char *subscriber,
                      const char *id)
{
    struct key_args a = {subscriber, id};
    struct reply rep;
    sn_err r;

    if ((r = sub_call(k, subscriber, build_destroy, &a, SN_KP_KEY_DESTROY,
                      &rep)) == SN_OK)
        free(rep.body);
    return r;
}

struct sign_args {
    const char *subscriber, *id;
    enum sn_digest md;
    enum sn_scheme scheme;
    const uint8_t *digest;
    size_t dlen;
};

static void
build_sign(struct sn_kp_out *o, const void *arg)
{
    const struct sign_args *a = arg;

    sn_kp_s(o, a->subscriber);
    sn_kp_s(o, a->id);
    sn_kp_u(o, (uint64_t)a->md);
    sn_kp_u(o, (uint64_t)a->scheme);
    sn_kp_b(o, a->digest, a->dlen);
}

sn_err
sn_keeper_sign_digest(struct sn_keeper *k, const char *subscriber,
                      const char *id, enum sn_digest md, enum sn_scheme scheme,
                      const uint8_t *digest, size_t dlen, uint8_t **sig,
                      size_t *siglen)
{
    struct sign_args a = {subscriber, id, md, scheme, digest, dlen};
    struct reply rep;
    sn_err r;

    *sig = NULL;
    *siglen = 0;
    if ((r = sub_call(k, subscriber, build_sign, &a, SN_KP_SIGN_DIGEST,
                      &rep)) != SN_OK)
        return r;
    r = copy_field(&rep.m.f[0], sig, siglen);
    free(rep.body);
    return r;
}

/* A request with one bytes field in and one bytes field out. */
static sn_err
bytes_call(struct sn_keeper *k, struct sn_kp_out *o, size_t field,
           uint8_t **out, size_t *outlen)
{
    struct reply rep;
    sn_err r;

    *out = NULL;
    *outlen = 0;
    if ((r = call(k, o, &rep)) != SN_OK)
        return r;
    r = copy_field(&rep.m.f[field], out, outlen);
    free(rep.body);
    return r;
}

sn_err
sn_keeper_sign_object(struct sn_keeper *k, uint8_t type, unsigned kind,
                      const uint8_t *in, size_t len, const uint8_t *evidence,
                      size_t evlen, uint8_t **out, size_t *outlen)
{
    struct sn_kp_out o;

    if (type != SN_KP_SIGN_CERT && type != SN_KP_SIGN_CRL &&
        type != SN_KP_SIGN_OCSP)
        return SN_ERR_INVALID;
    sn_kp_begin(&o, type, 0);
    sn_kp_u(&o, kind);
    sn_kp_b(&o, in, len);
    if (type == SN_KP_SIGN_CERT)
        sn_kp_b(&o, evidence, evlen);
    return bytes_call(k, &o, 0, out, outlen);
}

sn_err
sn_keeper_sign_tst(struct sn_keeper *k, const char *key_id,
                   const uint8_t *tstinfo, size_t len, uint8_t **token,
                   size_t *tlen)
{
    struct sn_kp_out o;

    sn_kp_begin(&o, SN_KP_SIGN_TST, 0);
    sn_kp_s(&o, key_id);
    sn_kp_b(&o, tstinfo, len);
    return bytes_call(k, &o, 0, token, tlen);
}

sn_err
sn_keeper_sign_ts_pkcs7(struct sn_keeper *k, const char *key_id,
                        const uint8_t *data, size_t len, uint8_t **out,
                        size_t *outlen)
{
    struct sn_kp_out o;

    sn_kp_begin(&o, SN_KP_SIGN_TS_PKCS7, 0);
    sn_kp_s(&o, key_id);
    sn_kp_b(&o, data, len);
    return bytes_call(k, &o, 0, out, outlen);
}

static sn_err
sig64_call(struct sn_keeper *k, struct sn_kp_out *o, uint8_t sig[64])
{
    uint8_t *out = NULL;
    size_t len = 0;
    sn_err r;

    if ((r = bytes_call(k, o, 0, &out, &len)) != SN_OK)
        return r;
    if (len == 64)
        memcpy(sig, out, 64);
    else
        r = SN_ERR_INVALID;
    free(out);
    return r;
}

sn_err
sn_keeper_sign_checkpoint(struct sn_keeper *k, const uint8_t *note, size_t len,
                          const uint8_t *proof, size_t plen, uint8_t sig[64])
{
    struct sn_kp_out o;

    sn_kp_begin(&o, SN_KP_SIGN_CHECKPOINT, 0);
    sn_kp_b(&o, note, len);
    sn_kp_b(&o, proof, plen);
    return sig64_call(k, &o, sig);
}

sn_err
sn_keeper_sign_notice(struct sn_keeper *k, const uint8_t *msg, size_t len,
                      uint8_t sig[64])
{
    struct sn_kp_out o;

    sn_kp_begin(&o, SN_KP_SIGN_NOTICE, 0);
    sn_kp_b(&o, msg, len);
    return sig64_call(k, &o, sig);
}

sn_err
sn_keeper_pubkeys(struct sn_keeper *k, uint8_t log[32], uint8_t notice[32],
                  uint64_t *cas, uint64_t *cp_size)
{
    struct sn_kp_out o;
    struct reply rep;
    sn_err r;

    sn_kp_begin(&o, SN_KP_PUBKEYS, 0);
    if ((r = call(k, &o, &rep)) != SN_OK)
        return r;
    memcpy(log, rep.m.f[0].p, 32);
    memcpy(notice, rep.m.f[1].p, 32);
    *cas = rep.m.f[2].u;
    if (cp_size != NULL)
        *cp_size = rep.m.f[3].u;
    free(rep.body);
    return SN_OK;
}

static sn_err
seal_call(struct sn_keeper *k, uint8_t type, const char *context,
          const uint8_t *in, size_t len, uint8_t *out, size_t *outlen)
{
    struct sn_kp_out o;
    struct reply rep;
    sn_err r;

    sn_kp_begin(&o, type, 0);
    sn_kp_s(&o, context);
    sn_kp_b(&o, in, len);
    if ((r = call(k, &o, &rep)) != SN_OK) {
        *outlen = 0;
        return r;
    }
    if (rep.m.f[0].len > *outlen)
        r = SN_ERR_LIMIT;
    else
        memcpy(out, rep.m.f[0].p, rep.m.f[0].len);
    *outlen = r == SN_OK ? rep.m.f[0].len : 0;
    /* an opened secret passed through this buffer */
    explicit_bzero(rep.body,
                   (size_t)(rep.m.f[0].p - rep.body) + rep.m.f[0].len);
    free(rep.body);
    return r;
}

sn_err
sn_keeper_seal(struct sn_keeper *k, const char *context, const uint8_t *in,
               size_t len, uint8_t *out, size_t *outlen)
{
    return seal_call(k, SN_KP_SEAL, context, in, len, out, outlen);
}

sn_err
sn_keeper_unseal(struct sn_keeper *k, const char *context, const uint8_t *in,
                 size_t len, uint8_t *out, size_t *outlen)
{
    return seal_call(k, SN_KP_UNSEAL, context, in, len, out, outlen);
}

sn_err
sn_keeper_tsa_keygen(struct sn_keeper *k, const char *id, enum sn_keyalg alg,
                     uint8_t **spki, size_t *len)
{
    struct sn_kp_out o;

    sn_kp_begin(&o, SN_KP_TSA_KEYGEN, 0);
    sn_kp_s(&o, id);
    sn_kp_u(&o, (uint64_t)alg);
    return bytes_call(k, &o, 0, spki, len);
}

sn_err
sn_keeper_tsa_use(struct sn_keeper *k, const char *id, const uint8_t *cert,
                  size_t len)
{
    struct sn_kp_out o;
    struct reply rep;
    sn_err r;

    sn_kp_begin(&o, SN_KP_TSA_USE, 0);
    sn_kp_s(&o, id);
    sn_kp_b(&o, cert, len);
    if ((r = call(k, &o, &rep)) == SN_OK)
        free(rep.body);
    return r;
}

sn_err
sn_keeper_tsa_destroy(struct sn_keeper *k, const char *id)
{
    struct sn_kp_out o;
    struct reply rep;
    sn_err r;

    sn_kp_begin(&o, SN_KP_TSA_DESTROY, 0);
    sn_kp_s(&o, id);
    if ((r = call(k, &o, &rep)) == SN_OK)
        free(rep.body);
    return r;
}
