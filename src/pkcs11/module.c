/*
 * module: the PKCS#11 v2.40 entry points of libsignet-pkcs11.so: one slot,
 * one token backed by the Signet service, sessions, object search and
 * signing. Callers are applications (trusted to be who they are, not to
 * pass sane arguments: every pointer and length is checked). The service's
 * answers are untrusted and go through reply.c. The API token is the user
 * PIN; it is kept only while logged in, wiped on logout and finalize, and
 * never printed. The token always asks for a login, so that a tool with a
 * PIN logs in and its PIN wins; SIGNET_TOKEN only serves sessions that
 * never log in (openssl's engine, osslsigncode, sbsign). Without either, a
 * configured client certificate authenticates the connection (mTLS), and
 * without one, a configured ID token is exchanged for a short-lived token
 * (oidc.c). All
 * state sits behind one pthread mutex that is never held across a network
 * exchange.
 */
#pragma GCC visibility push(default)
#include <p11-kit/pkcs11.h>
#pragma GCC visibility pop

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/util.h"
#include "pkcs11/conf.h"
#include "pkcs11/conn.h"
#include "pkcs11/objects.h"
#include "pkcs11/oidc.h"
#include "pkcs11/reply.h"
#include "pkcs11/sign.h"

#define SLOT_ID 1
#define MAX_PIN_LEN 255
#define MAX_FOUND 4096
/* Polls of a sign request awaiting approval (issue 17): its Retry-After,
 * kept within these seconds. */
#define POLL_MIN 1
#define POLL_MAX 10
/* The messages' name for the PIN of C_Login (compared by address). */
static const char PIN_WHO[] = "the PIN given to C_Login";
static const char OIDC_WHO[] = "the Signet token exchanged for the ID token";
static const char CERT_WHO[] =
    "the client certificate (SIGNET_CLIENT_CERT or client_cert)";

