#define SLB_LOG_MODULE "main"
#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "log.h"
#include "svc.h"

int
main(int argc, char **argv)
{
	struct sched_svc s;
	struct slb_opts opts;
	int rc, err;

	memset(&s, 0, sizeof(s));
	rc = slb_opts_parse(&opts, argc, argv, "siplb-scheduler", "");
	if (rc != 0)
		return rc < 0 ? SLB_EXIT_USAGE : 0;
	slb_log_init("siplb-scheduler");
	if (sched_cfg_load(&s.cfg, opts.cfg_path) != 0)
		return SLB_EXIT_CONFIG;
	s.cfg_path = opts.cfg_path;
	if (opts.debug)
		slb_log_configure(
		    "debug", s.cfg.log_facility, s.cfg.log_syslog);
	if (opts.check_only)
		return slb_cfg_report_ok(opts.cfg_path);
	err = sched_svc_init(&s);
	if (!err)
		err = slb_loop_run(s.base);
	sched_svc_close(&s);
	return err ? SLB_EXIT_FAIL : 0;
}
