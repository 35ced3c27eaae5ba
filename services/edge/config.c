#define SLB_LOG_MODULE "config"
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "config.h"
#include "log.h"
#include "pike.h"

#define OFF(f) offsetof(struct edge_cfg, f)

static const struct slb_cfg_key keys[] = {
	SLB_CFG_GENERAL_KEYS(struct edge_cfg),
	{ "edge", "id", SLB_CFG_STR, 0, 0, "1", OFF(id),
	    "this edge's name; its bus stream is edge:<id>" },
	{ "edge", "listen", SLB_CFG_STR, 0, 0,
	    "udp:127.0.0.1:5060, tcp:127.0.0.1:5060", OFF(listen),
	    "SIP sockets: udp:ADDR:PORT, tcp:ADDR:PORT" },
	{ "edge", "advertise", SLB_CFG_STR, 0, 0, "", OFF(advertise),
	    "host[:port] written into Via and Record-Route (the VIP)" },
	{ "edge", "freebind", SLB_CFG_BOOL, 0, 0, "yes", OFF(freebind),
	    "bind addresses this host does not hold yet (IP_FREEBIND)" },
	{ "edge", "scheduler", SLB_CFG_STR, 0, 0, SLB_ADDR_SCHEDULER_REP,
	    OFF(scheduler), "scheduler REP addresses, comma-separated" },
	{ "edge", "scheduler_pub", SLB_CFG_ADDR, 0, 0, SLB_ADDR_SCHEDULER_PUB,
	    OFF(scheduler_pub), "scheduler node-table PUB" },
	{ "edge", "pub", SLB_CFG_ADDR, 0, 0, SLB_ADDR_EDGE_PUB, OFF(pub),
	    "dialog events" },
	{ "edge", "rep", SLB_CFG_ADDR, 0, 0, SLB_ADDR_EDGE_REP, OFF(rep),
	    "dialog snapshots and statistics" },
	{ "edge", "dialogd", SLB_CFG_ADDR, 0, 0, SLB_ADDR_DIALOGD_REP,
	    OFF(dialogd),
	    "dialog store asked at start for this edge's live dialogs; empty: none" },
	{ "edge", "store_timeout", SLB_CFG_INT, 100, 30000, "1000",
	    OFF(store_timeout_ms),
	    "ms to wait for each page of the dialog store's answer (restore, reconcile)" },
	{ "edge", "sched_timeout", SLB_CFG_INT, 10, 10000, "250",
	    OFF(sched_timeout_ms),
	    "ms to wait for the scheduler before using the cached table" },
	{ "edge", "max_attempts", SLB_CFG_INT, 1, EDGE_MAX_ATTEMPTS, "3",
	    OFF(max_attempts), "nodes tried per call (failover)" },
	{ "edge", "timer_t1", SLB_CFG_INT, 50, 10000, "500", OFF(t1_ms),
	    "RFC 3261 T1 (ms)" },
	{ "edge", "timer_t2", SLB_CFG_INT, 100, 60000, "4000", OFF(t2_ms),
	    "RFC 3261 T2 (ms)" },
	{ "edge", "timer_t4", SLB_CFG_INT, 100, 60000, "5000", OFF(t4_ms),
	    "RFC 3261 T4 (ms)" },
	{ "edge", "fr_timeout", SLB_CFG_INT, 100, 120000, "2000", OFF(fr_ms),
	    "ms without a provisional above 100 before failing over" },
	{ "edge", "timer_c", SLB_CFG_INT, 1000, 3600000, "180000",
	    OFF(timer_c_ms), "ms an INVITE may ring after a provisional" },
	{ "edge", "tx_linger", SLB_CFG_INT, 0, 64000, "5000",
	    OFF(tx_linger_ms),
	    "ms a finished transaction keeps absorbing retransmissions (UDP)" },
	{ "edge", "dialog_lifetime", SLB_CFG_INT, 1000, 604800000, "43200000",
	    OFF(dialog_lifetime_ms),
	    "ms after which a dialog whose BYE never came is forgotten (as "
	    "dialogd expires it)" },
	{ "edge", "max_message", SLB_CFG_INT, 1024, 65535, "65535",
	    OFF(max_message), "largest SIP message accepted (bytes)" },
	{ "edge", "route_invite", SLB_CFG_STR, 0, 0, "lb 1 pstn",
	    OFF(route[EDGE_RULE_INVITE]),
	    "lb GROUP RES[;RES] [ALG] | ds SET ALG | reply CODE [REASON]" },
	{ "edge", "route_register", SLB_CFG_STR, 0, 0, "ds 1 round-robin",
	    OFF(route[EDGE_RULE_REGISTER]), "initial REGISTER" },
	{ "edge", "route_options", SLB_CFG_STR, 0, 0, "reply 405",
	    OFF(route[EDGE_RULE_OPTIONS]),
	    "OPTIONS not addressed to the edge (those get 200)" },
	{ "edge", "route_message", SLB_CFG_STR, 0, 0, "reply 405",
	    OFF(route[EDGE_RULE_MESSAGE]), "initial MESSAGE" },
	{ "edge", "route_subscribe", SLB_CFG_STR, 0, 0, "reply 405",
	    OFF(route[EDGE_RULE_SUBSCRIBE]), "initial SUBSCRIBE" },
	{ "edge", "route_notify", SLB_CFG_STR, 0, 0, "reply 405",
	    OFF(route[EDGE_RULE_NOTIFY]), "initial NOTIFY" },
	{ "edge", "route_refer", SLB_CFG_STR, 0, 0, "reply 405",
	    OFF(route[EDGE_RULE_REFER]), "initial REFER" },
	{ "edge", "route_info", SLB_CFG_STR, 0, 0, "reply 405",
	    OFF(route[EDGE_RULE_INFO]), "initial INFO" },
	{ "edge", "route_publish", SLB_CFG_STR, 0, 0, "reply 405",
	    OFF(route[EDGE_RULE_PUBLISH]), "initial PUBLISH" },
	{ "edge", "route_other", SLB_CFG_STR, 0, 0, "reply 405",
	    OFF(route[EDGE_RULE_OTHER]), "any other initial request" },
	{ "edge", "route_from_node", SLB_CFG_STR, 0, 0, "relay pstn",
	    OFF(route[EDGE_RULE_FROM_NODE]),
	    "initial requests from a node (towards a phone): relay [RES[;RES]] "
	    "(to the next Route or Request-URI; an INVITE's dialog counts as RES "
	    "load on that node) | reply CODE [REASON]" },
	{ "edge", "auth_ip_header", SLB_CFG_STR, 0, 0, "", OFF(auth_ip_header),
	    "e.g. X-AUTH-IP: the caller's address for FreeSWITCH; empty = off" },
	{ "edge", "auth_port_header", SLB_CFG_STR, 0, 0, "",
	    OFF(auth_port_header), "e.g. X-AUTH-PORT; empty = off" },
	{ "edge", "add_path", SLB_CFG_BOOL, 0, 0, "no", OFF(add_path),
	    "add Path: <sip:ADVERTISED;lr> to REGISTER (RFC 3327)" },
	{ "edge", "tcp_idle", SLB_CFG_INT, 1000, 86400000, "300000",
	    OFF(tcp_idle_ms), "ms before an idle TCP connection is closed" },
	{ "edge", "tcp_max_conns", SLB_CFG_INT, 1, 100000, "4096",
	    OFF(tcp_max_conns), "TCP connections at most" },
	{ "edge", "tcp_max_conns_per_source", SLB_CFG_INT, 0, 100000, "0",
	    OFF(tcp_max_conns_per_source),
	    "TCP connections one address may hold (nodes and pike_allow: no "
	    "limit); 0 = no limit" },
	{ "edge", "tcp_msg_timeout", SLB_CFG_INT, 0, 600000, "4000",
	    OFF(tcp_msg_timeout_ms),
	    "ms a TCP message may take to arrive whole once its first byte came; "
	    "the connection is closed after (slowloris); 0 = no limit" },
	{ "edge", "pike_requests", SLB_CFG_INT, 0, 10000000, "0",
	    OFF(pike_requests),
	    "requests one source address may send per pike_window (responses "
	    "and nodes are never counted); 0 = no limit" },
	{ "edge", "pike_window", SLB_CFG_INT, 100, 3600000, "2000",
	    OFF(pike_window_ms), "ms over which pike_requests are counted" },
	{ "edge", "pike_reaction", SLB_CFG_STR, 0, 0, "block",
	    OFF(pike_reaction),
	    "a source over pike_requests: drop (the excess), 503 (the excess, "
	    "with Retry-After) or block (everything from it for pike_block s)" },
	{ "edge", "pike_block", SLB_CFG_INT, 1, 86400, "60", OFF(pike_block_s),
	    "seconds a source over pike_requests stays blocked (pike_reaction = "
	    "block)" },
	{ "edge", "pike_max_sources", SLB_CFG_INT, 16, 10000000, "65536",
	    OFF(pike_max_sources),
	    "source addresses tracked at most (the quietest is forgotten first)" },
	{ "edge", "pike_allow", SLB_CFG_STR, 0, 0, "", OFF(pike_allow),
	    "addresses and ADDR/BITS never limited besides the nodes (the other "
	    "edge, trunks), comma-separated" },
	{ NULL, NULL, 0, 0, 0, NULL, 0, NULL },
};