struct session {
    CK_SESSION_HANDLE handle;
    CK_FLAGS flags;
    CK_OBJECT_HANDLE *found; /* C_FindObjectsInit results */
    size_t nfound;
    size_t pos;
    int finding;
    struct sn_p11_signop op;
    struct session *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static struct {
    int initialized;
    struct sn_p11_conf conf; /* conf.token: SIGNET_TOKEN or the file's */
    char *login_token;       /* the PIN of C_Login: it wins over conf.token */
    int oidc;                /* an ID token source is configured (oidc.c) */
    int logged_in;
    unsigned generation; /* bumped by login/logout: stale loads are dropped */
    int loaded;
    char subscriber[SN_P11_SUBSCRIBER_MAX + 1];
    struct sn_p11_objects *objs;
    CK_OBJECT_HANDLE next_object;
    CK_SESSION_HANDLE next_session;
    struct session *sessions;
} g;

extern CK_FUNCTION_LIST sn_p11_function_list;

static void dbg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
dbg(const char *fmt, ...)
{
    va_list ap;

    if (!g.conf.debug)
        return;
    fputs("libsignet-pkcs11: debug: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Copies s into a blank-padded PKCS#11 text field. */
static void
pad(CK_UTF8CHAR *dst, size_t len, const char *s)
{
    size_t n = strlen(s);

    memset(dst, ' ', len);
    memcpy(dst, s, n < len ? n : len);
}

/* ---- state (lock held) ---- */

static const char *
active_token(void)
{
    if (g.login_token != NULL)
        return g.login_token;
    /* A client certificate alone authenticates: no bearer token. */
    if (g.conf.token == NULL && g.conf.conn.cred != NULL)
        return "";
    return g.conf.token;
}

/*
 * A copy of the token to use: the PIN, the configured token, or (with
 * neither) NULL and *oidc set, for a token from oidc.c after unlocking.
 */
static CK_RV
token_copy(char **out, const char **who, int *oidc)
{
    *out = NULL;
    *oidc = 0;
    if (active_token() == NULL) {
        *oidc = g.oidc;
        *who = OIDC_WHO;
        return g.oidc ? CKR_OK : CKR_USER_NOT_LOGGED_IN;
    }
    *who = g.login_token != NULL  ? PIN_WHO
           : g.conf.token != NULL ? g.conf.token_from
                                  : CERT_WHO;
    return (*out = strdup(active_token())) != NULL ? CKR_OK : CKR_HOST_MEMORY;
}

/* The exchanged token (lock not held); said on stderr if there is none. */
static CK_RV
oidc_token(char **out)
{
    sn_err r = sn_p11_oidc_token(&g.conf, out);

    if (r == SN_OK)
        return CKR_OK;
    return r == SN_ERR_STATE   ? CKR_USER_NOT_LOGGED_IN
           : r == SN_ERR_NOMEM ? CKR_HOST_MEMORY
                               : CKR_DEVICE_ERROR;
}

static struct session *
session_find(CK_SESSION_HANDLE h)
{
    struct session *s;

    for (s = g.sessions; s != NULL; s = s->next)
        if (s->handle == h)
            return s;
    return NULL;
}

static void
session_reset(struct session *s)
{
    free(s->found);
    s->found = NULL;
    s->nfound = s->pos = 0;
    s->finding = 0;
    sn_p11_sign_cleanup(&s->op);
}

/* Drops the objects (and every operation that might point at them). */
static void
objects_drop(void)
{
    struct session *s;

    sn_p11_objects_free(g.objs);
    g.objs = NULL;
    g.loaded = 0;
    g.subscriber[0] = '\0';
    g.generation++;
    for (s = g.sessions; s != NULL; s = s->next)
        session_reset(s);
}

static void
state_free(void)
{
    struct session *s;

    while ((s = g.sessions) != NULL) {
        g.sessions = s->next;
        session_reset(s);
        free(s);
    }
    sn_p11_objects_free(g.objs);
    sn_secret_free(g.login_token);
    sn_p11_conf_cleanup(&g.conf);
    memset(&g, 0, sizeof(g));
}

/* Checks initialization and the session; *out is the locked session. */
static CK_RV
enter_session(CK_SESSION_HANDLE h, struct session **out)
{
    *out = NULL;
    pthread_mutex_lock(&lock);
    if (!g.initialized) {
        pthread_mutex_unlock(&lock);
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    }
    if ((*out = session_find(h)) == NULL) {
        pthread_mutex_unlock(&lock);
        return CKR_SESSION_HANDLE_INVALID;
    }
    return CKR_OK;
}

static CK_RV
check_session(CK_SESSION_HANDLE h)
{
    struct session *s;
    CK_RV rv = enter_session(h, &s);

    if (rv == CKR_OK)
        pthread_mutex_unlock(&lock);
    return rv;
}

/* ---- talking to the service (lock not held) ---- */

/*
 * A refusal of the token, or an answer that is not Signet's: said once on
 * stderr (who names the token's source, never its value); the server's
 * message only with SIGNET_PKCS11_DEBUG.
 */
/* What a refusal of who is said as (who: one of the *_WHO or token_from). */
static enum sn_p11_cause
cause_of(const char *who)
{
    if (who == PIN_WHO)
        return SN_P11_CAUSE_PIN;
    if (who == CERT_WHO)
        return SN_P11_CAUSE_CLIENT_CERT;
    return SN_P11_CAUSE_TOKEN;
}

static void
report(const char *who, const char *path, const struct sn_p11_answer *a)
{
    char code[64], msg[256], url[512];

    sn_p11_parse_error(a->body, a->len, code, sizeof(code), msg, sizeof(msg));
    dbg("%s: HTTP %ld %s: %s", path, a->status, code, msg);
    if (a->status == 401 || a->status == 403) {
        sn_p11_say(cause_of(who), "the service refused %s (HTTP %ld%s%s)", who,
                   a->status, code[0] != '\0' ? " " : "", code);
        return;
    }
    sn_p11_url_shown(g.conf.conn.url, url, sizeof(url));
    sn_p11_say(SN_P11_CAUSE_SERVICE,
               "%s (%s) answered GET %s with HTTP %ld%s%s: is it the "
               "address of Signet's API?",
               url, g.conf.url_from, path, a->status,
               code[0] != '\0' ? " " : "", code);
}

/* GET path with token: SN_OK and a 2xx answer, or *rv says what failed. */
static sn_err
get(const char *token, const char *who, const char *path,
    struct sn_p11_answer *a, CK_RV *rv)
{
    sn_err r;

    r = sn_p11_conn_request(&g.conf.conn, token, "GET", path, NULL, a);
    if (r != SN_OK) {
        dbg("GET %s: cannot reach the service: %s (%s)", path, sn_err_str(r),
            a->detail);
        if (r == SN_ERR_IO)
            sn_p11_say_net(&g.conf, a);
        *rv = CKR_DEVICE_ERROR;
        return r;
    }
    if (a->status < 200 || a->status > 299) {
        report(who, path, a);
        *rv = a->status == 401 || a->status == 403 ? CKR_PIN_INCORRECT
                                                   : CKR_DEVICE_ERROR;
        return SN_ERR_STATE;
    }
    return SN_OK;
}

/* An answer that does not parse: said once, detail with debug only. */
static void
malformed(const char *path, sn_err r)
{
    char url[512];

    dbg("%s: malformed answer (%s)", path, sn_err_str(r));
    sn_p11_url_shown(g.conf.conn.url, url, sizeof(url));
    sn_p11_say(SN_P11_CAUSE_SERVICE,
               "%s (%s) answered GET %s with something that is not Signet's "
               "answer",
               url, g.conf.url_from, path);
}

/* whoami + keys for token (who: its source); *keys is the caller's. */
static CK_RV
fetch(const char *token, const char *who, char sub[SN_P11_SUBSCRIBER_MAX + 1],
      struct sn_p11_keylist **keys)
{
    struct sn_p11_answer a = {0};
    CK_RV rv = CKR_DEVICE_ERROR;
    sn_err r;

    *keys = NULL;
    if (g.conf.conn.url == NULL) {
        sn_p11_say(SN_P11_CAUSE_NO_URL,
                   "no service URL: set SIGNET_URL=https://host:port (or url "
                   "in the file SIGNET_PKCS11_CONF names)");
        goto out;
    }
    if (get(token, who, "/v1/whoami", &a, &rv) != SN_OK)
        goto out;
    if ((r = sn_p11_parse_whoami(a.body, a.len, sub)) == SN_ERR_STATE) {
        sn_p11_say(cause_of(who),
                   "%s is an administrator's token, which cannot sign", who);
        rv = CKR_PIN_INCORRECT;
        goto out;
    } else if (r != SN_OK) {
        malformed("/v1/whoami", r);
        goto out;
    }
    sn_p11_answer_cleanup(&a);
    if (get(token, who, "/v1/keys", &a, &rv) != SN_OK)
        goto out;
    if ((r = sn_p11_parse_keys(a.body, a.len, keys)) != SN_OK) {
        malformed("/v1/keys", r);
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    rv = CKR_OK;
out:
    sn_p11_answer_cleanup(&a);
    return rv;
}

/* Installs a fetched key list (lock held); keys is consumed. */
static CK_RV
install(const char *sub, struct sn_p11_keylist *keys)
{
    struct sn_p11_objects *objs = NULL;

    if (sn_p11_objects_build(keys, &g.next_object, &objs) != SN_OK)
        return CKR_HOST_MEMORY;
    sn_p11_objects_free(g.objs);
    g.objs = objs;
    g.loaded = 1;
    memcpy(g.subscriber, sub, sizeof(g.subscriber));
    return CKR_OK;
}

/*
 * Loads the objects with the token we have (SIGNET_TOKEN) if not loaded.
 * The network exchange runs unlocked; a login or logout meanwhile wins.
 */
static CK_RV
ensure_loaded(void)
{
    char sub[SN_P11_SUBSCRIBER_MAX + 1];
    struct sn_p11_keylist *keys = NULL;
    const char *who = NULL;
    char *token = NULL;
    unsigned gen;
    int oidc;
    CK_RV rv = CKR_OK;

    pthread_mutex_lock(&lock);
    if (g.loaded || (active_token() == NULL && !g.oidc)) {
        pthread_mutex_unlock(&lock);
        return CKR_OK;
    }
    gen = g.generation;
    rv = token_copy(&token, &who, &oidc);
    pthread_mutex_unlock(&lock);
    if (rv == CKR_OK && oidc)
        rv = oidc_token(&token);
    if (rv != CKR_OK)
        return rv;
    rv = fetch(token, who, sub, &keys);
    sn_secret_free(token);
    if (rv != CKR_OK)
        return rv == CKR_PIN_INCORRECT ? CKR_USER_NOT_LOGGED_IN : rv;
    pthread_mutex_lock(&lock);
    if (g.initialized && gen == g.generation && !g.loaded)
        rv = install(sub, keys);
    else
        sn_p11_keylist_free(keys);
    pthread_mutex_unlock(&lock);
    return rv;
}

/* ---- general ---- */

CK_RV
C_Initialize(CK_VOID_PTR pInitArgs)
{
    CK_C_INITIALIZE_ARGS *args = pInitArgs;
    CK_RV rv = CKR_OK;

    if (args != NULL && args->pReserved != NULL)
        return CKR_ARGUMENTS_BAD;
    /* We always lock with pthreads, which CKF_OS_LOCKING_OK permits. */
    pthread_mutex_lock(&lock);
    if (g.initialized) {
        rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
        goto out;
    }
    if (sn_p11_conn_global_init() != SN_OK) {
        rv = CKR_GENERAL_ERROR;
        goto out;
    }
    if (sn_p11_conf_load(&g.conf) != SN_OK) {
        state_free();
        rv = CKR_GENERAL_ERROR;
        goto out;
    }
    /* Said here, but exchanged at first use: p11-kit loads us everywhere. */
    /* Credentials, first found wins: the PIN (C_Login), the Signet token,
     * the client certificate, the ID token (docs/pkcs11.md). */
    g.oidc = g.conf.token == NULL && g.conf.conn.cred == NULL &&
             sn_p11_oidc_configured(&g.conf);
    g.next_object = 1;
    g.next_session = 1;
    g.initialized = 1;
out:
    pthread_mutex_unlock(&lock);
    return rv;
}

CK_RV
C_Finalize(CK_VOID_PTR pReserved)
{
    if (pReserved != NULL)
        return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&lock);
    if (!g.initialized) {
        pthread_mutex_unlock(&lock);
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    }
    state_free();
    pthread_mutex_unlock(&lock);
    sn_p11_oidc_reset();
    sn_p11_conn_shutdown();
    return CKR_OK;
}

CK_RV
C_GetInfo(CK_INFO_PTR pInfo)
{
    if (pInfo == NULL)
        return CKR_ARGUMENTS_BAD;
    if (!g.initialized)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    memset(pInfo, 0, sizeof(*pInfo));
    pInfo->cryptokiVersion.major = 2;
    pInfo->cryptokiVersion.minor = 40;
    pad(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), "Signet");
    pad(pInfo->libraryDescription, sizeof(pInfo->libraryDescription),
        "Signet remote signing");
    pInfo->libraryVersion.major = 0;
    pInfo->libraryVersion.minor = 1;
    return CKR_OK;
}

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
    if (ppFunctionList == NULL)
        return CKR_ARGUMENTS_BAD;
    *ppFunctionList = &sn_p11_function_list;
    return CKR_OK;
}

/* ---- slot and token ---- */

CK_RV
C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList,
              CK_ULONG_PTR pulCount)
{
    (void)tokenPresent;
    if (!g.initialized)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (pulCount == NULL)
        return CKR_ARGUMENTS_BAD;
    if (pSlotList == NULL) {
        *pulCount = 1;
        return CKR_OK;
    }
    if (*pulCount < 1) {
        *pulCount = 1;
        return CKR_BUFFER_TOO_SMALL;
    }
    pSlotList[0] = SLOT_ID;
    *pulCount = 1;
    return CKR_OK;
}

