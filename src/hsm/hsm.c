/*
 * hsm: PKCS#11 boundary. Inputs come from the daemon's policy layer, which
 * has already validated them; this layer still checks every length it
 * passes to the module. CK_RV values are translated to sn_err here and go
 * no further.
 *
 * Concurrency: each token keeps a pool of sessions (one per concurrent
 * caller) and a cache of private-key handles. Stale sessions or handles
 * (the module restarted, a token was re-inserted) are dropped and looked up
 * again once.
 */
#include "hsm/hsm.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>

#include "common/digestinfo.h"
#include "common/log.h"
#include "common/util.h"

#define MAX_ID_LEN 64
#define MAX_SESSIONS 64
#define CACHE_BUCKETS 16384
#define MAX_CACHED (1 << 20)
#define PIN_BYTES 16

#define MAX_LOGINS 1024

/*
 * Login state is per token for the whole process: a second C_Login answers
 * CKR_USER_ALREADY_LOGGED_IN whatever PIN it carries. To still check the
 * PIN of a second open, remember a hash of the PIN each slot was opened
 * with.
 */
struct login {
    CK_SLOT_ID slot;
    uint8_t pin_hash[32];
};

struct sn_hsm {
    void *dl;
    CK_FUNCTION_LIST_PTR f;
    pthread_mutex_t lock; /* serialises token creation and logins[] */
    struct login logins[MAX_LOGINS];
    size_t nlogins;
};

struct cached_key {
    char id[MAX_ID_LEN + 1];
    CK_OBJECT_HANDLE handle;
    int alg; /* enum sn_keyalg plus one; 0: not read yet */
    struct cached_key *next;
};

struct sn_hsm_token {
    struct sn_hsm *hsm;
    CK_SLOT_ID slot;
    struct sn_hsm_info info;
    pthread_mutex_t lock; /* guards idle[] */
    pthread_rwlock_t cache_lock;
    CK_SESSION_HANDLE idle[MAX_SESSIONS];
    size_t nidle;
    /* id -> private key handle, for every key on the token: looked up
     * once (SoftHSM2 searches slowly on tokens with many objects). */
    struct cached_key *cache[CACHE_BUCKETS];
    size_t ncache;
    /* The sealing key (sn_hsm_seal): found or made once, under seal_lock,
     * so two threads never generate two keys with its label. */
    pthread_mutex_t seal_lock;
    CK_OBJECT_HANDLE seal_key; /* CK_INVALID_HANDLE: not looked up yet */
    /* The service's Ed25519 keys (issue 18: the transparency log's, the
     * reports' CA notices'), by enum sn_hsm_edkey, under seal_lock. */
    CK_OBJECT_HANDLE ed_key[SN_EDKEY_COUNT];
};

static void cache_preload(struct sn_hsm_token *tok, CK_SESSION_HANDLE s);
static void cache_free(struct sn_hsm_token *tok);

static sn_err
rv_err(CK_RV rv)
{
    switch (rv) {
    case CKR_OK:
        return SN_OK;
    case CKR_HOST_MEMORY:
    case CKR_DEVICE_MEMORY:
        return SN_ERR_NOMEM;
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_KEY_HANDLE_INVALID:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_SLOT_ID_INVALID:
        return SN_ERR_NOT_FOUND;
    case CKR_ARGUMENTS_BAD:
    case CKR_DATA_LEN_RANGE:
    case CKR_DATA_INVALID:
        return SN_ERR_INVALID;
    default:
        return SN_ERR_HSM;
    }
}

static void
copy_padded(char *dst, size_t dstlen, const CK_UTF8CHAR *src, size_t srclen)
{
    size_t n = srclen < dstlen - 1 ? srclen : dstlen - 1;

    memcpy(dst, src, n);
    while (n > 0 && (dst[n - 1] == ' ' || dst[n - 1] == '\0'))
        n--;
    dst[n] = '\0';
}

static void
pad_label(CK_UTF8CHAR out[32], const char *label)
{
    size_t n = strlen(label);

    memset(out, ' ', 32);
    memcpy(out, label, n > 32 ? 32 : n);
}

sn_err
sn_hsm_open(const char *module_path, struct sn_hsm **out)
{
    CK_C_GetFunctionList getfl;
    CK_C_INITIALIZE_ARGS args;
    struct sn_hsm *h = NULL;
    sn_err r = SN_ERR_HSM;
    CK_RV rv;

    *out = NULL;
    if ((h = calloc(1, sizeof(*h))) == NULL)
        return SN_ERR_NOMEM;
    pthread_mutex_init(&h->lock, NULL);
    if ((h->dl = dlopen(module_path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
        sn_error("hsm: cannot load module %s: %s", module_path, dlerror());
        goto out;
    }
    *(void **)(&getfl) = dlsym(h->dl, "C_GetFunctionList");
    if (getfl == NULL || getfl(&h->f) != CKR_OK || h->f == NULL) {
        sn_error("hsm: %s has no usable C_GetFunctionList", module_path);
        goto out;
    }
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    rv = h->f->C_Initialize(&args);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        sn_error("hsm: C_Initialize failed: 0x%lx", (unsigned long)rv);
        h->f = NULL;
        goto out;
    }
    *out = h;
    h = NULL;
    r = SN_OK;
out:
    sn_hsm_close(h);
    return r;
}

void
sn_hsm_close(struct sn_hsm *hsm)
{
    if (hsm == NULL)
        return;
    if (hsm->f != NULL)
        hsm->f->C_Finalize(NULL);
    if (hsm->dl != NULL)
        dlclose(hsm->dl);
    pthread_mutex_destroy(&hsm->lock);
    free(hsm);
}

/* Finds the slot whose initialised token carries label. */
static sn_err
find_slot(struct sn_hsm *hsm, const char *label, CK_SLOT_ID *slot,
          CK_TOKEN_INFO *ti_out)
{
    CK_SLOT_ID *slots = NULL;
    CK_UTF8CHAR want[32];
    CK_TOKEN_INFO ti;
    CK_ULONG n = 0, i;
    sn_err r = SN_ERR_HSM;

    pad_label(want, label);
    if (hsm->f->C_GetSlotList(CK_TRUE, NULL, &n) != CKR_OK)
        goto out;
    if (n == 0) {
        r = SN_ERR_NOT_FOUND;
        goto out;
    }
    if ((slots = calloc(n, sizeof(*slots))) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    if (hsm->f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
        goto out;
    r = SN_ERR_NOT_FOUND;
    for (i = 0; i < n; i++) {
        if (hsm->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;
        if ((ti.flags & CKF_TOKEN_INITIALIZED) &&
            memcmp(ti.label, want, 32) == 0) {
            *slot = slots[i];
            if (ti_out != NULL)
                *ti_out = ti;
            r = SN_OK;
            break;
        }
    }
out:
    free(slots);
    return r;
}

static sn_err
find_free_slot(struct sn_hsm *hsm, CK_SLOT_ID *slot)
{
    CK_SLOT_ID *slots = NULL;
    CK_TOKEN_INFO ti;
    CK_ULONG n = 0, i;
    sn_err r = SN_ERR_HSM;

    if (hsm->f->C_GetSlotList(CK_TRUE, NULL, &n) != CKR_OK)
        goto out;
    r = SN_ERR_STATE;
    if (n == 0)
        goto out;
    if ((slots = calloc(n, sizeof(*slots))) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    if (hsm->f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK) {
        r = SN_ERR_HSM;
        goto out;
    }
    for (i = 0; i < n; i++) {
        if (hsm->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
            !(ti.flags & CKF_TOKEN_INITIALIZED)) {
            *slot = slots[i];
            r = SN_OK;
            break;
        }
    }
out:
    free(slots);
    return r;
}

static char *
random_pin(void)
{
    uint8_t raw[PIN_BYTES];
    char *pin;

    if ((pin = malloc(2 * PIN_BYTES + 1)) == NULL)
        return NULL;
    if (sn_random(raw, sizeof(raw)) != SN_OK) {
        free(pin);
        return NULL;
    }
    sn_hex_encode(raw, sizeof(raw), pin);
    OPENSSL_cleanse(raw, sizeof(raw));
    return pin;
}

sn_err
sn_hsm_token_init(struct sn_hsm *hsm, const char *label, char **pin)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    char *so_pin = NULL, *user_pin = NULL;
    CK_UTF8CHAR plabel[32];
    CK_SLOT_ID slot;
    sn_err r;
    CK_RV rv;

    *pin = NULL;
    if (strlen(label) == 0 || strlen(label) > 32)
        return SN_ERR_INVALID;
    pthread_mutex_lock(&hsm->lock);
    if ((r = find_slot(hsm, label, &slot, NULL)) == SN_OK) {
        r = SN_ERR_EXISTS;
        goto out;
    }
    if ((r = find_free_slot(hsm, &slot)) != SN_OK)
        goto out;
    r = SN_ERR_NOMEM;
    if ((so_pin = random_pin()) == NULL || (user_pin = random_pin()) == NULL)
        goto out;
    r = SN_ERR_HSM;
    pad_label(plabel, label);
    rv = hsm->f->C_InitToken(slot, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin),
                             plabel);
    if (rv != CKR_OK) {
        sn_error("hsm: C_InitToken failed: 0x%lx", (unsigned long)rv);
        goto out;
    }
    /* Modules may renumber slots once a token is initialised. */
    if ((r = find_slot(hsm, label, &slot, NULL)) != SN_OK)
        goto out;
    r = SN_ERR_HSM;
    if ((rv = hsm->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                    NULL, NULL, &s)) != CKR_OK ||
        (rv = hsm->f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)so_pin,
                              strlen(so_pin))) != CKR_OK ||
        (rv = hsm->f->C_InitPIN(s, (CK_UTF8CHAR_PTR)user_pin,
                                strlen(user_pin))) != CKR_OK) {
        sn_error("hsm: setting the user PIN failed: 0x%lx", (unsigned long)rv);
        goto out;
    }
    hsm->f->C_Logout(s);
    *pin = user_pin;
    user_pin = NULL;
    r = SN_OK;
out:
    if (s != CK_INVALID_HANDLE)
        hsm->f->C_CloseSession(s);
    pthread_mutex_unlock(&hsm->lock);
    sn_secret_free(so_pin);
    sn_secret_free(user_pin);
    return r;
}

