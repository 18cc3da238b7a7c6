/*
 * err: Signet's one error enum. Every module returns an sn_err; foreign
 * error spaces (CK_RV, OpenSSL's queue, SQLite codes) are translated into it
 * at their boundary. HTTP statuses are chosen from it only in the router.
 */
#ifndef SN_ERR_H
#define SN_ERR_H

#define SN_ERRORS(X)                                                           \
    X(SN_OK, "ok")                                                             \
    X(SN_ERR_INTERNAL, "internal error")                                       \
    X(SN_ERR_NOMEM, "out of memory")                                           \
    X(SN_ERR_INVALID, "invalid input")                                         \
    X(SN_ERR_NOT_FOUND, "not found")                                           \
    X(SN_ERR_EXISTS, "already exists")                                         \
    X(SN_ERR_LIMIT, "size limit exceeded")                                     \
    X(SN_ERR_STATE, "operation not allowed in this state")                     \
    X(SN_ERR_IO, "input/output error")                                         \
    X(SN_ERR_CRYPTO, "cryptographic operation failed")                         \
    X(SN_ERR_HSM, "HSM operation failed")                                      \
    X(SN_ERR_HSM_PROTECTION, "key protection attributes not acceptable")       \
    X(SN_ERR_DB, "database operation failed")                                  \
    X(SN_ERR_CONFIG, "configuration error")                                    \
    X(SN_ERR_MISMATCH, "public key mismatch")

typedef enum {
#define SN_ERR_ENUM(name, text) name,
    SN_ERRORS(SN_ERR_ENUM)
#undef SN_ERR_ENUM
} sn_err;

const char *sn_err_str(sn_err e);

#endif
