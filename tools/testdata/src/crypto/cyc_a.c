/* checksrc sample: a module cycle, with cyc_b.c. */
#include "crypto/cyc_b.h"
