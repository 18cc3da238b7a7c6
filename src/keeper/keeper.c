/*
 * keeper: startup (the module, the service token, the CA and TSA keys it
 * holds, the log's state) and the loop: one thread per front-end
 * connection, one request and reply at a time. A frame it does not accept
 * ends that connection and nothing else.
 */
#define _GNU_SOURCE
#include "keeper/keeper_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/util.h"
#include "hsm/hsmpkey.h"
#include "pki/tsa.h"

_Static_assert(SN_KEEPER_CAS == SN_CA_COUNT, "one certificate per CA");

#define MAX_CONNS 256
#define BODY_MAX_SMALL (256u << 10) /* every request but a CRL's */
#define BODY_TIMEOUT_MS 30000       /* once its header came */
#define BUF_USUAL 65536             /* a connection's read buffer */

static int nconns;    /* atomic */
static int base_nice; /* the keeper's own, set before any connection */

static sn_err
read_cert(const char *path, X509 **out)
{
    FILE *f;

    *out = NULL;
    if ((f = fopen(path, "r")) == NULL)
        return SN_ERR_NOT_FOUND;
    *out = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return *out != NULL ? SN_OK : SN_ERR_CRYPTO;
}

/* An EVP_PKEY that signs with key id on the service token, for the public
 * key in cert. */
static sn_err
hsm_key(struct keeper *kp, const char *id, enum sn_keyalg alg, X509 *cert,
        EVP_PKEY **out)
{
    unsigned char *spki = NULL;
    int n;
    sn_err r;

    *out = NULL;
    if ((n = i2d_PUBKEY(X509_get0_pubkey(cert), &spki)) <= 0)
        return SN_ERR_CRYPTO;
    r = sn_hsm_pkey(kp->service, id, alg, spki, (size_t)n, out);
    OPENSSL_free(spki);
    return r;
}

static const enum sn_kc_profile profiles[SN_CA_COUNT] = {
    [SN_CA_ROOT] = SN_KC_NONE,
    [SN_CA_CODESIGNING] = SN_KC_CODESIGNING,
    [SN_CA_TIMESTAMPING] = SN_KC_TIMESTAMPING,
    [SN_CA_ATT_ROOT] = SN_KC_NONE,
    /* attestations come from KEY_GENERATE only, for keys the keeper made
     * itself: SIGN_CERT certifies no key with this one */
    [SN_CA_ATT_ISSUER] = SN_KC_NONE,
};

static int key_matches(struct keeper *kp, const char *id, X509 *cert,
                       EVP_PKEY *key);

/* The CA keys on the service token whose certificates are in HOME/ca. */
static sn_err
load_cas(struct keeper *kp)
{
    char path[PATH_MAX];
    int i;
    sn_err r;

    for (i = 0; i < SN_CA_COUNT; i++) {
        snprintf(path, sizeof(path), "%s/ca/%s.pem", kp->c->home,
                 sn_ca_name((enum sn_ca_kind)i));
        if (kp->c->ca_certs[i] != NULL) {
            if (!X509_up_ref(kp->c->ca_certs[i]))
                return SN_ERR_CRYPTO;
            kp->ca_cert[i] = kp->c->ca_certs[i];
        } else if (read_cert(path, &kp->ca_cert[i]) != SN_OK)
            continue;
        if (sn_hsm_has_key(kp->service, sn_ca_key_id((enum sn_ca_kind)i)) !=
            SN_OK) {
            X509_free(kp->ca_cert[i]); /* no key: no issuer here */
            kp->ca_cert[i] = NULL;
            continue;
        }
        if ((r = hsm_key(kp, sn_ca_key_id((enum sn_ca_kind)i),
                         sn_ca_key_alg((enum sn_ca_kind)i), kp->ca_cert[i],
                         &kp->ca[i].key)) != SN_OK)
            return r;
        /* Whether the certificate is the key's (not a file changed under
         * HOME/ca) is checked before its first use (sn_keeper_ca_ready):
         * for an EC key that takes a signature, which a module that hangs
         * would not give at start. */
        kp->ca[i].cert = kp->ca_cert[i];
        kp->ca[i].md = sn_ca_md((enum sn_ca_kind)i);
        kp->ca[i].profile = profiles[i];
        kp->held |= 1u << i;
    }
    return SN_OK;
}

