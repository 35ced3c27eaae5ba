#ifndef SIPLB_COMMON_LOG_H
#define SIPLB_COMMON_LOG_H

#include <syslog.h>

/*
 * Logging: one line per event, `siplb-edge[123]: module: what: why`, to
 * stderr or to syslog (facility LOCAL0 by default, like the OpenSIPS setup
 * siplb replaces).  Each .c file defines SLB_LOG_MODULE before including.
 */

#ifndef SLB_LOG_MODULE
#define SLB_LOG_MODULE "main"
#endif

/* Set the program name; logging goes to stderr at level info until
 * slb_log_configure() says otherwise. */
void slb_log_init(const char *ident);

/* Apply [general] log_level ("err".."debug"), log_facility ("local0".."local7",
 * "daemon", "user") and log_syslog; returns 0 or EINVAL. */
int slb_log_configure(const char *level, const char *facility, int use_syslog);

/* Parse a level or facility name; -1 when unknown. */
int slb_log_level_parse(const char *s);
int slb_log_facility_parse(const char *s);

/* Current threshold, for callers that want to skip building debug text. */
int slb_log_level(void);

void slb_log(int prio, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* As slb_log, then ": <strerror(err)>". */
void slb_log_e(int prio, const char *module, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define slb_log_err(...) slb_log(LOG_ERR, SLB_LOG_MODULE, __VA_ARGS__)
#define slb_log_warn(...) slb_log(LOG_WARNING, SLB_LOG_MODULE, __VA_ARGS__)
#define slb_log_notice(...) slb_log(LOG_NOTICE, SLB_LOG_MODULE, __VA_ARGS__)
#define slb_log_info(...) slb_log(LOG_INFO, SLB_LOG_MODULE, __VA_ARGS__)
#define slb_log_debug(...) \
	do { \
		if (slb_log_level() >= LOG_DEBUG) \
			slb_log(LOG_DEBUG, SLB_LOG_MODULE, __VA_ARGS__); \
	} while (0)
#define slb_log_err_errno(e, ...) \
	slb_log_e(LOG_ERR, SLB_LOG_MODULE, e, __VA_ARGS__)
#define slb_log_warn_errno(e, ...) \
	slb_log_e(LOG_WARNING, SLB_LOG_MODULE, e, __VA_ARGS__)

#endif
