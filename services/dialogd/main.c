#define SLB_LOG_MODULE "main"
#include <string.h>

#include "cfg.h"
#include "dialogd.h"
#include "log.h"

int
main(int argc, char **argv)
{
	static struct dlgd d;
	struct slb_opts opts;
	int rc, err;

	rc = slb_opts_parse(&opts, argc, argv, "siplb-dialogd", "");
	if (rc != 0)
		return rc < 0 ? SLB_EXIT_USAGE : 0;
	slb_log_init("siplb-dialogd");
	if (dlgd_cfg_load(&d.cfg, opts.cfg_path) != 0)
		return SLB_EXIT_CONFIG;
	if (opts.debug)
		slb_log_configure(
		    "debug", d.cfg.log_facility, d.cfg.log_syslog);
	if (opts.check_only)
		return slb_cfg_report_ok(opts.cfg_path);
	err = dlgd_init(&d); /* store, loop, bus */
	if (!err)
		err = slb_loop_run(d.base); /* until SIGTERM/SIGINT */
	dlgd_close(&d); /* writes what is queued */
	return err ? SLB_EXIT_FAIL : 0;
}
