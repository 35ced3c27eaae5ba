#define SLB_LOG_MODULE "main"
#include <string.h>

#include "cfg.h"
#include "log.h"
#include "prober.h"

/* Take "--shard i/n" (or "--shard=i/n") out of argv, before getopt sees
 * it; returns the value, NULL when absent, or "" when it lacks one. */
static const char *
take_shard(int *argcp, char **argv)
{
	const char *v = NULL;
	int j = 1;

	for (int i = 1; i < *argcp; i++) {
		if (strcmp(argv[i], "--shard") == 0) {
			v = i + 1 < *argcp ? argv[++i] : "";
			continue;
		}
		if (strncmp(argv[i], "--shard=", 8) == 0) {
			v = argv[i] + 8;
			continue;
		}
		argv[j++] = argv[i];
	}
	argv[j] = NULL;
	*argcp = j;
	return v;
}

int
main(int argc, char **argv)
{
	static struct prb p;
	struct slb_opts opts;
	const char *shard;
	int rc, err;

	shard = take_shard(&argc, argv);
	rc =
	    slb_opts_parse(&opts, argc, argv, "siplb-prober", "[--shard i/n]");
	if (rc != 0)
		return rc < 0 ? SLB_EXIT_USAGE : 0;
	slb_log_init("siplb-prober");
	if (shard != NULL && *shard == '\0') {
		slb_log_err("--shard needs a value i/n");
		return SLB_EXIT_USAGE;
	}
	if (prb_cfg_load(&p.cfg, opts.cfg_path) != 0)
		return SLB_EXIT_CONFIG;
	if (shard != NULL && prb_cfg_set_shard(&p.cfg, shard) != 0)
		return SLB_EXIT_USAGE;
	if (opts.debug)
		slb_log_configure(
		    "debug", p.cfg.log_facility, p.cfg.log_syslog);
	if (opts.check_only)
		return slb_cfg_report_ok(opts.cfg_path);
	err = prb_init(&p);
	if (!err)
		err = slb_loop_run(p.base);
	prb_close(&p);
	return err ? SLB_EXIT_FAIL : 0;
}
