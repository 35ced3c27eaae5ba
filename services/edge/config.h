#ifndef SIPLB_EDGE_CONFIG_H
#define SIPLB_EDGE_CONFIG_H

#include <stdint.h>

#include "cfg.h"
#include "lb.h"

/*
 * The [edge] section and the routing rules it names (one per initial
 * request method).  Owns nothing once loaded: the structs are plain values,
 * read-only after edge_cfg_load / edge_rules_load.
 */

#define EDGE_MAX_ATTEMPTS 8

/* The methods an initial request is routed by, in the order of the
 * route_* keys; anything else takes EDGE_RULE_OTHER.  An initial request
 * from one of the nodes (towards a phone) takes EDGE_RULE_FROM_NODE,
 * whatever its method: it is never selected again. */
enum edge_rule_slot {
	EDGE_RULE_INVITE,
	EDGE_RULE_REGISTER,
	EDGE_RULE_OPTIONS,
	EDGE_RULE_MESSAGE,
	EDGE_RULE_SUBSCRIBE,
	EDGE_RULE_NOTIFY,
	EDGE_RULE_REFER,
	EDGE_RULE_INFO,
	EDGE_RULE_PUBLISH,
	EDGE_RULE_OTHER,
	EDGE_RULE_FROM_NODE, /* any initial request a node sends (relay.c) */
	EDGE_RULES /* how many */
};

/* RULE_RELAY: to the next Route or the Request-URI, no selection; only
 * route_from_node takes it (anywhere else the edge would be an open
 * relay), and route_from_node takes only it or RULE_REPLY. */
enum edge_rule_kind { RULE_REPLY, RULE_LB, RULE_DS, RULE_RELAY };

struct edge_rule {
	enum edge_rule_kind kind;
	int code; /* RULE_REPLY */
	char reason[64];
	uint32_t group; /* lb group or ds set */
	char res[LB_MAX_RES][LB_RES_NAME]; /* RULE_LB; RULE_RELAY: the */
	int nres; /* load a relayed dialog puts on its node */
	enum lb_alg alg;
	char alg_name[32];
};

struct edge_cfg {
	char run_dir[SLB_CFG_STRLEN];
	char log_level[SLB_CFG_STRLEN];
	char log_facility[SLB_CFG_STRLEN];
	int log_syslog;

	char id[SLB_CFG_STRLEN];
	char listen[SLB_CFG_STRLEN];
	char advertise[SLB_CFG_STRLEN];
	int freebind;
	char scheduler[SLB_CFG_STRLEN];
	char scheduler_pub[SLB_CFG_STRLEN];
	char pub[SLB_CFG_STRLEN];
	char rep[SLB_CFG_STRLEN];
	char dialogd[SLB_CFG_STRLEN];
	int sched_timeout_ms;
	int store_timeout_ms;
	int max_attempts;
	int t1_ms, t2_ms, t4_ms;
	int fr_ms; /* no provisional above 100 -> failover */
	int timer_c_ms; /* INVITE after a provisional */
	int tx_linger_ms; /* a finished transaction absorbs retransmissions */
	int dialog_lifetime_ms; /* a dialog with no BYE is forgotten */
	int max_message;
	char route[EDGE_RULES]
		  [SLB_CFG_STRLEN]; /* route_invite ... route_from_node */
	char auth_ip_header[SLB_CFG_STRLEN];
	char auth_port_header[SLB_CFG_STRLEN];
	int add_path;
	int tcp_idle_ms;
	int tcp_max_conns;
	int tcp_max_conns_per_source;
	int tcp_msg_timeout_ms;
	int pike_requests;
	int pike_window_ms;
	char pike_reaction[SLB_CFG_STRLEN];
	int pike_block_s;
	int pike_max_sources;
	char pike_allow[SLB_CFG_STRLEN];
};

/* Parse the [edge] section of path (NULL: defaults) into c; logs and
 * returns EINVAL on a bad file. */
int edge_cfg_load(struct edge_cfg *c, const char *path);
/* Parse c's route_* values into rules[EDGE_RULES]; EINVAL (logged) when
 * one does not parse. */
int edge_rules_load(const struct edge_cfg *c, struct edge_rule *rules);
/* The rule slot of an initial request's method (NUL-terminated). */
enum edge_rule_slot edge_rule_slot(const char *method);

#endif