/* Called with hsm->lock held, after C_Login answered rv. */
static sn_err
login_check(struct sn_hsm *hsm, CK_SLOT_ID slot, const char *pin, CK_RV rv)
{
    uint8_t h[32];
    unsigned int hl = 0;
    size_t i;
    sn_err r = SN_ERR_CONFIG;

    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
        return rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID ||
                       rv == CKR_PIN_LEN_RANGE
                   ? SN_ERR_CONFIG
                   : SN_ERR_HSM;
    if (EVP_Digest(pin, strlen(pin), h, &hl, EVP_sha256(), NULL) != 1)
        return SN_ERR_CRYPTO;
    for (i = 0; i < hsm->nlogins; i++)
        if (hsm->logins[i].slot == slot)
            break;
    if (rv == CKR_USER_ALREADY_LOGGED_IN) {
        /* Only a PIN this process logged in with before is accepted. */
        if (i < hsm->nlogins &&
            CRYPTO_memcmp(h, hsm->logins[i].pin_hash, sizeof(h)) == 0)
            r = SN_OK;
    } else if (i < hsm->nlogins) {
        memcpy(hsm->logins[i].pin_hash, h, sizeof(h));
        r = SN_OK;
    } else if (hsm->nlogins < MAX_LOGINS) {
        hsm->logins[hsm->nlogins].slot = slot;
        memcpy(hsm->logins[hsm->nlogins].pin_hash, h, sizeof(h));
        hsm->nlogins++;
        r = SN_OK;
    } else
        r = SN_ERR_LIMIT;
    OPENSSL_cleanse(h, sizeof(h));
    return r;
}

sn_err
sn_hsm_token_open(struct sn_hsm *hsm, const char *label, const char *pin,
                  struct sn_hsm_token **out)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    struct sn_hsm_token *t = NULL;
    CK_TOKEN_INFO ti;
    size_t i;
    sn_err r;
    CK_RV rv;

    *out = NULL;
    if ((t = calloc(1, sizeof(*t))) == NULL)
        return SN_ERR_NOMEM;
    t->hsm = hsm;
    pthread_mutex_init(&t->lock, NULL);
    pthread_rwlock_init(&t->cache_lock, NULL);
    pthread_mutex_init(&t->seal_lock, NULL);
    t->seal_key = CK_INVALID_HANDLE;
    for (i = 0; i < SN_EDKEY_COUNT; i++)
        t->ed_key[i] = CK_INVALID_HANDLE;
    if ((r = find_slot(hsm, label, &t->slot, &ti)) != SN_OK)
        goto out;
    copy_padded(t->info.manufacturer, sizeof(t->info.manufacturer),
                ti.manufacturerID, sizeof(ti.manufacturerID));
    copy_padded(t->info.model, sizeof(t->info.model), ti.model,
                sizeof(ti.model));
    copy_padded(t->info.serial, sizeof(t->info.serial), ti.serialNumber,
                sizeof(ti.serialNumber));
    copy_padded(t->info.label, sizeof(t->info.label), ti.label,
                sizeof(ti.label));
    r = SN_ERR_HSM;
    rv = hsm->f->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                               NULL, NULL, &s);
    if (rv != CKR_OK)
        goto out;
    pthread_mutex_lock(&hsm->lock);
    rv = hsm->f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)(uintptr_t)pin,
                         strlen(pin));
    r = login_check(hsm, t->slot, pin, rv);
    pthread_mutex_unlock(&hsm->lock);
    if (r != SN_OK) {
        sn_error("hsm: login to token %s failed: 0x%lx", label,
                 (unsigned long)rv);
        goto out;
    }
    cache_preload(t, s);
    /* Login state is per token: this session keeps it for the pool. */
    t->idle[t->nidle++] = s;
    s = CK_INVALID_HANDLE;
    *out = t;
    t = NULL;
    r = SN_OK;
out:
    if (s != CK_INVALID_HANDLE)
        hsm->f->C_CloseSession(s);
    sn_hsm_token_close(t);
    return r;
}

void
sn_hsm_token_close(struct sn_hsm_token *tok)
{
    size_t i;

    if (tok == NULL)
        return;
    for (i = 0; i < tok->nidle; i++)
        tok->hsm->f->C_CloseSession(tok->idle[i]);
    cache_free(tok);
    pthread_rwlock_destroy(&tok->cache_lock);
    pthread_mutex_destroy(&tok->seal_lock);
    pthread_mutex_destroy(&tok->lock);
    free(tok);
}

const struct sn_hsm_info *
sn_hsm_token_info(const struct sn_hsm_token *tok)
{
    return &tok->info;
}

/* Takes an idle session or opens a new one (sharing the token's login). */
static sn_err
session_get(struct sn_hsm_token *tok, CK_SESSION_HANDLE *s)
{
    CK_RV rv;

    pthread_mutex_lock(&tok->lock);
    if (tok->nidle > 0) {
        *s = tok->idle[--tok->nidle];
        pthread_mutex_unlock(&tok->lock);
        return SN_OK;
    }
    pthread_mutex_unlock(&tok->lock);
    rv = tok->hsm->f->C_OpenSession(
        tok->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);
    return rv_err(rv);
}

