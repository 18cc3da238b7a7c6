/* checksrc sample: only http includes microhttpd.h. */
#include <microhttpd.h>
