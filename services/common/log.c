#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *log_ident = "siplb";
static int log_threshold = LOG_INFO;
static int log_to_syslog;

static const struct {
	const char *name;
	int value;
} levels[] = {
    {"err", LOG_ERR},	    {"error", LOG_ERR},	  {"warn", LOG_WARNING},
    {"warning", LOG_WARNING}, {"notice", LOG_NOTICE}, {"info", LOG_INFO},
    {"debug", LOG_DEBUG},   {"crit", LOG_CRIT},
}, facilities[] = {
    {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
    {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
    {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}, {"daemon", LOG_DAEMON},
    {"user", LOG_USER},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

void
slb_log_init(const char *ident)
{
	log_ident = ident;
}

int
slb_log_level_parse(const char *s)
{
	for (size_t i = 0; i < NELEM(levels); i++)
		if (strcasecmp(s, levels[i].name) == 0)
			return levels[i].value;
	return -1;
}

int
slb_log_facility_parse(const char *s)
{
	for (size_t i = 0; i < NELEM(facilities); i++)
		if (strcasecmp(s, facilities[i].name) == 0)
			return facilities[i].value;
	return -1;
}

int
slb_log_configure(const char *level, const char *facility, int use_syslog)
{
	int lvl = slb_log_level_parse(level);
	int fac = slb_log_facility_parse(facility);

	if (lvl < 0 || fac < 0)
		return EINVAL;
	log_threshold = lvl;
	if (use_syslog && !log_to_syslog)
		openlog(log_ident, LOG_PID | LOG_NDELAY, fac);
	log_to_syslog = use_syslog;
	return 0;
}

int
slb_log_level(void)
{
	return log_threshold;
}

static void
log_v(int prio, const char *module, int err, const char *fmt, va_list ap)
{
	char buf[1024];
	int n;

	if (prio > log_threshold)
		return;
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n < 0)
		return;
	if (err && (size_t)n < sizeof(buf))
		snprintf(
		    buf + n, sizeof(buf) - (size_t)n, ": %s", strerror(err));
	if (log_to_syslog)
		syslog(prio, "%s: %s", module, buf);
	else
		fprintf(stderr, "%s[%d]: %s: %s\n", log_ident, (int)getpid(),
		    module, buf);
}

void
slb_log(int prio, const char *module, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(prio, module, 0, fmt, ap);
	va_end(ap);
}

void
slb_log_e(int prio, const char *module, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(prio, module, err, fmt, ap);
	va_end(ap);
}