static void
session_put(struct sn_hsm_token *tok, CK_SESSION_HANDLE s, CK_RV last)
{
    int stale = last == CKR_SESSION_HANDLE_INVALID ||
                last == CKR_SESSION_CLOSED || last == CKR_DEVICE_REMOVED ||
                last == CKR_TOKEN_NOT_PRESENT;

    pthread_mutex_lock(&tok->lock);
    if (!stale && tok->nidle < MAX_SESSIONS) {
        tok->idle[tok->nidle++] = s;
        s = CK_INVALID_HANDLE;
    }
    pthread_mutex_unlock(&tok->lock);
    if (s != CK_INVALID_HANDLE && !stale)
        tok->hsm->f->C_CloseSession(s);
}

sn_err
sn_hsm_token_ping(struct sn_hsm_token *tok)
{
    CK_SESSION_HANDLE s;
    CK_SESSION_INFO si;
    CK_RV rv;
    sn_err r;

    if ((r = session_get(tok, &s)) != SN_OK)
        return r;
    rv = tok->hsm->f->C_GetSessionInfo(s, &si);
    session_put(tok, s, rv);
    if (rv == CKR_OK && si.state != CKS_RW_USER_FUNCTIONS &&
        si.state != CKS_RO_USER_FUNCTIONS)
        return SN_ERR_HSM;
    return rv_err(rv);
}

/* Finds the one object matching tmpl: SN_ERR_NOT_FOUND if none, SN_ERR_HSM
 * if several (an ambiguous name is refused, not guessed at). */
static sn_err
find_one(struct sn_hsm_token *tok, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl,
         CK_ULONG ntmpl, const char *what, CK_OBJECT_HANDLE *out, CK_RV *last)
{
    CK_FUNCTION_LIST_PTR f = tok->hsm->f;
    CK_OBJECT_HANDLE h[2];
    CK_ULONG n = 0;
    CK_RV rv;

    /* *last lets the caller drop a session that turned out dead. */
    if ((rv = f->C_FindObjectsInit(s, tmpl, ntmpl)) != CKR_OK) {
        *last = rv;
        return rv_err(rv);
    }
    rv = f->C_FindObjects(s, h, 2, &n);
    f->C_FindObjectsFinal(s);
    if (rv != CKR_OK) {
        *last = rv;
        return rv_err(rv);
    }
    if (n == 0)
        return SN_ERR_NOT_FOUND;
    if (n > 1) {
        sn_error("hsm: %lu objects share one %s", (unsigned long)n, what);
        return SN_ERR_HSM;
    }
    *out = h[0];
    return SN_OK;
}

static sn_err
find_object(struct sn_hsm_token *tok, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
            const char *id, CK_OBJECT_HANDLE *out, CK_RV *last)
{
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_ID, (void *)(uintptr_t)id, strlen(id)},
    };

    return find_one(tok, s, tmpl, 2, "key id", out, last);
}

static size_t
cache_bucket(const char *id)
{
    return (size_t)(sn_str_hash(id) % CACHE_BUCKETS);
}

static int
cache_get(struct sn_hsm_token *tok, const char *id, CK_OBJECT_HANDLE *h)
{
    struct cached_key *e;
    int found = 0;

    pthread_rwlock_rdlock(&tok->cache_lock);
    for (e = tok->cache[cache_bucket(id)]; e != NULL; e = e->next) {
        if (strcmp(e->id, id) == 0) {
            *h = e->handle;
            found = 1;
            break;
        }
    }
    pthread_rwlock_unlock(&tok->cache_lock);
    return found;
}

/* Sets (or replaces: one entry per id, so a drop leaves none behind). */
static void
cache_put(struct sn_hsm_token *tok, const char *id, CK_OBJECT_HANDLE h)
{
    struct cached_key *e, *ne = NULL;
    size_t b = cache_bucket(id);

    if (strlen(id) > MAX_ID_LEN)
        return;
    pthread_rwlock_wrlock(&tok->cache_lock);
    for (e = tok->cache[b]; e != NULL; e = e->next)
        if (strcmp(e->id, id) == 0)
            break;
    if (e != NULL) {
        e->handle = h;
        e->alg = 0;
    } else if (tok->ncache < MAX_CACHED &&
               (ne = calloc(1, sizeof(*ne))) != NULL) {
        memcpy(ne->id, id, strlen(id) + 1);
        ne->handle = h;
        ne->next = tok->cache[b];
        tok->cache[b] = ne;
        tok->ncache++;
    }
    pthread_rwlock_unlock(&tok->cache_lock);
}

static void
cache_drop(struct sn_hsm_token *tok, const char *id)
{
    struct cached_key **pp, *e = NULL;

    pthread_rwlock_wrlock(&tok->cache_lock);
    for (pp = &tok->cache[cache_bucket(id)]; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, id) == 0) {
            e = *pp;
            *pp = e->next;
            tok->ncache--;
            break;
        }
    }
    pthread_rwlock_unlock(&tok->cache_lock);
    free(e);
}

static void
cache_free(struct sn_hsm_token *tok)
{
    struct cached_key *e, *next;
    size_t i;

    for (i = 0; i < CACHE_BUCKETS; i++) {
        for (e = tok->cache[i]; e != NULL; e = next) {
            next = e->next;
            free(e);
        }
        tok->cache[i] = NULL;
    }
}

/* One pass over the token's private keys fills the cache. */
static void
cache_preload(struct sn_hsm_token *tok, CK_SESSION_HANDLE s)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}};
    CK_FUNCTION_LIST_PTR f = tok->hsm->f;
    CK_OBJECT_HANDLE h[256];
    CK_ULONG n = 0, i;
    char id[MAX_ID_LEN + 1];

    if (f->C_FindObjectsInit(s, tmpl, 1) != CKR_OK)
        return;
    while (f->C_FindObjects(s, h, 256, &n) == CKR_OK && n > 0) {
        for (i = 0; i < n; i++) {
            CK_ATTRIBUTE a = {CKA_ID, id, MAX_ID_LEN};
            if (f->C_GetAttributeValue(s, h[i], &a, 1) == CKR_OK &&
                a.ulValueLen > 0 && a.ulValueLen <= MAX_ID_LEN) {
                id[a.ulValueLen] = '\0';
                if (strlen(id) == a.ulValueLen)
                    cache_put(tok, id, h[i]);
            }
        }
    }
    f->C_FindObjectsFinal(s);
}

/* DER of the named curve OIDs, as CKA_EC_PARAMS wants them. */
static const uint8_t oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                   0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t oid_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};

static sn_err
read_facts(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv,
           struct sn_key_facts *facts)
{
    CK_BBOOL local = 0, nx = 0, as = 0, ex = 1, se = 0;
    CK_ATTRIBUTE a[] = {
        {CKA_LOCAL, &local, sizeof(local)},
        {CKA_NEVER_EXTRACTABLE, &nx, sizeof(nx)},
        {CKA_ALWAYS_SENSITIVE, &as, sizeof(as)},
        {CKA_EXTRACTABLE, &ex, sizeof(ex)},
        {CKA_SENSITIVE, &se, sizeof(se)},
    };
    CK_RV rv;

    if ((rv = f->C_GetAttributeValue(s, priv, a, 5)) != CKR_OK)
        return rv_err(rv);
    facts->local = local == CK_TRUE;
    facts->never_extractable = nx == CK_TRUE;
    facts->always_sensitive = as == CK_TRUE;
    facts->extractable = ex == CK_TRUE;
    facts->sensitive = se == CK_TRUE;
    return SN_OK;
}

static sn_err get_attr(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s,
                       CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type,
                       uint8_t **out, size_t *outlen);

/* The algorithm of the private key h: its type and size, read from the
 * module (the modulus, or the curve's OID). */
static sn_err
read_alg(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
         enum sn_keyalg *alg)
{
    CK_KEY_TYPE type = 0;
    CK_ATTRIBUTE a = {CKA_KEY_TYPE, &type, sizeof(type)};
    uint8_t *v = NULL;
    size_t len = 0, i = 0;
    sn_err r;
    CK_RV rv;

