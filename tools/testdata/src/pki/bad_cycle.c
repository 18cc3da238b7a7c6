/* checksrc sample: pki -> store and store -> pki close a room cycle. */
#include "store/store.h"
