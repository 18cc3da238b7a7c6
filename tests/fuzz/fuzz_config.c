/*
 * libFuzzer driver: signetd.conf parsing. The input is written to a
 * temporary file and loaded with a fixed home.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/signet-fuzz-conf-XXXXXX";
    struct sn_config cfg;
    char err[256];
    int fd;

    if ((fd = mkstemp(path)) < 0)
        return 0;
    if (write(fd, data, size) == (ssize_t)size &&
        sn_config_load(path, "/tmp", &cfg, err, sizeof(err)) == SN_OK)
        sn_config_cleanup(&cfg);
    close(fd);
    unlink(path);
    return 0;
}