    if ((rv = f->C_GetAttributeValue(s, h, &a, 1)) != CKR_OK)
        return rv_err(rv);
    if (type != CKK_RSA && type != CKK_EC)
        return SN_ERR_INVALID;
    if ((r = get_attr(f, s, h, type == CKK_RSA ? CKA_MODULUS : CKA_EC_PARAMS,
                      &v, &len)) != SN_OK)
        return r;
    r = SN_ERR_INVALID;
    if (type == CKK_RSA) {
        while (i < len && v[i] == 0)
            i++;
        if (len - i == 384)
            *alg = SN_KEY_RSA3072, r = SN_OK;
        else if (len - i == 512)
            *alg = SN_KEY_RSA4096, r = SN_OK;
    } else if (len == sizeof(oid_p256) && memcmp(v, oid_p256, len) == 0)
        *alg = SN_KEY_P256, r = SN_OK;
    else if (len == sizeof(oid_p384) && memcmp(v, oid_p384, len) == 0)
        *alg = SN_KEY_P384, r = SN_OK;
    free(v);
    return r;
}

sn_err
sn_hsm_key_alg(struct sn_hsm_token *tok, const char *id, enum sn_keyalg *alg)
{
    struct cached_key *e;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE key;
    CK_RV rv = CKR_OK;
    int known = 0;
    sn_err r;

    if (strlen(id) > MAX_ID_LEN)
        return SN_ERR_INVALID;
    pthread_rwlock_rdlock(&tok->cache_lock);
    for (e = tok->cache[cache_bucket(id)]; e != NULL; e = e->next)
        if (strcmp(e->id, id) == 0 && e->alg > 0) {
            *alg = (enum sn_keyalg)(e->alg - 1);
            known = 1;
        }
    pthread_rwlock_unlock(&tok->cache_lock);
    if (known)
        return SN_OK;
    if ((r = session_get(tok, &s)) != SN_OK)
        return r;
    if (!cache_get(tok, id, &key)) {
        if ((r = find_object(tok, s, CKO_PRIVATE_KEY, id, &key, &rv)) != SN_OK)
            goto out;
        cache_put(tok, id, key);
    }
    if ((r = read_alg(tok->hsm->f, s, key, alg)) != SN_OK)
        goto out;
    pthread_rwlock_wrlock(&tok->cache_lock);
    for (e = tok->cache[cache_bucket(id)]; e != NULL; e = e->next)
        if (strcmp(e->id, id) == 0)
            e->alg = (int)*alg + 1;
    pthread_rwlock_unlock(&tok->cache_lock);
out:
    session_put(tok, s, rv);
    return r;
}

int
sn_key_facts_ok(const struct sn_key_facts *f)
{
    return f->local && f->never_extractable && f->always_sensitive &&
           !f->extractable && f->sensitive;
}

/* Reads a variable-length attribute into a malloc'd buffer. */
static sn_err
get_attr(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
         CK_ATTRIBUTE_TYPE type, uint8_t **out, size_t *outlen)
{
    CK_ATTRIBUTE a = {type, NULL, 0};
    uint8_t *buf;
    CK_RV rv;

    *out = NULL;
    *outlen = 0;
    if ((rv = f->C_GetAttributeValue(s, o, &a, 1)) != CKR_OK)
        return rv_err(rv);
    if (a.ulValueLen == 0 || a.ulValueLen > 4096)
        return SN_ERR_HSM;
    if ((buf = malloc(a.ulValueLen)) == NULL)
        return SN_ERR_NOMEM;
    a.pValue = buf;
    if ((rv = f->C_GetAttributeValue(s, o, &a, 1)) != CKR_OK) {
        free(buf);
        return rv_err(rv);
    }
    *out = buf;
    *outlen = a.ulValueLen;
    return SN_OK;
}

static sn_err
spki_from_params(const char *type, OSSL_PARAM_BLD *bld, uint8_t **spki,
                 size_t *len)
{
    EVP_PKEY_CTX *ctx = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY *pkey = NULL;
    unsigned char *der = NULL;
    sn_err r = SN_ERR_CRYPTO;
    int n;

    if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) == NULL ||
        EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        goto out;
    if ((n = i2d_PUBKEY(pkey, &der)) <= 0)
        goto out;
    *spki = der;
    *len = (size_t)n;
    r = SN_OK;
out:
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return r;
}

static sn_err
read_public(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub,
            enum sn_keyalg alg, uint8_t **spki, size_t *len)
{
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    ASN1_OCTET_STRING *point = NULL;
    const unsigned char *p;
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    sn_err r;

    if ((bld = OSSL_PARAM_BLD_new()) == NULL)
        return SN_ERR_NOMEM;
    if (sn_keyalg_is_rsa(alg)) {
        if ((r = get_attr(f, s, pub, CKA_MODULUS, &a, &alen)) != SN_OK ||
            (r = get_attr(f, s, pub, CKA_PUBLIC_EXPONENT, &b, &blen)) != SN_OK)
            goto out;
        r = SN_ERR_CRYPTO;
        if ((n = BN_bin2bn(a, (int)alen, NULL)) == NULL ||
            (e = BN_bin2bn(b, (int)blen, NULL)) == NULL ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
            goto out;
        r = spki_from_params("RSA", bld, spki, len);
    } else {
        if ((r = get_attr(f, s, pub, CKA_EC_POINT, &a, &alen)) != SN_OK)
            goto out;
        /* PKCS#11 v2.20+ wraps the point in a DER OCTET STRING. */
        r = SN_ERR_HSM;
        p = a;
        if ((point = d2i_ASN1_OCTET_STRING(NULL, &p, (long)alen)) == NULL ||
            p != a + alen)
            goto out;
        r = SN_ERR_CRYPTO;
        if (!OSSL_PARAM_BLD_push_utf8_string(
                bld, OSSL_PKEY_PARAM_GROUP_NAME,
                alg == SN_KEY_P256 ? "P-256" : "P-384", 0) ||
            !OSSL_PARAM_BLD_push_octet_string(
                bld, OSSL_PKEY_PARAM_PUB_KEY, ASN1_STRING_get0_data(point),
                (size_t)ASN1_STRING_length(point)))
            goto out;
        r = spki_from_params("EC", bld, spki, len);
    }
out:
    ASN1_OCTET_STRING_free(point);
    BN_free(n);
    BN_free(e);
    OSSL_PARAM_BLD_free(bld);
    free(a);
    free(b);
    return r;
}

sn_err
sn_hsm_public_key(struct sn_hsm_token *tok, const char *id, uint8_t **spki,
                  size_t *len)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE pub;
    enum sn_keyalg alg;
    CK_RV rv = CKR_OK;
    sn_err r;

    *spki = NULL;
    *len = 0;
    if ((r = sn_hsm_key_alg(tok, id, &alg)) != SN_OK)
        return r;
    if ((r = session_get(tok, &s)) != SN_OK)
        return r;
    /* The public half is a session object, gone with the session that
     * made it; an RSA private key carries its modulus and exponent. */
    r = find_object(tok, s, CKO_PUBLIC_KEY, id, &pub, &rv);
    if (r == SN_ERR_NOT_FOUND && sn_keyalg_is_rsa(alg))
        r = find_object(tok, s, CKO_PRIVATE_KEY, id, &pub, &rv);
    if (r == SN_OK)
        r = read_public(tok->hsm->f, s, pub, alg, spki, len);
    session_put(tok, s, rv);
    return r;
}