CK_RV
C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
    if (!g.initialized)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (slotID != SLOT_ID)
        return CKR_SLOT_ID_INVALID;
    if (pInfo == NULL)
        return CKR_ARGUMENTS_BAD;
    memset(pInfo, 0, sizeof(*pInfo));
    pad(pInfo->slotDescription, sizeof(pInfo->slotDescription),
        "Signet remote signing service");
    pad(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), "Signet");
    pInfo->flags = CKF_TOKEN_PRESENT | CKF_HW_SLOT;
    return CKR_OK;
}

CK_RV
C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
    char serial[17];
    uint8_t h[32];
    const char *url;

    if (!g.initialized)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (slotID != SLOT_ID)
        return CKR_SLOT_ID_INVALID;
    if (pInfo == NULL)
        return CKR_ARGUMENTS_BAD;
    /* The label names the subscriber; without a reachable service, "signet". */
    (void)ensure_loaded();
    pthread_mutex_lock(&lock);
    memset(pInfo, 0, sizeof(*pInfo));
    url = g.conf.conn.url != NULL ? g.conf.conn.url : "";
    EVP_Digest(url, strlen(url), h, NULL, EVP_sha256(), NULL);
    sn_hex_encode(h, 8, serial);
    /* pad() keeps the first 32 characters of the subscriber id. */
    pad(pInfo->label, sizeof(pInfo->label),
        g.subscriber[0] != '\0' ? g.subscriber : "signet");
    pad(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), "Signet");
    pad(pInfo->model, sizeof(pInfo->model), "remote");
    pad(pInfo->serialNumber, sizeof(pInfo->serialNumber), serial);
    /*
     * Always: a tool with a PIN (SunPKCS11's -storepass) logs in only when
     * asked to, and its PIN must win over SIGNET_TOKEN.
     */
    pInfo->flags =
        CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED | CKF_LOGIN_REQUIRED;
    /* Except with a client certificate and no token: the certificate is
     * the credential, and a tool need not ask for a PIN it has not got. */
    if (g.conf.conn.cred != NULL && g.conf.token == NULL)
        pInfo->flags &= ~(CK_FLAGS)CKF_LOGIN_REQUIRED;
    pInfo->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
    pInfo->ulSessionCount = CK_UNAVAILABLE_INFORMATION;
    pInfo->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
    pInfo->ulRwSessionCount = CK_UNAVAILABLE_INFORMATION;
    pInfo->ulMaxPinLen = MAX_PIN_LEN;
    pInfo->ulMinPinLen = 1;
    pInfo->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
    pInfo->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
    pInfo->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
    pInfo->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
    pInfo->hardwareVersion.major = 0;
    pInfo->firmwareVersion.major = 0;
    pInfo->firmwareVersion.minor = 1;
    memset(pInfo->utcTime, ' ', sizeof(pInfo->utcTime));
    pthread_mutex_unlock(&lock);
    return CKR_OK;
}