/* The key signs and the certificate's public key verifies (1), or not
 * (0): for an EC key, whose public half the module no longer has. -1 if
 * the module could not sign at all (it fails every signature: nothing is
 * learnt, and nothing will be signed with it anyway). */
static int
signs_for(EVP_PKEY *key, X509 *cert)
{
    static const unsigned char probe[] = "signet keeper: does this key hold";
    unsigned char sig[1024];
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *c = NULL;
    int ok = -1;

    if ((c = EVP_MD_CTX_new()) != NULL &&
        EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, key) == 1 &&
        EVP_DigestSign(c, sig, &siglen, probe, sizeof(probe)) == 1) {
        EVP_MD_CTX_free(c);
        ok = (c = EVP_MD_CTX_new()) != NULL &&
             EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL,
                                  X509_get0_pubkey(cert)) == 1 &&
             EVP_DigestVerify(c, sig, siglen, probe, sizeof(probe)) == 1;
    }
    EVP_MD_CTX_free(c);
    return ok;
}

/* The key pair id on the service token is the one cert certifies: the
 * public halves are the same (or, EC, it signs for the certificate). */
static int
key_matches(struct keeper *kp, const char *id, X509 *cert, EVP_PKEY *key)
{
    unsigned char *mine = NULL;
    uint8_t *spki = NULL;
    size_t len = 0;
    int n, ok;
    sn_err r;

    if ((r = sn_hsm_public_key(kp->service, id, &spki, &len)) ==
        SN_ERR_NOT_FOUND)
        return signs_for(key, cert) != 0;
    if (r != SN_OK || (n = i2d_PUBKEY(X509_get0_pubkey(cert), &mine)) <= 0) {
        free(spki);
        return 0;
    }
    ok = (size_t)n == len && memcmp(mine, spki, len) == 0;
    OPENSSL_free(mine);
    free(spki);
    return ok;
}

const struct sn_kc_ca *
sn_keeper_ca_ready(struct keeper *kp, unsigned kind)
{
    struct sn_kc_ca *ca;
    int v;

    if (kind >= SN_CA_COUNT || (ca = &kp->ca[kind])->key == NULL)
        return NULL;
    pthread_mutex_lock(&kp->ca_lock);
    if ((v = kp->ca_checked[kind]) == 0) {
        v = key_matches(kp, sn_ca_key_id((enum sn_ca_kind)kind), ca->cert,
                        ca->key)
                ? 1
                : -1;
        kp->ca_checked[kind] = v;
        if (v < 0)
            sn_error("keeper: HOME/ca/%s.pem is not the certificate of the "
                     "%s key; that CA signs nothing",
                     sn_ca_name((enum sn_ca_kind)kind),
                     sn_ca_key_id((enum sn_ca_kind)kind));
    }
    pthread_mutex_unlock(&kp->ca_lock);
    return v > 0 ? ca : NULL;
}

sn_err
sn_keeper_holds_key(struct keeper *kp, const char *id, X509 *cert)
{
    EVP_PKEY *key = NULL;
    enum sn_keyalg alg;
    sn_err r;

    if ((r = sn_hsm_key_alg(kp->service, id, &alg)) != SN_OK ||
        (r = hsm_key(kp, id, alg, cert, &key)) != SN_OK)
        return r;
    r = key_matches(kp, id, cert, key) ? SN_OK : SN_ERR_MISMATCH;
    EVP_PKEY_free(key);
    return r;
}