sn_err
sn_hsm_generate(struct sn_hsm_token *tok, enum sn_keyalg alg, const char *id,
                uint8_t **spki, size_t *spki_len, struct sn_key_facts *facts)
{
    static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    static CK_BYTE exponent[] = {0x01, 0x00, 0x01};
    CK_FUNCTION_LIST_PTR f = tok->hsm->f;
    CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
    CK_SESSION_HANDLE s;
    CK_MECHANISM mech = {0, NULL, 0};
    CK_ULONG bits = sn_keyalg_bits(alg);
    size_t idlen = strlen(id);
    CK_ATTRIBUTE pubt[6], privt[10];
    CK_ULONG npub = 0, npriv = 0;
    CK_RV rv = CKR_OK;
    sn_err r;

    *spki = NULL;
    *spki_len = 0;
    memset(facts, 0, sizeof(*facts));
    if (idlen == 0 || idlen > MAX_ID_LEN || (unsigned)alg >= SN_KEY_COUNT)
        return SN_ERR_INVALID;
#define ATTR(arr, n, t, v, l)                                                  \
    do {                                                                       \
        arr[n].type = (t);                                                     \
        arr[n].pValue = (void *)(uintptr_t)(v);                                \
        arr[n].ulValueLen = (l);                                               \
        n++;                                                                   \
    } while (0)
    /* The public half is a session object, read once and destroyed: the
     * service keeps it in its database, and a module that holds every
     * token object in memory (SoftHSM2) then carries half the objects. */
    ATTR(pubt, npub, CKA_TOKEN, &no, sizeof(no));
    ATTR(pubt, npub, CKA_VERIFY, &yes, sizeof(yes));
    ATTR(pubt, npub, CKA_ID, id, idlen);
    ATTR(pubt, npub, CKA_LABEL, id, idlen);
    ATTR(privt, npriv, CKA_TOKEN, &yes, sizeof(yes));
    ATTR(privt, npriv, CKA_PRIVATE, &yes, sizeof(yes));
    ATTR(privt, npriv, CKA_SENSITIVE, &yes, sizeof(yes));
    ATTR(privt, npriv, CKA_EXTRACTABLE, &no, sizeof(no));
    ATTR(privt, npriv, CKA_SIGN, &yes, sizeof(yes));
    /* Sign only: no decryption, unwrapping or derivation with the key. */
    ATTR(privt, npriv, CKA_DECRYPT, &no, sizeof(no));
    ATTR(privt, npriv, CKA_UNWRAP, &no, sizeof(no));
    ATTR(privt, npriv, CKA_DERIVE, &no, sizeof(no));
    ATTR(privt, npriv, CKA_ID, id, idlen);
    ATTR(privt, npriv, CKA_LABEL, id, idlen);
    if (sn_keyalg_is_rsa(alg)) {
        mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
        ATTR(pubt, npub, CKA_MODULUS_BITS, &bits, sizeof(bits));
        ATTR(pubt, npub, CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent));
    } else {
        mech.mechanism = CKM_EC_KEY_PAIR_GEN;
        if (alg == SN_KEY_P256)
            ATTR(pubt, npub, CKA_EC_PARAMS, oid_p256, sizeof(oid_p256));
        else
            ATTR(pubt, npub, CKA_EC_PARAMS, oid_p384, sizeof(oid_p384));
    }
#undef ATTR
    if ((r = session_get(tok, &s)) != SN_OK)
        return r;
    /* Ids name exactly one key: never create a second with the same id.
     * The cache holds every key on the token (preloaded at open), so no
     * token search is needed. */
    if (cache_get(tok, id, &priv)) {
        /* A handle left by a destruction through another handle to the
         * same token is stale: check it is still this key. */
        char have[MAX_ID_LEN + 1];
        CK_ATTRIBUTE a = {CKA_ID, have, MAX_ID_LEN};
        if (f->C_GetAttributeValue(s, priv, &a, 1) == CKR_OK &&
            a.ulValueLen == idlen && memcmp(have, id, idlen) == 0) {
            priv = CK_INVALID_HANDLE;
            r = SN_ERR_EXISTS;
            goto out;
        }
        cache_drop(tok, id);
        priv = CK_INVALID_HANDLE;
    }
    rv = f->C_GenerateKeyPair(s, &mech, pubt, npub, privt, npriv, &pub, &priv);
    if (rv != CKR_OK) {
        sn_error("hsm: C_GenerateKeyPair failed: 0x%lx", (unsigned long)rv);
        r = rv_err(rv) == SN_ERR_INVALID ? SN_ERR_HSM : rv_err(rv);
        goto out;
    }
    if ((r = read_facts(f, s, priv, facts)) != SN_OK ||
        (r = read_public(f, s, pub, alg, spki, spki_len)) != SN_OK)
        goto out;
    cache_put(tok, id, priv);
out:
    if (r != SN_OK && priv != CK_INVALID_HANDLE)
        f->C_DestroyObject(s, priv);
    if (pub != CK_INVALID_HANDLE)
        f->C_DestroyObject(s, pub);
    session_put(tok, s, rv);
    return r;
}

static sn_err
ecdsa_raw_to_der(const uint8_t *raw, size_t len, uint8_t **der, size_t *dlen)
{
    ECDSA_SIG *sig = NULL;
    BIGNUM *br = NULL, *bs = NULL;
    unsigned char *out = NULL;
    sn_err r = SN_ERR_CRYPTO;
    int n;

    if (len == 0 || len % 2 != 0)
        return SN_ERR_HSM;
    if ((sig = ECDSA_SIG_new()) == NULL ||
        (br = BN_bin2bn(raw, (int)(len / 2), NULL)) == NULL ||
        (bs = BN_bin2bn(raw + len / 2, (int)(len / 2), NULL)) == NULL ||
        ECDSA_SIG_set0(sig, br, bs) != 1)
        goto out;
    br = bs = NULL;
    if ((n = i2d_ECDSA_SIG(sig, &out)) <= 0)
        goto out;
    *der = out;
    *dlen = (size_t)n;
    r = SN_OK;
out:
    BN_free(br);
    BN_free(bs);
    ECDSA_SIG_free(sig);
    return r;
}

/* One signing attempt with an already chosen session and handle. */
static CK_RV
sign_once(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key,
          CK_MECHANISM *mech, const uint8_t *in, size_t inlen, uint8_t *out,
          CK_ULONG *outlen)
{
    CK_RV rv;

    if ((rv = f->C_SignInit(s, mech, key)) != CKR_OK)
        return rv;
    return f->C_Sign(s, (CK_BYTE_PTR)(uintptr_t)in, inlen, out, outlen);
}

sn_err
sn_hsm_sign(struct sn_hsm_token *tok, const char *id, enum sn_keyalg alg,
            enum sn_digest md, enum sn_scheme scheme, const uint8_t *digest,
            size_t dlen, uint8_t **sig, size_t *siglen)
{
    static const CK_MECHANISM_TYPE hashes[] = {CKM_SHA256, CKM_SHA384,
                                               CKM_SHA512};
    static const CK_RSA_PKCS_MGF_TYPE mgfs[] = {
        CKG_MGF1_SHA256, CKG_MGF1_SHA384, CKG_MGF1_SHA512};
    CK_FUNCTION_LIST_PTR f = tok->hsm->f;
    CK_RSA_PKCS_PSS_PARAMS pss;
    CK_MECHANISM mech = {0, NULL, 0};
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE key;
    uint8_t in[SN_DIGESTINFO_PREFIX_MAX + 64], out[1024];
    const uint8_t *prefix;
    size_t plen;
    CK_ULONG outlen = sizeof(out);
    size_t inlen;
    CK_RV rv = CKR_OK;
    sn_err r;
    int attempt;

    *sig = NULL;
    *siglen = 0;
    if ((unsigned)md >= SN_MD_COUNT || dlen != sn_digest_len(md) ||
        (unsigned)alg >= SN_KEY_COUNT || strlen(id) > MAX_ID_LEN)
        return SN_ERR_INVALID;
    if (sn_keyalg_is_rsa(alg) && scheme == SN_SCHEME_PKCS1) {
        mech.mechanism = CKM_RSA_PKCS;
        /* DigestInfo (RFC 8017 9.2), md is in the closed set. */
        if ((prefix = sn_digestinfo_prefix(md, &plen)) == NULL ||
            plen + dlen > sizeof(in))
            return SN_ERR_INVALID;
        memcpy(in, prefix, plen);
        memcpy(in + plen, digest, dlen);
        inlen = plen + dlen;
    } else if (sn_keyalg_is_rsa(alg) && scheme == SN_SCHEME_PSS) {
        pss.hashAlg = hashes[md];
        pss.mgf = mgfs[md];
        pss.sLen = dlen;
        mech.mechanism = CKM_RSA_PKCS_PSS;
        mech.pParameter = &pss;
        mech.ulParameterLen = sizeof(pss);
        memcpy(in, digest, dlen);
        inlen = dlen;
    } else if (!sn_keyalg_is_rsa(alg) && scheme == SN_SCHEME_ECDSA) {
        mech.mechanism = CKM_ECDSA;
        memcpy(in, digest, dlen);
        inlen = dlen;
    } else
        return SN_ERR_INVALID;

    if ((r = session_get(tok, &s)) != SN_OK)
        return r;
    /* A cached handle may be stale: look it up again once. */
    for (attempt = 0; attempt < 2; attempt++) {
        if (!cache_get(tok, id, &key)) {
            if ((r = find_object(tok, s, CKO_PRIVATE_KEY, id, &key, &rv)) !=
                SN_OK)
                goto out;
            cache_put(tok, id, key);
        }
        outlen = sizeof(out);
        rv = sign_once(f, s, key, &mech, in, inlen, out, &outlen);
        if (rv != CKR_OBJECT_HANDLE_INVALID && rv != CKR_KEY_HANDLE_INVALID)
            break;
        cache_drop(tok, id);
    }
    if (rv != CKR_OK) {
        sn_error("hsm: signing failed: 0x%lx", (unsigned long)rv);
        r = SN_ERR_HSM;
        goto out;
    }
    if (mech.mechanism == CKM_ECDSA)
        r = ecdsa_raw_to_der(out, outlen, sig, siglen);
    else if ((*sig = malloc(outlen)) == NULL)
        r = SN_ERR_NOMEM;
    else {
        memcpy(*sig, out, outlen);
        *siglen = outlen;
        r = SN_OK;
    }
out:
    OPENSSL_cleanse(in, sizeof(in));
    session_put(tok, s, rv);
    return r;
}