CK_RV
C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pRserved)
{
    (void)flags;
    (void)pSlot;
    (void)pRserved;
    return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV
C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList,
                   CK_ULONG_PTR pulCount)
{
    size_t i;

    if (!g.initialized)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (slotID != SLOT_ID)
        return CKR_SLOT_ID_INVALID;
    if (pulCount == NULL)
        return CKR_ARGUMENTS_BAD;
    if (pMechanismList == NULL) {
        *pulCount = sn_p11_nmechs;
        return CKR_OK;
    }
    if (*pulCount < sn_p11_nmechs) {
        *pulCount = sn_p11_nmechs;
        return CKR_BUFFER_TOO_SMALL;
    }
    for (i = 0; i < sn_p11_nmechs; i++)
        pMechanismList[i] = sn_p11_mechs[i];
    *pulCount = sn_p11_nmechs;
    return CKR_OK;
}

CK_RV
C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type,
                   CK_MECHANISM_INFO_PTR pInfo)
{
    if (!g.initialized)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (slotID != SLOT_ID)
        return CKR_SLOT_ID_INVALID;
    if (pInfo == NULL)
        return CKR_ARGUMENTS_BAD;
    return sn_p11_mech_info(type, pInfo);
}

CK_RV
C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
            CK_UTF8CHAR_PTR pLabel)
{
    (void)slotID;
    (void)pPin;
    (void)ulPinLen;
    (void)pLabel;
    return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV
C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
    (void)pPin;
    (void)ulPinLen;
    CK_RV rv = check_session(hSession);
    return rv != CKR_OK ? rv : CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV
C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen,
         CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen)
{
    (void)pOldPin;
    (void)ulOldLen;
    (void)pNewPin;
    (void)ulNewLen;
    CK_RV rv = check_session(hSession);
    return rv != CKR_OK ? rv : CKR_FUNCTION_NOT_SUPPORTED;
}

/* ---- sessions ---- */

CK_RV
C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
              CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession)
{
    struct session *s;
    CK_RV rv = CKR_OK;

    (void)pApplication;
    (void)Notify;
    if (phSession == NULL)
        return CKR_ARGUMENTS_BAD;
    if (!(flags & CKF_SERIAL_SESSION))
        return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
    pthread_mutex_lock(&lock);
    if (!g.initialized) {
        rv = CKR_CRYPTOKI_NOT_INITIALIZED;
        goto out;
    }
    if (slotID != SLOT_ID) {
        rv = CKR_SLOT_ID_INVALID;
        goto out;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    s->handle = g.next_session++;
    s->flags = flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION);
    s->next = g.sessions;
    g.sessions = s;
    *phSession = s->handle;
out:
    pthread_mutex_unlock(&lock);
    return rv;
}

