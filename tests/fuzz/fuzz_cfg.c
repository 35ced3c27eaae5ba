/*
 * libFuzzer target: the config parser, as every service runs it on
 * siplb.conf.  The input is written to a memory file and loaded through
 * the edge's full key table (every [general] and [edge] key, rules,
 * addresses) and through the bare INI reader, so both the line syntax
 * and the value parsers see it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cfg.h"
#include "edge.h"
#include "log.h"

static int memfd = -1;
static char path[64];

static int
count_kv(void *user, int line, const char *section, const char *key,
    const char *value, char *err, size_t errlen)
{
	(void)line;
	(void)section;
	(void)key;
	(void)value;
	(void)err;
	(void)errlen;
	++*(unsigned *)user;
	return 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	slb_log_init("fuzz-cfg");
	slb_log_configure("crit", "local0", 0);
	memfd = memfd_create("siplb-fuzz.conf", 0);
	if (memfd < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct edge_cfg c;
	char err[256];
	unsigned n = 0;

	if (size > 1 << 16)
		return 0;
	if (ftruncate(memfd, 0) != 0 ||
	    pwrite(memfd, data, size, 0) != (ssize_t)size)
		abort();
	(void)slb_ini_parse(path, count_kv, &n, err, sizeof(err));
	(void)edge_cfg_load(&c, path);
	return 0;
}