sn_err
sn_hsm_has_key(struct sn_hsm_token *tok, const char *id)
{
    CK_OBJECT_HANDLE priv;
    CK_SESSION_HANDLE s;
    CK_RV rv = CKR_OK;
    sn_err r;

    if (strlen(id) == 0 || strlen(id) > MAX_ID_LEN)
        return SN_ERR_INVALID;
    if ((r = session_get(tok, &s)) != SN_OK)
        return r;
    r = find_object(tok, s, CKO_PRIVATE_KEY, id, &priv, &rv);
    session_put(tok, s, rv);
    return r;
}

sn_err
sn_hsm_destroy(struct sn_hsm_token *tok, const char *id)
{
    CK_FUNCTION_LIST_PTR f = tok->hsm->f;
    CK_OBJECT_HANDLE priv, pub;
    CK_SESSION_HANDLE s;
    CK_RV rv = CKR_OK;
    sn_err r;

    if (strlen(id) == 0 || strlen(id) > MAX_ID_LEN)
        return SN_ERR_INVALID;
    cache_drop(tok, id);
    if ((r = session_get(tok, &s)) != SN_OK)
        return r;
    if ((r = find_object(tok, s, CKO_PRIVATE_KEY, id, &priv, &rv)) != SN_OK)
        goto out;
    if ((rv = f->C_DestroyObject(s, priv)) != CKR_OK) {
        r = rv_err(rv);
        goto out;
    }
    if (find_object(tok, s, CKO_PUBLIC_KEY, id, &pub, &rv) == SN_OK)
        f->C_DestroyObject(s, pub);
    r = SN_OK;
out:
    session_put(tok, s, rv);
    return r;
}

/* ---- sealing: small secrets encrypted by a key that stays in the token */

#define SEAL_LABEL "signet-seal"
#define SEAL_KEY_BYTES 32 /* AES-256 */
#define SEAL_VERSION 1
#define SEAL_IV_LEN 12 /* 96 bits: GCM's native nonce (SP 800-38D) */
#define SEAL_TAG_LEN 16
#define SEAL_HEAD (1 + SEAL_IV_LEN)
#define SEAL_OVERHEAD (SEAL_HEAD + SEAL_TAG_LEN)
_Static_assert(SEAL_OVERHEAD == SN_HSM_SEAL_OVERHEAD, "hsm.h's overhead");
#define SEAL_PLAIN_MAX 1024
#define SEAL_CONTEXT_MAX 256

static sn_err
find_seal_key(struct sn_hsm_token *tok, CK_SESSION_HANDLE s,
              CK_OBJECT_HANDLE *out, CK_RV *last)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_LABEL, (void *)(uintptr_t)SEAL_LABEL, sizeof(SEAL_LABEL) - 1},
    };

    return find_one(tok, s, tmpl, 3, "sealing key label", out, last);
}

static CK_RV
generate_seal_key(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s,
                  CK_OBJECT_HANDLE *out)
{
    static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ULONG len = SEAL_KEY_BYTES;
    CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
    /* Encrypt and decrypt only: it wraps, signs and derives nothing. */
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_VALUE_LEN, &len, sizeof(len)},
        {CKA_LABEL, (void *)(uintptr_t)SEAL_LABEL, sizeof(SEAL_LABEL) - 1},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_EXTRACTABLE, &no, sizeof(no)},
        {CKA_ENCRYPT, &yes, sizeof(yes)},
        {CKA_DECRYPT, &yes, sizeof(yes)},
        {CKA_WRAP, &no, sizeof(no)},
        {CKA_UNWRAP, &no, sizeof(no)},
        {CKA_SIGN, &no, sizeof(no)},
        {CKA_VERIFY, &no, sizeof(no)},
        {CKA_DERIVE, &no, sizeof(no)},
    };

    return f->C_GenerateKey(s, &mech, t, sizeof(t) / sizeof(t[0]), out);
}

/*
 * Finds the sealing key or, with create, generates it; caches its handle.
 * Called with seal_lock held. A key found with the label must be as one
 * generated here would be: never readable outside the token.
 */
static sn_err
seal_key_locked(struct sn_hsm_token *tok, CK_SESSION_HANDLE s, int create,
                CK_OBJECT_HANDLE *out, CK_RV *last)
{
    CK_FUNCTION_LIST_PTR f = tok->hsm->f;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    struct sn_key_facts facts;
    CK_RV rv;
    sn_err r;

    if (tok->seal_key != CK_INVALID_HANDLE) {
        *out = tok->seal_key;
        return SN_OK;
    }
    r = find_seal_key(tok, s, &h, last);
    if (r == SN_ERR_NOT_FOUND && create) {
        if ((rv = generate_seal_key(f, s, &h)) != CKR_OK) {
            sn_error("hsm: generating the sealing key failed: 0x%lx",
                     (unsigned long)rv);
            *last = rv;
            return SN_ERR_HSM;
        }
        sn_info("hsm: generated the sealing key on token %s", tok->info.label);
        r = SN_OK;
    }
    if (r != SN_OK)
        return r;
    memset(&facts, 0, sizeof(facts));
    if ((r = read_facts(f, s, h, &facts)) != SN_OK)
        return r;
    if (!sn_key_facts_ok(&facts)) {
        sn_error("hsm: the sealing key on token %s may leave the token",
                 tok->info.label);
        return SN_ERR_HSM_PROTECTION;
    }
    tok->seal_key = h;
    *out = h;
    return SN_OK;
}

sn_err
sn_hsm_seal_key_ensure(struct sn_hsm_token *tok)
{
    CK_OBJECT_HANDLE h;
    CK_SESSION_HANDLE s;
    CK_RV rv = CKR_OK;
    sn_err r;

    if ((r = session_get(tok, &s)) != SN_OK)
        return r;
    pthread_mutex_lock(&tok->seal_lock);
    r = seal_key_locked(tok, s, 1, &h, &rv);
    pthread_mutex_unlock(&tok->seal_lock);
    session_put(tok, s, rv);
    return r;
}

