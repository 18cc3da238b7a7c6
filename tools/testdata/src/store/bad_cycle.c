/* checksrc sample: store may not include pki (and that closes a cycle). */
#include "pki/ca.h"
