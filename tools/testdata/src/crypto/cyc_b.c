/* checksrc sample: a module cycle, with cyc_a.c. */
#include "crypto/cyc_a.h"