sn_err
sn_keeper_tsa_bind(struct keeper *kp, const char *id, X509 *cert, char *why,
                   size_t whylen)
{
    const struct sn_kc_ca *ts = sn_keeper_ca_ready(kp, SN_CA_TIMESTAMPING);
    X509 *issuer = ts != NULL ? ts->cert : NULL;
    STACK_OF(X509) *chain = NULL;
    EVP_PKEY *key = NULL, *old_key;
    X509 *old_cert;
    STACK_OF(X509) *old_chain;
    enum sn_keyalg alg;
    sn_err r = SN_ERR_STATE;

    if (issuer == NULL || X509_verify(cert, X509_get0_pubkey(issuer)) != 1) {
        snprintf(why, whylen, "not issued by the timestamping CA");
        goto out;
    }
    if (X509_check_purpose(cert, X509_PURPOSE_TIMESTAMP_SIGN, 0) != 1) {
        snprintf(why, whylen, "not a time-stamping certificate");
        goto out;
    }
    if ((r = sn_hsm_key_alg(kp->service, id, &alg)) != SN_OK) {
        snprintf(why, whylen, "no such TSA key on the service token");
        goto out;
    }
    if ((r = hsm_key(kp, id, alg, cert, &key)) != SN_OK) {
        snprintf(why, whylen, "cannot use the TSA key");
        goto out;
    }
    r = SN_ERR_MISMATCH;
    if (!key_matches(kp, id, cert, key)) {
        snprintf(why, whylen, "the certificate is not for this key");
        goto out;
    }
    r = SN_ERR_NOMEM;
    if ((chain = sk_X509_new_null()) == NULL || !X509_up_ref(issuer))
        goto out;
    if (!sk_X509_push(chain, issuer)) {
        X509_free(issuer);
        goto out;
    }
    if (!X509_up_ref(cert))
        goto out;
    pthread_rwlock_wrlock(&kp->tsa_lock);
    if (strcmp(id, kp->tsa_id) == 0 || kp->tsa.key == NULL) {
        /* the same key again (a restarted front end): replaced */
        old_key = kp->tsa.key;
        old_cert = kp->tsa.cert;
        old_chain = kp->tsa.chain;
    } else {
        /* a new key: the current one becomes the previous one */
        old_key = kp->tsa_prev.key;
        old_cert = kp->tsa_prev.cert;
        old_chain = kp->tsa_prev.chain;
        kp->tsa_prev.key = kp->tsa.key;
        kp->tsa_prev.cert = kp->tsa.cert;
        kp->tsa_prev.chain = kp->tsa.chain;
        memcpy(kp->tsa_prev_id, kp->tsa_id, sizeof(kp->tsa_id));
    }
    kp->tsa.key = key;
    kp->tsa.cert = cert;
    kp->tsa.chain = chain;
    snprintf(kp->tsa_id, sizeof(kp->tsa_id), "%s", id);
    pthread_rwlock_unlock(&kp->tsa_lock);
    key = NULL;
    chain = NULL;
    EVP_PKEY_free(old_key);
    X509_free(old_cert);
    sk_X509_pop_free(old_chain, X509_free);
    sn_info("keeper: the TSA signs with key %s", id);
    r = SN_OK;
out:
    EVP_PKEY_free(key);
    sk_X509_pop_free(chain, X509_free);
    return r;
}

static sn_err
open_service(struct keeper *kp)
{
    char *pin = NULL;
    sn_err r;

    if ((r = sn_hsm_open(kp->c->module, &kp->hsm)) != SN_OK) {
        sn_error("keeper: cannot load PKCS#11 module %s", kp->c->module);
        return r;
    }
    if ((r = sn_keeper_read_pin(kp->c->service_pin_file, &pin)) != SN_OK) {
        sn_error("keeper: cannot read the service token's PIN file: %s",
                 sn_err_str(r));
        return r;
    }
    r = sn_hsm_token_open(kp->hsm, kp->c->service_label, pin, &kp->service);
    sn_secret_free(pin);
    if (r != SN_OK)
        sn_error("keeper: cannot open the service token '%s': %s",
                 kp->c->service_label, sn_err_str(r));
    return r;
}

