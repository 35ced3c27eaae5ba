#ifndef SIPLB_PROBER_PROBER_H
#define SIPLB_PROBER_PROBER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <event2/util.h>
#include <uthash.h>

#include "bus.h"
#include "cfg.h"
#include "lb.h"

/*
 * siplb-prober: SIP OPTIONS to the nodes of the scheduler's table (Kamailio
 * dispatcher / OpenSIPS load_balancer probing), rise/fall thresholds
 * (HAProxy vocabulary), round-trip time; NodeHealth on every change and a
 * HealthSnapshot every interval on the PUB stream "prober:<i>/<n>".
 */

struct event;
struct event_base;

enum prb_mode { PRB_MODE_ALL = 0, PRB_MODE_DOWN_ONLY = 1 };

struct prb_cfg {
	char run_dir[SLB_CFG_STRLEN];
	char log_level[SLB_CFG_STRLEN];
	char log_facility[SLB_CFG_STRLEN];
	int log_syslog;

	char pub[SLB_CFG_STRLEN];
	char rep[SLB_CFG_STRLEN];
	char scheduler_pub[SLB_CFG_STRLEN];
	char scheduler_rep[SLB_CFG_STRLEN];
	char listen[SLB_CFG_STRLEN];
	int interval_ms;
	int timeout_ms;
	int threshold_down;
	int threshold_up;
	char reply_codes[SLB_CFG_STRLEN];
	char from[SLB_CFG_STRLEN];
	char mode_s[SLB_CFG_STRLEN];
	char shard_s[SLB_CFG_STRLEN];
	char esl_password[SLB_CFG_STRLEN];
	int esl_interval_ms;
	int esl_retry_max_ms;

	/* derived by prb_cfg_load / prb_cfg_set_shard */
	uint8_t codes[700]; /* 1: a reply with this code is a success */
	enum prb_mode mode;
	unsigned shard_i, shard_n; /* 1-based i of n */
	char from_hdr[SLB_CFG_STRLEN + 8]; /* name-addr for From */
};

/* One probed node: what the table says, and what the probes said. */
struct prb_node {
	uint32_t id;
	char uri[LB_URI_LEN];
	uint32_t probe_mode; /* 0 never, 1 while down/disabled, 2 always */
	bool enabled;

	bool up; /* our view; starts as the table's */
	bool probed; /* a probe result since learnt/adopted */
	int fails, oks; /* consecutive */
	uint32_t rtt_us, last_code;
	uint64_t changed_us; /* our last up/down transition */

	bool addr_ok;
	struct sockaddr_storage dst;
	socklen_t dstlen;
	char hostport[LB_URI_LEN]; /* for the Request-URI and To */
	char via[128]; /* our sent-by towards this node */

	uint64_t seq;
	bool outstanding;
	uint64_t sent_us;
	char branch[64];
	bool send_failing; /* log a send error once per streak */
	bool requested; /* the scheduler asked (ProbeNow): the
					 * outcome is published, a failure is
					 * down at once */

	struct event *t_probe;
	struct event *t_timeout;
	struct prb *p;
	bool seen; /* mark and sweep of a full table */
	struct prb_esl *esl; /* event-socket link (esl_link.c) */
	UT_hash_handle hh;
};

struct prb_stats {
	uint64_t sent, replies, timeouts, send_errors, stray, ignored_1xx;
};

struct prb {
	struct prb_cfg cfg;
	struct event_base *base;
	struct slb_bridge *br;
	struct slb_pub *pub;
	struct slb_rep *rep;
	struct slb_sub *table_sub;
	struct event *tick; /* heartbeat, every second */
	struct event *snap_tick; /* HealthSnapshot, every interval */
	char stream[64];
	char shard[32]; /* "i/n" */

	int fd; /* our UDP socket */
	struct event *sock_ev;
	struct sockaddr_storage local;
	char local_host[80]; /* bound address, "" when a wildcard */
	int local_port;
	char hostname[256];
	uint32_t salt;
	uint64_t rng;

	struct prb_node *nodes; /* by id */
	struct prb_stats st;
};

/* ------------------------------------------------------ config.c */

/* Load [general] and [prober] from path (NULL: defaults), check the
 * values, log why and return EINVAL when they are wrong. */
int prb_cfg_load(struct prb_cfg *c, const char *path);
/* Apply a "--shard i/n" given on the command line; 0 or EINVAL. */
int prb_cfg_set_shard(struct prb_cfg *c, const char *s);
/* [prober] listen, "udp:ADDR:PORT", into *ss and *len; 0 or EINVAL. */
int
prb_listen_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len);

/* ------------------------------------------------------ prober.c */

int prb_init(struct prb *p);
/* Reverse of prb_init; safe on a partly initialised or zeroed struct. */
void prb_close(struct prb *p);

/* ------------------------------------------------------ probe.c */

/* The prober's xorshift64* (p->rng): branch salt, tags, first probes. */
uint64_t prb_rand(struct prb *p);
/* n's NodeHealth (pointing into n) into h. */
void prb_health_fill(
    struct prb *p, const struct prb_node *n, Siplb__V1__NodeHealth *h);
/* Timers of a node (arg: the prb_node): n->t_probe sends the next probe
 * if the node is eligible, n->t_timeout counts an unanswered one. */
void prb_on_probe(evutil_socket_t fd, short what, void *arg);
void prb_on_timeout(evutil_socket_t fd, short what, void *arg);
/* The scheduler's ProbeNow: probe node id at once (or let the probe out
 * finish) and publish its outcome; into r the answer. */
void prb_probe_now(struct prb *p, const Siplb__V1__ProbeNow *q,
    Siplb__V1__ProberReply *r, Siplb__V1__ProbeNowReply *pr);
/* p->fd readable (arg: the prb): read the answers to our probes. */
void prb_on_readable(evutil_socket_t fd, short what, void *arg);

/* ------------------------------------------------------ esl_link.c */

/* Open, keep or close n's event-socket link as sn's attrs say (esl=...),
 * and pause or resume its inbound calls as its drain says. */
void prb_esl_sync(struct prb *p, struct prb_node *n, const struct lb_node *sn);
void prb_esl_forget(struct prb_node *n);
size_t prb_esl_count(struct prb *p);
struct prb_esl;
void prb_esl_fill(const struct prb_esl *l, Siplb__V1__NodeFeedback *f,
    char *esl, size_t esllen);
/* Every link's figures into hs->feedback; free with _free. */
struct prb_esl_snap {
	Siplb__V1__NodeFeedback *f;
	Siplb__V1__NodeFeedback **fp;
	char (*esl)[160];
};
int prb_esl_snapshot(
    struct prb *p, Siplb__V1__HealthSnapshot *hs, struct prb_esl_snap *s);
void prb_esl_snapshot_free(struct prb_esl_snap *s);

/* Parse "200, 404, 5xx" into codes[100..699]; 0 or EINVAL with why. */
int
prb_codes_parse(const char *s, uint8_t codes[700], char *err, size_t errlen);

#endif
