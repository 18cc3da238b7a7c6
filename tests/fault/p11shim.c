/*
 * p11shim: a PKCS#11 module for fault-injection tests only. It forwards
 * every call to a real module (SIGNET_P11SHIM_MODULE, default SoftHSM2)
 * and, as SIGNET_P11SHIM_FAULTS lists, lies or fails in chosen places:
 *   not_local          C_GetAttributeValue reports CKA_LOCAL = false
 *   extractable        ... reports CKA_EXTRACTABLE = true
 *   sign_error         C_Sign fails with CKR_DEVICE_ERROR
 *   stale_handle_once  the first C_SignInit fails with
 *                      CKR_OBJECT_HANDLE_INVALID (a stale cached handle)
 *   sign_hang          C_Sign takes 60 s (a stuck HSM)
 * It never replaces the real module outside tests. The faults are the
 * subscribers' keys': the service's Ed25519 transparency-log key (issue
 * 18; CKK_EC_EDWARDS, CKM_EDDSA) is left alone, so that signetd starts
 * and its checkpoints go on while a subscriber's key misbehaves.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list);

static CK_FUNCTION_LIST real, shim;
static int f_not_local, f_extractable, f_sign_error, f_stale_once, f_hang;
/* Sessions whose operation is an EdDSA signature (the log key's), by
 * handle modulo the table's size: a test shim's approximation. */
static unsigned char eddsa_session[4096];

static int
is_log_key(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o)
{
    CK_KEY_TYPE kt = 0;
    CK_ATTRIBUTE a = {CKA_KEY_TYPE, &kt, sizeof(kt)};

    return real.C_GetAttributeValue(s, o, &a, 1) == CKR_OK &&
           kt == CKK_EC_EDWARDS;
}

static int
fault(const char *name)
{
    const char *f = getenv("SIGNET_P11SHIM_FAULTS");
    size_t n = strlen(name);

    while (f != NULL && *f != '\0') {
        if (strncmp(f, name, n) == 0 && (f[n] == ',' || f[n] == '\0'))
            return 1;
        f = strchr(f, ',');
        if (f != NULL)
            f++;
    }
    return 0;
}

static CK_RV
shim_get_attr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t,
              CK_ULONG n)
{
    CK_RV rv = real.C_GetAttributeValue(s, o, t, n);
    CK_ULONG i;

    if (rv != CKR_OK || is_log_key(s, o))
        return rv;
    for (i = 0; i < n; i++) {
        if (t[i].pValue == NULL || t[i].ulValueLen != sizeof(CK_BBOOL))
            continue;
        if (f_not_local && t[i].type == CKA_LOCAL)
            *(CK_BBOOL *)t[i].pValue = CK_FALSE;
        if (f_extractable && t[i].type == CKA_EXTRACTABLE)
            *(CK_BBOOL *)t[i].pValue = CK_TRUE;
    }
    return rv;
}

static CK_RV
shim_sign_init(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
    eddsa_session[s % sizeof(eddsa_session)] = m->mechanism == CKM_EDDSA;
    if (m->mechanism != CKM_EDDSA &&
        __atomic_exchange_n(&f_stale_once, 0, __ATOMIC_SEQ_CST))
        return CKR_OBJECT_HANDLE_INVALID;
    return real.C_SignInit(s, m, k);
}

static CK_RV
shim_sign(CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG dl, CK_BYTE_PTR sig,
          CK_ULONG_PTR sl)
{
    if (eddsa_session[s % sizeof(eddsa_session)])
        return real.C_Sign(s, d, dl, sig, sl);
    if (f_sign_error) {
        /* End the operation in the real module, then fail. */
        CK_BYTE buf[1024];
        CK_ULONG len = sizeof(buf);
        real.C_Sign(s, d, dl, buf, &len);
        return CKR_DEVICE_ERROR;
    }
    if (f_hang)
        sleep(60);
    return real.C_Sign(s, d, dl, sig, sl);
}

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    const char *path = getenv("SIGNET_P11SHIM_MODULE");
    CK_C_GetFunctionList get;
    CK_FUNCTION_LIST_PTR fl;
    void *dl;

    if (path == NULL)
        path = "/usr/lib/softhsm/libsofthsm2.so";
    if ((dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL)
        return CKR_GENERAL_ERROR;
    *(void **)(&get) = dlsym(dl, "C_GetFunctionList");
    if (get == NULL || get(&fl) != CKR_OK)
        return CKR_GENERAL_ERROR;
    real = *fl;
    shim = *fl;
    f_not_local = fault("not_local");
    f_extractable = fault("extractable");
    f_sign_error = fault("sign_error");
    f_stale_once = fault("stale_handle_once");
    f_hang = fault("sign_hang");
    shim.C_GetAttributeValue = shim_get_attr;
    shim.C_SignInit = shim_sign_init;
    shim.C_Sign = shim_sign;
    *list = &shim;
    return CKR_OK;
}
