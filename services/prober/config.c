/*
 * siplb-prober's configuration: [general] and [prober] of the file, the
 * --shard of the command line, and what is derived from them (reply
 * codes, mode, shard, the From header).  Values are checked here, once,
 * so that the rest of the prober can trust struct prb_cfg.
 */
#define SLB_LOG_MODULE "prober"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "prober.h"

#define OFF(f) offsetof(struct prb_cfg, f)

static const struct slb_cfg_key keys[] = {
	SLB_CFG_GENERAL_KEYS(struct prb_cfg),
	{ "prober", "pub", SLB_CFG_ADDR, 0, 0, SLB_ADDR_PROBER_PUB, OFF(pub),
	    "health events (NodeHealth, HealthSnapshot)" },
	{ "prober", "rep", SLB_CFG_ADDR, 0, 0, SLB_ADDR_PROBER_REP, OFF(rep),
	    "health snapshots for subscribers that (re)start" },
	{ "prober", "scheduler_pub", SLB_CFG_ADDR, 0, 0,
	    SLB_ADDR_SCHEDULER_PUB, OFF(scheduler_pub),
	    "scheduler node-table PUB" },
	{ "prober", "scheduler_rep", SLB_CFG_ADDR, 0, 0,
	    SLB_ADDR_SCHEDULER_REP, OFF(scheduler_rep),
	    "scheduler REP, for node-table snapshots" },
	{ "prober", "listen", SLB_CFG_STR, 0, 0, "udp:127.0.0.1:0",
	    OFF(listen),
	    "UDP socket the probes leave from: udp:ADDR:PORT (port 0: any)" },
	{ "prober", "interval", SLB_CFG_INT, 100, 3600000, "5000",
	    OFF(interval_ms),
	    "ms between probes of a node (ds_ping_interval)" },
	{ "prober", "timeout", SLB_CFG_INT, 10, 60000, "1000", OFF(timeout_ms),
	    "ms to wait for a reply; less than interval" },
	{ "prober", "threshold_down", SLB_CFG_INT, 1, 1000, "2",
	    OFF(threshold_down),
	    "consecutive failed probes that mark a node down "
	    "(ds_probing_threshold)" },
	{ "prober", "threshold_up", SLB_CFG_INT, 1, 1000, "1",
	    OFF(threshold_up),
	    "consecutive answered probes that mark a node up again" },
	{ "prober", "reply_codes", SLB_CFG_STR, 0, 0, "200", OFF(reply_codes),
	    "codes that count as an answer: 200, 404, 2xx ... (100..699; "
	    "ds_ping_reply_codes)" },
	{ "prober", "from", SLB_CFG_STR, 0, 0, "", OFF(from),
	    "From URI of the probes; empty: sip:siplb-prober@HOSTNAME" },
	{ "prober", "mode", SLB_CFG_STR, 0, 0, "all", OFF(mode_s),
	    "all: by each node's probe_mode; down-only: only nodes that are down" },
	{ "prober", "shard", SLB_CFG_STR, 0, 0, "1/1", OFF(shard_s),
	    "i/n: probe the nodes with id % n == i - 1 (--shard wins)" },
	{ "prober", "esl_password", SLB_CFG_STR, 0, 0, "ClueCon",
	    OFF(esl_password),
	    "event-socket password of nodes whose attrs give esl= but no "
	    "esl_password" },
	{ "prober", "esl_interval", SLB_CFG_INT, 1000, 3600000, "20000",
	    OFF(esl_interval_ms),
	    "ms between a node's HEARTBEATs: its event-heartbeat-interval "
	    "(attrs esl_interval=S win); figures two intervals old are stale" },
	{ "prober", "esl_retry_max", SLB_CFG_INT, 1000, 600000, "30000",
	    OFF(esl_retry_max_ms),
	    "ms at most between attempts to link a node's event socket again" },
	{ NULL, NULL, 0, 0, 0, NULL, 0, NULL },
};

/* ------------------------------------------------------------ config */

int
prb_codes_parse(const char *s, uint8_t codes[700], char *err, size_t errlen)
{
	char tok[32][SLB_CFG_STRLEN];
	int n = slb_cfg_split(s, ',', tok, 32);

	memset(codes, 0, 700);
	if (n <= 0) {
		snprintf(err, errlen,
		    "must list codes 100..699, such as "
		    "\"200, 404\" or \"2xx\"");
		return EINVAL;
	}
	for (int i = 0; i < n; i++) {
		const char *t = tok[i];
		long v;

		if (strlen(t) == 3 && t[0] >= '1' && t[0] <= '6' &&
		    (t[1] == 'x' || t[1] == 'X') &&
		    (t[2] == 'x' || t[2] == 'X')) {
			int c0 = (t[0] - '0') * 100;

			memset(codes + c0, 1, 100);
			continue;
		}
		if (slb_parse_long(t, 100, 699, &v) != 0) {
			snprintf(err, errlen,
			    "\"%s\": must be a code 100..699 "
			    "or a class such as 2xx",
			    t);
			return EINVAL;
		}
		codes[v] = 1;
	}
	return 0;
}