/* Unlinks and frees one session (lock held). */
static void
session_close(struct session *s)
{
    struct session **pp;

    for (pp = &g.sessions; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    session_reset(s);
    free(s);
}

/* Closing the last session logs the user out (PKCS#11 5.6). */
static void
last_session_logout(void)
{
    if (g.sessions != NULL || !g.logged_in)
        return;
    sn_secret_free(g.login_token);
    g.login_token = NULL;
    g.logged_in = 0;
    objects_drop();
}

CK_RV
C_CloseSession(CK_SESSION_HANDLE hSession)
{
    struct session *s;
    CK_RV rv = enter_session(hSession, &s);

    if (rv != CKR_OK)
        return rv;
    session_close(s);
    last_session_logout();
    pthread_mutex_unlock(&lock);
    return CKR_OK;
}

CK_RV
C_CloseAllSessions(CK_SLOT_ID slotID)
{
    pthread_mutex_lock(&lock);
    if (!g.initialized) {
        pthread_mutex_unlock(&lock);
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    }
    if (slotID != SLOT_ID) {
        pthread_mutex_unlock(&lock);
        return CKR_SLOT_ID_INVALID;
    }
    while (g.sessions != NULL)
        session_close(g.sessions);
    last_session_logout();
    pthread_mutex_unlock(&lock);
    return CKR_OK;
}

CK_RV
C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo)
{
    struct session *s;
    CK_RV rv;

    if (pInfo == NULL)
        return CKR_ARGUMENTS_BAD;
    if ((rv = enter_session(hSession, &s)) != CKR_OK)
        return rv;
    memset(pInfo, 0, sizeof(*pInfo));
    pInfo->slotID = SLOT_ID;
    pInfo->flags = s->flags;
    if (g.logged_in)
        pInfo->state = (s->flags & CKF_RW_SESSION) ? CKS_RW_USER_FUNCTIONS
                                                   : CKS_RO_USER_FUNCTIONS;
    else
        pInfo->state = (s->flags & CKF_RW_SESSION) ? CKS_RW_PUBLIC_SESSION
                                                   : CKS_RO_PUBLIC_SESSION;
    pthread_mutex_unlock(&lock);
    return CKR_OK;
}

CK_RV
C_GetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                    CK_ULONG_PTR pulOperationStateLen)
{
    (void)pOperationState;
    (void)pulOperationStateLen;
    CK_RV rv = check_session(hSession);
    return rv != CKR_OK ? rv : CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV
C_SetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                    CK_ULONG ulOperationStateLen,
                    CK_OBJECT_HANDLE hEncryptionKey,
                    CK_OBJECT_HANDLE hAuthenticationKey)
{
    (void)pOperationState;
    (void)ulOperationStateLen;
    (void)hEncryptionKey;
    (void)hAuthenticationKey;
    CK_RV rv = check_session(hSession);
    return rv != CKR_OK ? rv : CKR_FUNCTION_NOT_SUPPORTED;
}

/* The PIN is the API token: printable ASCII without spaces. */
static int
pin_ok(const CK_UTF8CHAR *pin, CK_ULONG len)
{
    CK_ULONG i;

    if (pin == NULL || len == 0 || len > MAX_PIN_LEN)
        return 0;
    for (i = 0; i < len; i++)
        if (pin[i] < 0x21 || pin[i] > 0x7e)
            return 0;
    return 1;
}

CK_RV
C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
        CK_ULONG ulPinLen)
{
    char sub[SN_P11_SUBSCRIBER_MAX + 1];
    struct sn_p11_keylist *keys = NULL;
    char *token = NULL;
    struct session *s;
    CK_RV rv;

    if ((rv = enter_session(hSession, &s)) != CKR_OK)
        return rv;
    if (userType != CKU_USER)
        rv = userType == CKU_SO ? CKR_USER_TYPE_INVALID
                                : CKR_OPERATION_NOT_INITIALIZED;
    else if (g.logged_in)
        rv = CKR_USER_ALREADY_LOGGED_IN;
    pthread_mutex_unlock(&lock);
    if (rv != CKR_OK)
        return rv;
    if (!pin_ok(pPin, ulPinLen))
        return CKR_PIN_INCORRECT;
    if ((token = malloc(ulPinLen + 1)) == NULL)
        return CKR_HOST_MEMORY;
    memcpy(token, pPin, ulPinLen);
    token[ulPinLen] = '\0';
    if ((rv = fetch(token, PIN_WHO, sub, &keys)) != CKR_OK)
        goto out;
    pthread_mutex_lock(&lock);
    if (!g.initialized || g.logged_in) {
        rv = g.initialized ? CKR_USER_ALREADY_LOGGED_IN
                           : CKR_CRYPTOKI_NOT_INITIALIZED;
        sn_p11_keylist_free(keys);
    } else {
        objects_drop();
        if ((rv = install(sub, keys)) == CKR_OK) {
            g.login_token = token;
            token = NULL;
            g.logged_in = 1;
        }
    }
    pthread_mutex_unlock(&lock);
out:
    sn_secret_free(token);
    return rv;
}

CK_RV
C_Logout(CK_SESSION_HANDLE hSession)
{
    struct session *s;
    CK_RV rv;

    if ((rv = enter_session(hSession, &s)) != CKR_OK)
        return rv;
    if (!g.logged_in) {
        rv = CKR_USER_NOT_LOGGED_IN;
    } else {
        sn_secret_free(g.login_token);
        g.login_token = NULL;
        g.logged_in = 0;
        objects_drop();
    }
    pthread_mutex_unlock(&lock);
    return rv;
}

/* ---- objects: read-only, and no key material in or out ---- */