/* "relay [RES[;RES]]" (n words in w) into r: route_from_node's own. */
static int
parse_relay(char w[][SLB_CFG_STRLEN], int n, struct edge_rule *r)
{
	char err[256];

	if (n > 2 ||
	    (n == 2 &&
		(lb_res_names_parse(
		     w[1], r->res, &r->nres, err, sizeof(err)) != 0)))
		return EINVAL;
	r->kind = RULE_RELAY;
	return 0;
}

/* One route_* value into r; from_node: route_from_node, which takes
 * relay or reply (never a selection), while the others take reply, lb or
 * ds (never relay: the edge is no open relay). */
static int
parse_rule(const char *key, const char *s, bool from_node, struct edge_rule *r)
{
	char w[4][SLB_CFG_STRLEN];
	int n = 0;
	char err[256];
	long v;
	const char *p = s;

	memset(r, 0, sizeof(*r));
	while (*p && n < 4) {
		size_t len;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		len = strcspn(p, " \t");
		if (n == 3 && strcmp(w[0], "reply") == 0)
			len = strlen(p); /* the reason keeps its spaces */
		if (len >= SLB_CFG_STRLEN)
			goto bad;
		memcpy(w[n], p, len);
		w[n][len] = '\0';
		n++;
		p += len;
	}
	if (n >= 2 && strcmp(w[0], "reply") == 0) {
		if (slb_parse_long(w[1], 200, 699, &v) != 0)
			goto bad;
		r->kind = RULE_REPLY;
		r->code = (int)v;
		if (n >= 3) {
			/* everything after the code */
			const char *rs = strstr(s, w[1]) + strlen(w[1]);

			while (*rs == ' ')
				rs++;
			snprintf(r->reason, sizeof(r->reason), "%s", rs);
		}
		return 0;
	}
	if (from_node) {
		if (n >= 1 && strcmp(w[0], "relay") == 0 &&
		    parse_relay(w, n, r) == 0)
			return 0;
		slb_log_err("[edge] %s: \"%s\": use \"relay [RES[;RES]]\" or "
			    "\"reply CODE [REASON]\"",
		    key, s);
		return EINVAL;
	}
	if (n >= 3 && strcmp(w[0], "lb") == 0) {
		if (slb_parse_long(w[1], 1, UINT32_MAX, &v) != 0 ||
		    lb_res_names_parse(
			w[2], r->res, &r->nres, err, sizeof(err)) != 0 ||
		    r->nres == 0)
			goto bad;
		r->kind = RULE_LB;
		r->group = (uint32_t)v;
		snprintf(r->alg_name, sizeof(r->alg_name), "%.31s",
		    n >= 4 ? w[3] : "least-load");
		if (lb_alg_parse(r->alg_name, &r->alg) != 0)
			goto bad;
		return 0;
	}
	if (n == 3 && strcmp(w[0], "ds") == 0) {
		if (slb_parse_long(w[1], 1, UINT32_MAX, &v) != 0)
			goto bad;
		r->kind = RULE_DS;
		r->group = (uint32_t)v;
		snprintf(r->alg_name, sizeof(r->alg_name), "%.31s", w[2]);
		if (lb_alg_parse(r->alg_name, &r->alg) != 0 ||
		    r->alg == LB_ALG_LEAST_LOAD)
			goto bad;
		return 0;
	}
bad:
	slb_log_err(
	    "[edge] %s: \"%s\": use \"lb GROUP RES[;RES] [ALGORITHM]\", "
	    "\"ds SET ALGORITHM\" or \"reply CODE [REASON]\"",
	    key, s);
	return EINVAL;
}

