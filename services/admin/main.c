/*
 * siplb-admin: HTTP/JSON admin API, Prometheus metrics and a health
 * endpoint for the siplb suite.  Never daemonizes; logs `ready` once bound.
 * Exit codes: 0, 1 runtime, 64 usage, 78 configuration (including a
 * missing or empty token file).
 */
#define SLB_LOG_MODULE "main"
#include "admin.h"
#include "bus.h"
#include "cfg.h"
#include "log.h"

int
main(int argc, char **argv)
{
	static struct adm a;
	struct slb_opts opts;
	int rc, err;

	rc = slb_opts_parse(&opts, argc, argv, "siplb-admin", "");
	if (rc != 0)
		return rc < 0 ? SLB_EXIT_USAGE : 0;
	slb_log_init("siplb-admin");
	if (adm_cfg_load(&a, opts.cfg_path) != 0)
		return SLB_EXIT_CONFIG;
	if (opts.debug)
		slb_log_configure(
		    "debug", a.cfg.log_facility, a.cfg.log_syslog);
	if (opts.check_only)
		return slb_cfg_report_ok(opts.cfg_path);
	err = adm_init(&a);
	if (err == SLB_EXIT_CONFIG) {
		adm_close(&a);
		return SLB_EXIT_CONFIG;
	}
	if (!err)
		err = slb_loop_run(a.base);
	adm_close(&a);
	return err ? SLB_EXIT_FAIL : 0;
}
