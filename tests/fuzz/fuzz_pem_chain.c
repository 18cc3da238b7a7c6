/*
 * libFuzzer driver: PEM certificate chains as PUT by clients, and the
 * "/CN=../O=.." subject syntax of the CLI.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/x509util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    STACK_OF(X509) *chain = NULL;
    X509_NAME *name = NULL;
    char *s, *pem = NULL;

    if (sn_chain_from_pem((const char *)data, size, &chain) == SN_OK) {
        if (sn_chain_to_pem(chain, &pem) == SN_OK)
            free(pem);
        sk_X509_pop_free(chain, X509_free);
    }
    if ((s = malloc(size + 1)) == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (sn_name_from_slash(s, &name) == SN_OK)
        X509_NAME_free(name);
    free(s);
    return 0;
}