static int
shard_parse(const char *s, unsigned *ip, unsigned *np)
{
	unsigned i, n;
	char extra;

	if (sscanf(s, "%u/%u%c", &i, &n, &extra) != 2 || n < 1 || n > 1000 ||
	    i < 1 || i > n)
		return EINVAL;
	*ip = i;
	*np = n;
	return 0;
}

int
prb_cfg_set_shard(struct prb_cfg *c, const char *s)
{
	if (shard_parse(s, &c->shard_i, &c->shard_n) != 0) {
		slb_log_err(
		    "--shard %s: must be i/n with 1 <= i <= n <= 1000", s);
		return EINVAL;
	}
	snprintf(c->shard_s, sizeof(c->shard_s), "%s", s);
	return 0;
}

static int
from_check(struct prb_cfg *c, const char *host)
{
	const char *f = c->from;

	if (*f == '\0') {
		snprintf(c->from_hdr, sizeof(c->from_hdr),
		    "<sip:siplb-prober@%.200s>", host);
		return 0;
	}
	if (strchr(f, '<') != NULL) {
		/* a whole name-addr: "Prober" <sip:x@y> */
		if (strchr(f, '>') == NULL || strstr(f, "sip") == NULL)
			return EINVAL;
		snprintf(c->from_hdr, sizeof(c->from_hdr), "%s", f);
		return 0;
	}
	if (strncasecmp(f, "sip:", 4) != 0 && strncasecmp(f, "sips:", 5) != 0)
		return EINVAL;
	for (const char *q = f; *q; q++)
		if (isspace((unsigned char)*q) || *q == ';' || *q == '>')
			return EINVAL;
	snprintf(c->from_hdr, sizeof(c->from_hdr), "<%s>", f);
	return 0;
}

/* "udp:ADDR:PORT", ADDR an IPv4 or [IPv6] literal. */
int
prb_listen_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *h, *colon;
	size_t hl;
	long port;
	struct addrinfo hints = { 0 }, *ai = NULL;

	if (strncasecmp(s, "udp:", 4) != 0)
		return EINVAL;
	h = s + 4;
	if (*h == '[') {
		const char *e = strchr(h, ']');

		if (e == NULL || e[1] != ':')
			return EINVAL;
		hl = (size_t)(e - h - 1);
		h++;
		colon = e + 1;
	} else {
		colon = strrchr(h, ':');
		if (colon == NULL)
			return EINVAL;
		hl = (size_t)(colon - h);
	}
	if (hl == 0 || hl >= sizeof(host))
		return EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (slb_parse_long(colon + 1, 0, 65535, &port) != 0)
		return EINVAL;
	hints.ai_flags = AI_NUMERICHOST;
	hints.ai_socktype = SOCK_DGRAM;
	if (getaddrinfo(host, NULL, &hints, &ai) != 0)
		return EINVAL;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	return 0;
}

int
prb_cfg_load(struct prb_cfg *c, const char *path)
{
	char err[1024], why[512], host[256];
	struct sockaddr_storage ss;
	socklen_t sl;
	const char *file = path ? path : "(defaults)";

	if (slb_cfg_load(path, keys, c, 0, NULL, NULL, err, sizeof(err)) !=
	    0) {
		slb_log_err("%s", err);
		return EINVAL;
	}
	slb_log_configure(c->log_level, c->log_facility, c->log_syslog);
	if (prb_codes_parse(c->reply_codes, c->codes, why, sizeof(why)) != 0) {
		slb_log_err("%s: [prober] reply_codes: %s", file, why);
		return EINVAL;
	}
	if (strcmp(c->mode_s, "all") == 0)
		c->mode = PRB_MODE_ALL;
	else if (strcmp(c->mode_s, "down-only") == 0)
		c->mode = PRB_MODE_DOWN_ONLY;
	else {
		slb_log_err("%s: [prober] mode: must be all or down-only, "
			    "not \"%s\"",
		    file, c->mode_s);
		return EINVAL;
	}
	if (shard_parse(c->shard_s, &c->shard_i, &c->shard_n) != 0) {
		slb_log_err("%s: [prober] shard: must be i/n with "
			    "1 <= i <= n <= 1000, not \"%s\"",
		    file, c->shard_s);
		return EINVAL;
	}
	if (c->timeout_ms >= c->interval_ms) {
		slb_log_err("%s: [prober] timeout: must be less than interval "
			    "(%d ms)",
		    file, c->interval_ms);
		return EINVAL;
	}
	if (prb_listen_parse(c->listen, &ss, &sl) != 0) {
		slb_log_err(
		    "%s: [prober] listen: must be udp:ADDR:PORT with an "
		    "IP address, not \"%s\"",
		    file, c->listen);
		return EINVAL;
	}
	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if (from_check(c, host) != 0) {
		slb_log_err("%s: [prober] from: must be a sip: or sips: URI "
			    "(or a name-addr with one), not \"%s\"",
		    file, c->from);
		return EINVAL;
	}
	return 0;
}