static sn_err
keeper_open(struct keeper *kp)
{
    char id[65];
    X509 *cert = NULL;
    sn_err r;

    if ((r = open_service(kp)) != SN_OK)
        return r;
    if ((r = sn_oids_init(&kp->oids, kp->c->oid_arc)) != SN_OK ||
        (r = load_cas(kp)) != SN_OK) {
        sn_error("keeper: cannot load the CA keys: %s", sn_err_str(r));
        return r;
    }
    if ((r = sn_hsm_logkey_ensure(kp->service, kp->log_pub)) != SN_OK ||
        (r = sn_hsm_edkey_ensure(kp->service, SN_EDKEY_NOTICE,
                                 kp->notice_pub)) != SN_OK) {
        sn_error("keeper: cannot make the service's Ed25519 keys: %s",
                 sn_err_str(r));
        return r;
    }
    if ((r = sn_keeper_cp_load(kp)) != SN_OK) {
        sn_error("keeper: HOME/hsm/keeper/checkpoint is unreadable");
        return r;
    }
    /* The front end binds a rotated key with TSA_USE; at start, the file. */
    if (sn_tsa_read_file(kp->c->home, id, sizeof(id), &cert) == SN_OK) {
        char why[200] = "";

        if (sn_keeper_tsa_bind(kp, id, cert, why, sizeof(why)) != SN_OK)
            sn_warn("keeper: HOME/ca/tsa.pem: %s", why);
        X509_free(cert);
    }
    return SN_OK;
}

static int
io_all(int fd, uint8_t *p, size_t len, int out, int timeout_ms)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    ssize_t n;
    int pr;

    while (len > 0) {
        if (!out && timeout_ms > 0 && (pr = poll(&pfd, 1, timeout_ms)) != 1) {
            if (pr < 0 && errno == EINTR)
                continue;
            return -1;
        }
        n = out ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

struct conn {
    struct keeper *kp;
    int fd;
    pid_t pid;
};

/* Reads into b (growing it to want bytes, a frame's size): what one recv
 * gives while the frame has not begun; within BODY_TIMEOUT_MS once it
 * has. -1 on close, error or deadline. */
static int
fill(int fd, uint8_t **b, size_t *cap, size_t *have, size_t want)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    uint8_t *bigger;
    ssize_t n;
    int pr;

    if (want > *cap) {
        if ((bigger = malloc(want)) == NULL)
            return -1;
        memcpy(bigger, *b, *have);
        explicit_bzero(*b, *have);
        free(*b);
        *b = bigger;
        *cap = want;
    }
    for (;;) {
        if (*have > 0 && (pr = poll(&pfd, 1, BODY_TIMEOUT_MS)) != 1) {
            if (pr < 0 && errno == EINTR)
                continue;
            return -1;
        }
        n = recv(fd, *b + *have, *cap - *have, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        *have += (size_t)n;
        return 0;
    }
}

/*
 * A request is served at the nice its header asks (docs/ipc.md): the front
 * end's lower-priority work (a busy tenant's signers, key generation,
 * anonymous time-stamps and OCSP) yields this CPU as it yields the front
 * end's. Only the operations that are one key's work are: the others
 * (opening a token and logging in, sealing, the log's checkpoints, the CA
 * and TSA set-up) hold locks every request may wait for, and a thread
 * that seldom runs must not hold them; they are served at the keeper's
 * own priority. (A time-stamp holds the TSA key's lock for reading: a
 * rotation waits for it.) Nice is per thread on Linux; *cur is this
 * connection thread's. Lowering always works; going back up needs
 * CAP_SYS_NICE (a keeper started as root has it), and without it the
 * thread stays lower (the front end pools its links by nice, so that is
 * rare).
 */
static unsigned
nice_for(uint8_t type, unsigned asked)
{
    switch (type) {
    case SN_KP_SIGN_DIGEST:
    case SN_KP_KEY_GENERATE:
    case SN_KP_SIGN_TST:
    case SN_KP_SIGN_TS_PKCS7:
    case SN_KP_SIGN_OCSP:
        return asked;
    default:
        return 0;
    }
}

static void
serve_at(unsigned nice, unsigned *cur)
{
    static struct sn_log_limit lines = SN_LOG_LIMIT(1, 1);

    if (nice == *cur)
        return;
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid),
                    base_nice + (int)nice) == 0)
        *cur = nice;
    else
        sn_log_limited(&lines, SN_LOG_WARN,
                       "keeper: cannot serve at nice %u: %s", nice,
                       strerror(errno));
}