CK_RV
C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
               CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phObject)
{
    (void)pTemplate;
    (void)ulCount;
    (void)phObject;
    CK_RV rv = check_session(hSession);
    return rv != CKR_OK ? rv : CKR_ACTION_PROHIBITED;
}

CK_RV
C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
             CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
             CK_OBJECT_HANDLE_PTR phNewObject)
{
    (void)hObject;
    (void)pTemplate;
    (void)ulCount;
    (void)phNewObject;
    CK_RV rv = check_session(hSession);
    return rv != CKR_OK ? rv : CKR_ACTION_PROHIBITED;
}

CK_RV
C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject)
{
    (void)hObject;
    CK_RV rv = check_session(hSession);
    return rv != CKR_OK ? rv : CKR_ACTION_PROHIBITED;
}

CK_RV
C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                CK_ULONG_PTR pulSize)
{
    const struct sn_p11_object *o;
    struct session *s;
    CK_ULONG size = 0;
    size_t i;
    CK_RV rv;

    if (pulSize == NULL)
        return CKR_ARGUMENTS_BAD;
    if ((rv = enter_session(hSession, &s)) != CKR_OK)
        return rv;
    if ((o = sn_p11_objects_find(g.objs, hObject)) == NULL) {
        rv = CKR_OBJECT_HANDLE_INVALID;
    } else {
        for (i = 0; i < o->nattrs; i++)
            size += o->attrs[i].len;
        *pulSize = size;
    }
    pthread_mutex_unlock(&lock);
    return rv;
}

CK_RV
C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    const struct sn_p11_object *o;
    struct session *s;
    CK_RV rv;

    if (pTemplate == NULL && ulCount > 0)
        return CKR_ARGUMENTS_BAD;
    if ((rv = enter_session(hSession, &s)) != CKR_OK)
        return rv;
    if ((o = sn_p11_objects_find(g.objs, hObject)) == NULL)
        rv = CKR_OBJECT_HANDLE_INVALID;
    else
        rv = sn_p11_object_get(o, pTemplate, ulCount);
    pthread_mutex_unlock(&lock);
    return rv;
}

CK_RV
C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    (void)hObject;
    (void)pTemplate;
    (void)ulCount;
    CK_RV rv = check_session(hSession);
    return rv != CKR_OK ? rv : CKR_ACTION_PROHIBITED;
}

CK_RV
C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                  CK_ULONG ulCount)
{
    struct session *s;
    size_t i;
    CK_RV rv;

    if (pTemplate == NULL && ulCount > 0)
        return CKR_ARGUMENTS_BAD;
    if ((rv = check_session(hSession)) != CKR_OK)
        return rv;
    if ((rv = ensure_loaded()) != CKR_OK && rv != CKR_USER_NOT_LOGGED_IN)
        return rv;
    if ((rv = enter_session(hSession, &s)) != CKR_OK)
        return rv;
    if (s->finding) {
        rv = CKR_OPERATION_ACTIVE;
        goto out;
    }
    s->nfound = s->pos = 0;
    if (g.objs != NULL && g.objs->n > 0) {
        if ((s->found = calloc(g.objs->n, sizeof(*s->found))) == NULL) {
            rv = CKR_HOST_MEMORY;
            goto out;
        }
        for (i = 0; i < g.objs->n && i < MAX_FOUND; i++)
            if (sn_p11_object_match(&g.objs->objs[i], pTemplate, ulCount))
                s->found[s->nfound++] = g.objs->objs[i].handle;
    }
    s->finding = 1;
    rv = CKR_OK;
out:
    pthread_mutex_unlock(&lock);
    return rv;
}

CK_RV
C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
              CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount)
{
    struct session *s;
    CK_ULONG n = 0;
    CK_RV rv;

    if (phObject == NULL || pulObjectCount == NULL)
        return CKR_ARGUMENTS_BAD;
    if ((rv = enter_session(hSession, &s)) != CKR_OK)
        return rv;
    if (!s->finding) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
    } else {
        while (n < ulMaxObjectCount && s->pos < s->nfound)
            phObject[n++] = s->found[s->pos++];
        *pulObjectCount = n;
    }
    pthread_mutex_unlock(&lock);
    return rv;
}

CK_RV
C_FindObjectsFinal(CK_SESSION_HANDLE hSession)
{
    struct session *s;
    CK_RV rv;

    if ((rv = enter_session(hSession, &s)) != CKR_OK)
        return rv;
    if (!s->finding) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
    } else {
        free(s->found);
        s->found = NULL;
        s->nfound = s->pos = 0;
        s->finding = 0;
    }
    pthread_mutex_unlock(&lock);
    return rv;
}

/* ---- signing ---- */

CK_RV
C_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
           CK_OBJECT_HANDLE hKey)
{
    const struct sn_p11_object *o;
    struct session *s;
    CK_RV rv;

    if (pMechanism == NULL)
        return CKR_ARGUMENTS_BAD;
    if ((rv = check_session(hSession)) != CKR_OK)
        return rv;
    (void)ensure_loaded();
    if ((rv = enter_session(hSession, &s)) != CKR_OK)
        return rv;
    if (s->op.active)
        rv = CKR_OPERATION_ACTIVE;
    else if ((o = sn_p11_objects_find(g.objs, hKey)) == NULL)
        rv = CKR_KEY_HANDLE_INVALID;
    else if (o->cls != CKO_PRIVATE_KEY || o->key == NULL)
        rv = CKR_KEY_TYPE_INCONSISTENT;
    else
        rv = sn_p11_sign_init(&s->op, pMechanism, o->key);
    pthread_mutex_unlock(&lock);
    return rv;
}

