#define SLB_LOG_MODULE "main"
#include <malloc.h>
#include <string.h>

#include "cfg.h"
#include "edge.h"
#include "log.h"

int
main(int argc, char **argv)
{
	static struct edge e;
	struct slb_opts opts;
	int rc, err;

	/* glibc consolidates its fastbins on every allocation of 1 KiB or
	 * more, which a SIP message is: measured as the edge's top cost.
	 * Without fastbins the per-thread cache serves small blocks. */
	mallopt(M_MXFAST, 0);
	rc = slb_opts_parse(&opts, argc, argv, "siplb-edge", "");
	if (rc != 0)
		return rc < 0 ? SLB_EXIT_USAGE : 0;
	slb_log_init("siplb-edge");
	if (edge_cfg_load(&e.cfg, opts.cfg_path) != 0)
		return SLB_EXIT_CONFIG;
	if (opts.debug)
		slb_log_configure(
		    "debug", e.cfg.log_facility, e.cfg.log_syslog);
	if (opts.check_only)
		return slb_cfg_report_ok(opts.cfg_path);
	err = edge_init(&e);
	if (!err)
		err = slb_loop_run(e.base);
	edge_close(&e);
	return err ? SLB_EXIT_FAIL : 0;
}