static void *
serve_conn(void *arg)
{
    struct conn *cn = arg;
    uint8_t *buf = NULL, *frame = NULL, *small, type;
    size_t cap = BUF_USUAL, have = 0, blen = 0, total, flen;
    unsigned nice = 0, cur = 0;
    struct sn_kp_msg m;
    sn_err r;

    if ((buf = malloc(cap)) == NULL)
        goto out;
    for (;;) {
        while (have < SN_KP_HDR)
            if (fill(cn->fd, &buf, &cap, &have, cap) != 0)
                goto out; /* the front end closed, or went away */
        if ((r = sn_kp_header(buf, &type, &blen, &nice)) != SN_OK ||
            (type != SN_KP_SIGN_CRL && blen > BODY_MAX_SMALL)) {
            sn_warn("keeper: a bad frame header from pid %ld (%s); "
                    "connection closed",
                    (long)cn->pid, sn_err_str(r != SN_OK ? r : SN_ERR_LIMIT));
            goto out;
        }
        total = SN_KP_HDR + blen;
        /* The body follows its header at once, or the link goes. */
        while (have < total)
            if (fill(cn->fd, &buf, &cap, &have, total > cap ? total : cap) != 0)
                goto out;
        if ((r = sn_kp_decode(type, 0, buf + SN_KP_HDR, blen, &m)) != SN_OK) {
            sn_warn("keeper: a malformed %s request from pid %ld; "
                    "connection closed",
                    sn_kp_type_name(type), (long)cn->pid);
            goto out;
        }
        serve_at(nice_for(type, nice), &cur);
        if (sn_keeper_op(cn->kp, &m, &frame, &flen) != SN_OK)
            goto out;
        /* one request at a time: a second one already here waits */
        explicit_bzero(buf, total); /* a SEAL's plaintext, say */
        memmove(buf, buf + total, have - total);
        have -= total;
        /* after a CRL's megabytes, back to the usual size */
        if (cap > BUF_USUAL && have <= BUF_USUAL &&
            (small = malloc(BUF_USUAL)) != NULL) {
            memcpy(small, buf, have);
            explicit_bzero(buf, cap);
            free(buf);
            buf = small;
            cap = BUF_USUAL;
        }
        r = io_all(cn->fd, frame, flen, 1, 0) == 0 ? SN_OK : SN_ERR_IO;
        explicit_bzero(frame, flen);
        free(frame);
        frame = NULL;
        if (r != SN_OK)
            goto out;
    }
out:
    if (buf != NULL)
        explicit_bzero(buf, cap);
    free(buf);
    close(cn->fd);
    free(cn);
    __atomic_sub_fetch(&nconns, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/*
 * The socket, in a directory of the keeper's own (its uid, 0711, not a
 * link: whatever a front end left at that path is not followed), bound
 * through the directory's descriptor, created 0600 and, for a front end
 * of another user (server.user), given to it without following a link.
 */
static int
listen_at(const struct sn_keeper_conf *c)
{
    struct sockaddr_un sa;
    char dir[PATH_MAX], *slash;
    const char *name;
    struct stat st;
    mode_t old;
    int fd = -1, dfd = -1, rc;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(c->socket_path) >= sizeof(dir) ||
        (slash = strrchr(c->socket_path, '/')) == NULL)
        return -1;
    memcpy(dir, c->socket_path, (size_t)(slash - c->socket_path));
    dir[slash - c->socket_path] = '\0';
    name = slash + 1;
    mkdir(dir, 0711);
    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) <
            0 ||
        fstat(dfd, &st) != 0 || st.st_uid != geteuid() ||
        (st.st_mode & 022) != 0 || fchmod(dfd, 0711) != 0) {
        sn_error("keeper: %s is not a directory of the keeper's own", dir);
        goto fail;
    }
    if (snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dfd,
                 name) >= (int)sizeof(sa.sun_path))
        goto fail;
    unlinkat(dfd, name, 0);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        goto fail;
    old = umask(0177);
    rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (rc != 0 ||
        (geteuid() == 0 && c->peer_uid != 0 &&
         fchownat(dfd, name, c->peer_uid, (gid_t)-1, AT_SYMLINK_NOFOLLOW) !=
             0) ||
        listen(fd, 64) != 0)
        goto fail;
    close(dfd);
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd);
    return -1;
}