/* Maps the service's refusal of a signature to a CKR code. */
static CK_RV
sign_status(const struct sn_p11_answer *a)
{
    char code[64], msg[256];

    sn_p11_parse_error(a->body, a->len, code, sizeof(code), msg, sizeof(msg));
    dbg("sign: HTTP %ld %s: %s", a->status, code, msg);
    switch (a->status) {
    case 401:
        return CKR_USER_NOT_LOGGED_IN;
    case 403:
    case 409:
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    case 404:
        return CKR_KEY_HANDLE_INVALID;
    case 400:
        return CKR_DATA_INVALID;
    case 413:
        return CKR_DATA_LEN_RANGE;
    default:
        return CKR_DEVICE_ERROR;
    }
}

/* What the unlocked network step needs, copied out of the session. */
struct pending {
    char key_id[SN_P11_KEYID_MAX + 1];
    enum sn_keyalg alg;
    size_t sig_len;
    struct sn_p11_signreq req;
    char *token;
    int oidc; /* token to come from oidc.c */
};

static char *
sign_body(const struct pending *p)
{
    char *b64 = NULL, *text = NULL;
    json_t *j = NULL;

    if (sn_b64_encode(p->req.digest, p->req.dlen, &b64) != SN_OK)
        goto out;
    j = json_pack("{s:s, s:s}", "digest_algorithm", sn_digest_name(p->req.md),
                  "digest", b64);
    if (j == NULL)
        goto out;
    if (p->req.scheme != SN_SCHEME_ECDSA &&
        json_object_set_new(j, "scheme",
                            json_string(sn_scheme_name(p->req.scheme))) != 0)
        goto out;
    text = json_dumps(j, JSON_COMPACT);
out:
    json_decref(j);
    free(b64);
    return text;
}