int
edge_cfg_load(struct edge_cfg *c, const char *path)
{
	char err[1024];

	if (slb_cfg_load(path, keys, c, 0, NULL, NULL, err, sizeof(err)) !=
	    0) {
		slb_log_err("%s", err);
		return EINVAL;
	}
	/* the flood limit's words and addresses, refused here (and by -t) */
	{
		struct edge_pike pk;
		struct edge_pike_cfg pc = { 0 };
		enum edge_pike_reaction r;

		if (edge_pike_reaction_parse(c->pike_reaction, &r) != 0) {
			slb_log_err(
			    "%s: [edge] pike_reaction: \"%s\": give drop, "
			    "503 or block",
			    path ? path : "defaults", c->pike_reaction);
			return EINVAL;
		}
		if (edge_pike_init(
			&pk, &pc, c->pike_allow, err, sizeof(err)) != 0) {
			slb_log_err("%s: [edge] pike_allow: %s",
			    path ? path : "defaults", err);
			return EINVAL;
		}
		edge_pike_free(&pk);
	}
	slb_log_configure(c->log_level, c->log_facility, c->log_syslog);
	return 0;
}

int
edge_rules_load(const struct edge_cfg *c, struct edge_rule *rules)
{
	static const char *key[EDGE_RULES] = { "route_invite",
		"route_register", "route_options", "route_message",
		"route_subscribe", "route_notify", "route_refer", "route_info",
		"route_publish", "route_other", "route_from_node" };

	for (int i = 0; i < EDGE_RULES; i++)
		if (parse_rule(key[i], c->route[i], i == EDGE_RULE_FROM_NODE,
			&rules[i]) != 0)
			return EINVAL;
	return 0;
}

enum edge_rule_slot
edge_rule_slot(const char *method)
{
	/* in enum edge_rule_slot order */
	static const char *names[EDGE_RULE_OTHER] = { "INVITE", "REGISTER",
		"OPTIONS", "MESSAGE", "SUBSCRIBE", "NOTIFY", "REFER", "INFO",
		"PUBLISH" };

	for (int i = 0; i < EDGE_RULE_OTHER; i++)
		if (strcmp(method, names[i]) == 0)
			return (enum edge_rule_slot)i;
	return EDGE_RULE_OTHER;
}