/* The cached handle, or a lookup (never a generation). */
static sn_err
seal_key_get(struct sn_hsm_token *tok, CK_SESSION_HANDLE s,
             CK_OBJECT_HANDLE *out, CK_RV *last)
{
    sn_err r;

    pthread_mutex_lock(&tok->seal_lock);
    r = seal_key_locked(tok, s, 0, out, last);
    pthread_mutex_unlock(&tok->seal_lock);
    return r;
}

/* Forgets a handle the module called invalid (unless already replaced). */
static void
seal_key_drop(struct sn_hsm_token *tok, CK_OBJECT_HANDLE h)
{
    pthread_mutex_lock(&tok->seal_lock);
    if (tok->seal_key == h)
        tok->seal_key = CK_INVALID_HANDLE;
    pthread_mutex_unlock(&tok->seal_lock);
}

static int
handle_stale(CK_RV rv)
{
    return rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID;
}

/* One AES-GCM operation (encrypt or decrypt) with the sealing key; a stale
 * handle is looked up again once. */
static CK_RV
gcm_run(struct sn_hsm_token *tok, CK_SESSION_HANDLE s, int encrypt,
        CK_GCM_PARAMS *gcm, const uint8_t *in, size_t inlen, uint8_t *out,
        CK_ULONG *outlen, sn_err *r)
{
    CK_FUNCTION_LIST_PTR f = tok->hsm->f;
    CK_MECHANISM mech = {CKM_AES_GCM, gcm, sizeof(*gcm)};
    CK_BYTE_PTR data = (CK_BYTE_PTR)(uintptr_t)in;
    CK_ULONG cap = *outlen;
    CK_OBJECT_HANDLE key;
    CK_RV rv = CKR_OK;
    int attempt;

    for (attempt = 0; attempt < 2; attempt++) {
        if ((*r = seal_key_get(tok, s, &key, &rv)) != SN_OK)
            return rv;
        *outlen = cap;
        if (encrypt) {
            if ((rv = f->C_EncryptInit(s, &mech, key)) == CKR_OK)
                rv = f->C_Encrypt(s, data, inlen, out, outlen);
        } else {
            if ((rv = f->C_DecryptInit(s, &mech, key)) == CKR_OK)
                rv = f->C_Decrypt(s, data, inlen, out, outlen);
        }
        if (!handle_stale(rv))
            break;
        seal_key_drop(tok, key);
    }
    *r = rv == CKR_OK ? SN_OK : SN_ERR_HSM;
    return rv;
}

static sn_err
seal_args_ok(const char *context, size_t datalen)
{
    size_t n = strnlen(context, SEAL_CONTEXT_MAX + 1);

    return n > 0 && n <= SEAL_CONTEXT_MAX && datalen <= SEAL_PLAIN_MAX
               ? SN_OK
               : SN_ERR_INVALID;
}

static void
gcm_params(CK_GCM_PARAMS *gcm, uint8_t *iv, const char *context)
{
    memset(gcm, 0, sizeof(*gcm));
    gcm->pIv = iv;
    gcm->ulIvLen = SEAL_IV_LEN;
    /* p11-kit's header has PKCS#11 v3.0's ulIvBits (SoftHSM2 2.6.1's has
     * it too, and ignores it); set it for modules that read it. */
    gcm->ulIvBits = SEAL_IV_LEN * 8;
    gcm->pAAD = (CK_BYTE_PTR)(uintptr_t)context;
    gcm->ulAADLen = strlen(context);
    gcm->ulTagBits = SEAL_TAG_LEN * 8;
}

sn_err
sn_hsm_seal(struct sn_hsm_token *tok, const char *context, const uint8_t *in,
            size_t inlen, uint8_t *out, size_t *outlen)
{
    uint8_t iv[SEAL_IV_LEN];
    CK_GCM_PARAMS gcm;
    CK_SESSION_HANDLE s;
    CK_ULONG ctlen;
    size_t cap = *outlen;
    CK_RV rv;
    sn_err r;

    *outlen = 0;
    if ((r = seal_args_ok(context, inlen)) != SN_OK)
        return r;
    if (cap < SEAL_OVERHEAD + inlen)
        return SN_ERR_LIMIT;
    if ((r = sn_random(iv, sizeof(iv))) != SN_OK)
        return r;
    gcm_params(&gcm, iv, context);
    if ((r = session_get(tok, &s)) != SN_OK)
        return r;
    ctlen = cap - SEAL_HEAD;
    rv = gcm_run(tok, s, 1, &gcm, in, inlen, out + SEAL_HEAD, &ctlen, &r);
    session_put(tok, s, rv);
    if (r != SN_OK) {
        if (rv != CKR_OK)
            sn_error("hsm: sealing failed: 0x%lx", (unsigned long)rv);
        goto out;
    }
    if (ctlen != inlen + SEAL_TAG_LEN) {
        r = SN_ERR_HSM;
        goto out;
    }
    out[0] = SEAL_VERSION;
    memcpy(out + 1, iv, SEAL_IV_LEN);
    *outlen = SEAL_OVERHEAD + inlen;
out:
    if (r != SN_OK)
        OPENSSL_cleanse(out, cap);
    return r;
}

sn_err
sn_hsm_unseal(struct sn_hsm_token *tok, const char *context, const uint8_t *in,
              size_t inlen, uint8_t *out, size_t *outlen)
{
    /* The module writes ciphertext-sized output (SoftHSM2 wants room for
     * the tag too): decrypt here, copy out only what authenticated. */
    uint8_t plain[SEAL_PLAIN_MAX + SEAL_TAG_LEN];
    uint8_t iv[SEAL_IV_LEN];
    CK_GCM_PARAMS gcm;
    CK_SESSION_HANDLE s;
    CK_ULONG ptlen = sizeof(plain);
    size_t cap = *outlen, want;
    CK_RV rv;
    sn_err r;

    *outlen = 0;
    if ((r = seal_args_ok(context, 0)) != SN_OK)
        return r;
    /* Not one of ours (or damaged): it does not open. */
    if (inlen < SEAL_OVERHEAD || inlen > SEAL_OVERHEAD + SEAL_PLAIN_MAX ||
        in[0] != SEAL_VERSION)
        return SN_ERR_CRYPTO;
    want = inlen - SEAL_OVERHEAD;
    if (cap < want)
        return SN_ERR_LIMIT;
    memcpy(iv, in + 1, SEAL_IV_LEN);
    gcm_params(&gcm, iv, context);
    if ((r = session_get(tok, &s)) != SN_OK)
        return r;
    rv = gcm_run(tok, s, 0, &gcm, in + SEAL_HEAD, inlen - SEAL_HEAD, plain,
                 &ptlen, &r);
    session_put(tok, s, rv);
    if (r != SN_OK) {
        /* A tag that does not verify: CKR_ENCRYPTED_DATA_INVALID by the
         * standard, CKR_GENERAL_ERROR from SoftHSM2 2.6. */
        if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_GENERAL_ERROR ||
            rv == CKR_FUNCTION_FAILED || rv == CKR_ENCRYPTED_DATA_LEN_RANGE)
            r = SN_ERR_CRYPTO;
        else if (rv != CKR_OK)
            sn_error("hsm: unsealing failed: 0x%lx", (unsigned long)rv);
        goto out;
    }
    if (ptlen != want) {
        r = SN_ERR_CRYPTO;
        goto out;
    }
    memcpy(out, plain, want);
    *outlen = want;
out:
    OPENSSL_cleanse(plain, sizeof(plain));
    return r;
}

/* ---- the transparency log's key (issue 18) ---- */

/* The Ed25519 keys' labels, by enum sn_hsm_edkey. */
static const char *const ed_labels[SN_EDKEY_COUNT] = {"signet-log",
                                                      "signet-notice"};
/* id-Ed25519 (RFC 8410), the curve as CKA_EC_PARAMS. */
static const CK_BYTE ed25519_oid[] = {0x06, 0x03, 0x2b, 0x65, 0x70};