static void
sleep_s(unsigned s)
{
    struct timespec ts = {(time_t)s, 0};

    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* A settled request that released nothing, said on stderr. */
static CK_RV
request_ended(const struct pending *p, const struct sn_p11_request *sr)
{
    sn_p11_note("key %s: sign request %s was %s%s%s; nothing was signed",
                p->key_id, sr->id, sr->state_name,
                sr->reason[0] != '\0' ? ": " : "", sr->reason);
    return CKR_FUNCTION_FAILED;
}

/*
 * One poll of the request: CKR_OK with *done set once it completed (sig
 * filled), CKR_OK with *done clear while it waits (*retry: when to ask
 * again), or a failure already said.
 */
static CK_RV
poll_request(const struct pending *p, const char *id, uint8_t *sig, int *done,
             unsigned *retry)
{
    struct sn_p11_answer a = {0};
    struct sn_p11_request sr;
    char path[128], code[64], msg[256];
    CK_RV rv = CKR_FUNCTION_FAILED;
    sn_err r;

    *done = 0;
    snprintf(path, sizeof(path), "/v1/sign-requests/%s", id);
    r = sn_p11_conn_request(&g.conf.conn, p->token, "GET", path, NULL, &a);
    if (r != SN_OK) {
        sn_p11_note("sign request %s: the service cannot be reached (%s); "
                    "C_Sign gives up waiting",
                    id, a.detail);
        goto out;
    }
    if (a.status != 200) {
        sn_p11_parse_error(a.body, a.len, code, sizeof(code), msg, sizeof(msg));
        sn_p11_note("sign request %s: the service answered HTTP %ld %s (%s); "
                    "C_Sign gives up waiting",
                    id, a.status, code, msg);
        goto out;
    }
    *retry = a.retry_after;
    if (sn_p11_parse_request(a.body, a.len, &sr) != SN_OK ||
        strcmp(sr.id, id) != 0) {
        dbg("sign request %s: malformed answer", id);
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    if (sr.state == SN_P11_SR_PENDING || sr.state == SN_P11_SR_APPROVED) {
        rv = CKR_OK;
        goto out;
    }
    if (sr.state != SN_P11_SR_COMPLETED) {
        rv = request_ended(p, &sr);
        goto out;
    }
    if (sn_p11_parse_signature(a.body, a.len, p->alg, p->sig_len, sig) !=
        SN_OK) {
        dbg("sign request %s: malformed signature", id);
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    *done = 1;
    rv = CKR_OK;
out:
    sn_p11_answer_cleanup(&a);
    return rv;
}

/*
 * issue 17: the key's policy requires approvals and the service opened a
 * sign request (202). C_Sign waits for it, polling, up to approval_wait
 * seconds: its signature once approvers release it; otherwise
 * CKR_FUNCTION_FAILED, and stderr says which request and why (the
 * application shows only the CK_RV).
 */
static CK_RV
await_approval(const struct pending *p, const struct sn_p11_answer *first,
               uint8_t *sig)
{
    unsigned wait = g.conf.approval_wait, retry = first->retry_after, left;
    struct sn_p11_request sr;
    time_t deadline;
    CK_RV rv;
    int done = 0;

    if (sn_p11_parse_request(first->body, first->len, &sr) != SN_OK) {
        dbg("sign: malformed 202 answer");
        return CKR_DEVICE_ERROR;
    }
    if (wait == 0) {
        sn_p11_note("key %s: signing needs approval: sign request %s awaits "
                    "its approvers, and approval_wait is 0 (signet request "
                    "show %s)",
                    p->key_id, sr.id, sr.id);
        return CKR_FUNCTION_FAILED;
    }
    sn_p11_note("key %s: signing needs approval: sign request %s opened; "
                "waiting up to %u s (approval_wait)",
                p->key_id, sr.id, wait);
    deadline = time(NULL) + (time_t)wait;
    while (!done) {
        retry = retry < POLL_MIN   ? POLL_MIN
                : retry > POLL_MAX ? POLL_MAX
                                   : retry;
        if (time(NULL) >= deadline) {
            sn_p11_note("key %s: sign request %s still awaits approval after "
                        "%u s (approval_wait): C_Sign fails",
                        p->key_id, sr.id, wait);
            return CKR_FUNCTION_FAILED;
        }
        left = (unsigned)(deadline - time(NULL));
        sleep_s(retry < left ? retry : left);
        if ((rv = poll_request(p, sr.id, sig, &done, &retry)) != CKR_OK)
            return rv;
    }
    return CKR_OK;
}

/* POST /v1/keys/{id}/sign; sig receives p->sig_len bytes. */
static CK_RV
remote_sign(const struct pending *p, uint8_t *sig)
{
    struct sn_p11_answer a = {0};
    char path[128], *body = NULL;
    CK_RV rv = CKR_HOST_MEMORY;
    sn_err r;

    snprintf(path, sizeof(path), "/v1/keys/%s/sign", p->key_id);
    if ((body = sign_body(p)) == NULL)
        goto out;
    r = sn_p11_conn_request(&g.conf.conn, p->token, "POST", path, body, &a);
    if (r != SN_OK) {
        dbg("sign: cannot reach the service: %s (%s)", sn_err_str(r), a.detail);
        if (r == SN_ERR_IO)
            sn_p11_say_net(&g.conf, &a);
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    if (a.status == 202) {
        rv = await_approval(p, &a, sig);
        goto out;
    }
    if (a.status != 200) {
        rv = sign_status(&a);
        goto out;
    }
    if (sn_p11_parse_signature(a.body, a.len, p->alg, p->sig_len, sig) !=
        SN_OK) {
        dbg("sign: malformed answer");
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    rv = CKR_OK;
out:
    free(body);
    sn_p11_answer_cleanup(&a);
    return rv;
}

/*
 * The shared end of C_Sign and C_SignFinal (lock held on entry, released
 * on return). final: data is ignored and the updates are used.
 */
static CK_RV
sign_finish(struct session *s, int final, const uint8_t *data, size_t len,
            CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
    uint8_t sig[SN_P11_MAX_SIG];
    const char *who;
    struct pending p;
    CK_RV rv;

    memset(&p, 0, sizeof(p));
    if (!s->op.active) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
        goto unlock;
    }
    if (pSignature == NULL || *pulSignatureLen < s->op.sig_len) {
        /* A length query or a short buffer keeps the operation. */
        rv = pSignature == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
        *pulSignatureLen = s->op.sig_len;
        goto unlock;
    }
    rv = sn_p11_sign_digest(&s->op, final ? NULL : data, len, &p.req);
    memcpy(p.key_id, s->op.key_id, sizeof(p.key_id));
    p.alg = s->op.alg;
    p.sig_len = s->op.sig_len;
    sn_p11_sign_cleanup(&s->op);
    if (rv == CKR_OK)
        rv = token_copy(&p.token, &who, &p.oidc);
    pthread_mutex_unlock(&lock);
    if (rv == CKR_OK && p.oidc)
        rv = oidc_token(&p.token);
    if (rv == CKR_OK && (rv = remote_sign(&p, sig)) == CKR_OK) {
        memcpy(pSignature, sig, p.sig_len);
        *pulSignatureLen = p.sig_len;
    }
    sn_secret_free(p.token);
    OPENSSL_cleanse(&p, sizeof(p));
    return rv;
unlock:
    pthread_mutex_unlock(&lock);
    return rv;
}

CK_RV
C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
       CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
    struct session *s;
    CK_RV rv;

    if ((pData == NULL && ulDataLen > 0) || pulSignatureLen == NULL)
        return CKR_ARGUMENTS_BAD;
    if ((rv = enter_session(hSession, &s)) != CKR_OK)
        return rv;
    if (s->op.active && s->op.multi) {
        pthread_mutex_unlock(&lock);
        return CKR_OPERATION_ACTIVE;
    }
    return sign_finish(s, 0, pData != NULL ? pData : (const uint8_t *)"",
                       ulDataLen, pSignature, pulSignatureLen);
}

CK_RV
C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
    struct session *s;
    CK_RV rv;

    if (pPart == NULL && ulPartLen > 0)
        return CKR_ARGUMENTS_BAD;
    if ((rv = enter_session(hSession, &s)) != CKR_OK)
        return rv;
    if (!s->op.active)
        rv = CKR_OPERATION_NOT_INITIALIZED;
    else if ((rv = sn_p11_sign_update(&s->op, pPart, ulPartLen)) != CKR_OK)
        sn_p11_sign_cleanup(&s->op);
    pthread_mutex_unlock(&lock);
    return rv;
}

CK_RV
C_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
            CK_ULONG_PTR pulSignatureLen)
{
    struct session *s;
    CK_RV rv;

    if (pulSignatureLen == NULL)
        return CKR_ARGUMENTS_BAD;
    if ((rv = enter_session(hSession, &s)) != CKR_OK)
        return rv;
    return sign_finish(s, 1, NULL, 0, pSignature, pulSignatureLen);
}