static void
accept_loop(struct keeper *kp, int lfd)
{
    struct ucred cred;
    socklen_t clen;
    pthread_attr_t attr;
    pthread_t t;
    struct conn *cn;
    int fd;

    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (;;) {
        if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
            if (errno != EINTR && errno != ECONNABORTED)
                usleep(10000);
            continue;
        }
        clen = sizeof(cred);
        /* Only the front end's user (and root) may ask. */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 ||
            (cred.uid != kp->c->peer_uid && cred.uid != 0)) {
            sn_warn("keeper: a connection from uid %ld refused",
                    (long)cred.uid);
            close(fd);
            continue;
        }
        if (__atomic_add_fetch(&nconns, 1, __ATOMIC_SEQ_CST) > MAX_CONNS ||
            (cn = calloc(1, sizeof(*cn))) == NULL) {
            __atomic_sub_fetch(&nconns, 1, __ATOMIC_SEQ_CST);
            close(fd);
            continue;
        }
        cn->kp = kp;
        cn->fd = fd;
        cn->pid = cred.pid;
        if (pthread_create(&t, &attr, serve_conn, cn) != 0) {
            __atomic_sub_fetch(&nconns, 1, __ATOMIC_SEQ_CST);
            close(fd);
            free(cn);
        }
    }
}

sn_err
sn_keeper_serve(const struct sn_keeper_conf *conf, int ready_fd)
{
    static struct keeper kp; /* lives as long as the process */
    pthread_rwlockattr_t rwa;
    int lfd;
    sn_err r;

    /* a front end that hangs up mid-reply is an error return, not a
     * signal; nor is a supervisor that stopped waiting for ready_fd */
    signal(SIGPIPE, SIG_IGN);
    errno = 0;
    base_nice = getpriority(PRIO_PROCESS, (id_t)getpid());
    if (errno != 0)
        base_nice = 0;
    memset(&kp, 0, sizeof(kp));
    kp.c = conf;
    sn_parts_init(&kp.parts, sn_hsm_token_close);
    /* a rotation (TSA_USE) is not starved by a steady stream of tokens */
    pthread_rwlockattr_init(&rwa);
    pthread_rwlockattr_setkind_np(&rwa,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&kp.tsa_lock, &rwa);
    pthread_mutex_init(&kp.cp_lock, NULL);
    pthread_mutex_init(&kp.ca_lock, NULL);
    kp.tsa.md = EVP_sha256();
    kp.tsa.policies = conf->tsa_policies;
    kp.tsa.window = (int)conf->tsa_window;
    kp.tsa_prev = kp.tsa; /* no key yet: the same settings */
    if ((r = keeper_open(&kp)) != SN_OK)
        return r;
    if ((lfd = listen_at(conf)) < 0) {
        sn_error("keeper: cannot listen on %s: %s", conf->socket_path,
                 strerror(errno));
        return SN_ERR_IO;
    }
    sn_info("keeper: serving on %s (pid %ld)", conf->socket_path,
            (long)getpid());
    if (ready_fd >= 0) {
        (void)!write(ready_fd, "k", 1);
        close(ready_fd);
    }
    accept_loop(&kp, lfd);
    return SN_ERR_INTERNAL;
}