static sn_err
find_ed_key(struct sn_hsm_token *tok, CK_SESSION_HANDLE s,
            enum sn_hsm_edkey which, CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE *out,
            CK_RV *last)
{
    const char *label = ed_labels[which];
    CK_KEY_TYPE kt = CKK_EC_EDWARDS;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_LABEL, (void *)(uintptr_t)label, strlen(label)},
    };

    return find_one(tok, s, tmpl, 3, "Ed25519 key label", out, last);
}

static CK_RV
generate_ed_key(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, const char *label,
                CK_OBJECT_HANDLE *priv)
{
    static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_MECHANISM mech = {CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0};
    CK_OBJECT_HANDLE pub;
    CK_ATTRIBUTE pt[] = {
        {CKA_EC_PARAMS, (void *)(uintptr_t)ed25519_oid, sizeof(ed25519_oid)},
        {CKA_LABEL, (void *)(uintptr_t)label, strlen(label)},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_VERIFY, &yes, sizeof(yes)},
    };
    /* Signs only: it decrypts, wraps and derives nothing. */
    CK_ATTRIBUTE kt[] = {
        {CKA_LABEL, (void *)(uintptr_t)label, strlen(label)},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_EXTRACTABLE, &no, sizeof(no)},
        {CKA_SIGN, &yes, sizeof(yes)},
        {CKA_DECRYPT, &no, sizeof(no)},
        {CKA_UNWRAP, &no, sizeof(no)},
        {CKA_DERIVE, &no, sizeof(no)},
    };

    return f->C_GenerateKeyPair(s, &mech, pt, sizeof(pt) / sizeof(pt[0]), kt,
                                sizeof(kt) / sizeof(kt[0]), &pub, priv);
}

/* With seal_lock held: the private key's handle, found or (create)
 * generated, checked never to leave the token. */
static sn_err
ed_key_locked(struct sn_hsm_token *tok, CK_SESSION_HANDLE s,
              enum sn_hsm_edkey which, int create, CK_OBJECT_HANDLE *out,
              CK_RV *last)
{
    CK_FUNCTION_LIST_PTR f = tok->hsm->f;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    struct sn_key_facts facts;
    CK_RV rv;
    sn_err r;

    if (tok->ed_key[which] != CK_INVALID_HANDLE) {
        *out = tok->ed_key[which];
        return SN_OK;
    }
    r = find_ed_key(tok, s, which, CKO_PRIVATE_KEY, &h, last);
    if (r == SN_ERR_NOT_FOUND && create) {
        if ((rv = generate_ed_key(f, s, ed_labels[which], &h)) != CKR_OK) {
            sn_error("hsm: generating the Ed25519 key %s failed: 0x%lx",
                     ed_labels[which], (unsigned long)rv);
            *last = rv;
            return SN_ERR_HSM;
        }
        sn_info("hsm: generated the Ed25519 key %s on token %s",
                ed_labels[which], tok->info.label);
        r = SN_OK;
    }
    if (r != SN_OK)
        return r;
    memset(&facts, 0, sizeof(facts));
    if ((r = read_facts(f, s, h, &facts)) != SN_OK)
        return r;
    if (!sn_key_facts_ok(&facts)) {
        sn_error("hsm: the Ed25519 key %s on token %s may leave the token",
                 ed_labels[which], tok->info.label);
        return SN_ERR_HSM_PROTECTION;
    }
    tok->ed_key[which] = h;
    *out = h;
    return SN_OK;
}

/* The public key's 32 bytes: CKA_EC_POINT, raw or as a DER OCTET STRING
 * (modules differ). */
static sn_err
ed_pub(struct sn_hsm_token *tok, CK_SESSION_HANDLE s, enum sn_hsm_edkey which,
       uint8_t pub[32], CK_RV *last)
{
    CK_OBJECT_HANDLE h;
    CK_BYTE pt[64];
    CK_ATTRIBUTE a = {CKA_EC_POINT, pt, sizeof(pt)};
    sn_err r;

    if ((r = find_ed_key(tok, s, which, CKO_PUBLIC_KEY, &h, last)) != SN_OK)
        return r;
    if ((*last = tok->hsm->f->C_GetAttributeValue(s, h, &a, 1)) != CKR_OK)
        return SN_ERR_HSM;
    if (a.ulValueLen == 34 && pt[0] == 0x04 && pt[1] == 32)
        memcpy(pub, pt + 2, 32);
    else if (a.ulValueLen == 32)
        memcpy(pub, pt, 32);
    else
        return SN_ERR_HSM;
    return SN_OK;
}

sn_err
sn_hsm_edkey_ensure(struct sn_hsm_token *tok, enum sn_hsm_edkey which,
                    uint8_t pub[32])
{
    CK_OBJECT_HANDLE h;
    CK_SESSION_HANDLE s;
    CK_RV rv = CKR_OK;
    sn_err r;

    if ((unsigned)which >= SN_EDKEY_COUNT)
        return SN_ERR_INVALID;
    if ((r = session_get(tok, &s)) != SN_OK)
        return r;
    pthread_mutex_lock(&tok->seal_lock);
    r = ed_key_locked(tok, s, which, 1, &h, &rv);
    pthread_mutex_unlock(&tok->seal_lock);
    if (r == SN_OK)
        r = ed_pub(tok, s, which, pub, &rv);
    session_put(tok, s, rv);
    return r;
}

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define lsan_off() __lsan_disable()
#define lsan_on() __lsan_enable()
#else
#define lsan_off() ((void)0)
#define lsan_on() ((void)0)
#endif

sn_err
sn_hsm_edkey_sign(struct sn_hsm_token *tok, enum sn_hsm_edkey which,
                  const uint8_t *msg, size_t len, uint8_t sig[64])
{
    CK_FUNCTION_LIST_PTR f = tok->hsm->f;
    CK_MECHANISM mech = {CKM_EDDSA, NULL, 0};
    CK_OBJECT_HANDLE h;
    CK_SESSION_HANDLE s;
    CK_ULONG siglen = 64;
    CK_RV rv = CKR_OK;
    sn_err r;

    if ((unsigned)which >= SN_EDKEY_COUNT)
        return SN_ERR_INVALID;
    if ((r = session_get(tok, &s)) != SN_OK)
        return r;
    pthread_mutex_lock(&tok->seal_lock);
    r = ed_key_locked(tok, s, which, 0, &h, &rv);
    pthread_mutex_unlock(&tok->seal_lock);
    if (r == SN_OK) {
        /* SoftHSM2 2.6.1 leaks an ASN.1 object in every EdDSA C_Sign;
         * under LeakSanitizer, what the module allocates here is not
         * reported as ours (lsan_off/lsan_on are nothing otherwise). */
        lsan_off();
        if ((rv = f->C_SignInit(s, &mech, h)) == CKR_OK)
            rv = f->C_Sign(s, (CK_BYTE_PTR)(uintptr_t)msg, len, sig, &siglen);
        lsan_on();
        if (rv != CKR_OK || siglen != 64) {
            r = SN_ERR_HSM;
            if (handle_stale(rv)) {
                pthread_mutex_lock(&tok->seal_lock);
                if (tok->ed_key[which] == h)
                    tok->ed_key[which] = CK_INVALID_HANDLE;
                pthread_mutex_unlock(&tok->seal_lock);
            }
        }
    }
    session_put(tok, s, rv);
    return r;
}

sn_err
sn_hsm_logkey_ensure(struct sn_hsm_token *tok, uint8_t pub[32])
{
    return sn_hsm_edkey_ensure(tok, SN_EDKEY_LOG, pub);
}

sn_err
sn_hsm_logkey_sign(struct sn_hsm_token *tok, const uint8_t *msg, size_t len,
                   uint8_t sig[64])
{
    return sn_hsm_edkey_sign(tok, SN_EDKEY_LOG, msg, len, sig);
}
