/* checksrc sample: only hsm sees PKCS#11; only daemon includes app.h. */
#include <p11-kit/pkcs11.h>
#include "daemon/app.h"
