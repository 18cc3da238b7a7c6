/* checksrc sample: common may include only common. */
#include "common/err.h"
#include "crypto/x509util.h"
