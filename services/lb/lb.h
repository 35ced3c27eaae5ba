#ifndef SIPLB_LB_LB_H
#define SIPLB_LB_LB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The lb library (services/lb, liblb.a): the node table (OpenSIPS
 * load_balancer + dispatcher rows), the live load per node and resource,
 * and every selection algorithm.  The scheduler owns the table; the edge
 * keeps a copy to select from when no scheduler answers, the prober and
 * siplb-admin read it.  Core code here never sees protobuf types (lb_pb.c
 * converts).
 */

#define LB_MAX_RES 16
#define LB_RES_NAME 32
#define LB_URI_LEN 256
#define LB_MAX_EXCLUDE 64
#define LB_MAX_RESULTS 32

struct lb_res {
	char name[LB_RES_NAME];
	int32_t cap; /* max concurrent dialogs */
	int32_t load; /* dialogs CREATED/CONFIRMED + reservations */
};

/* A node's own figures from its event socket (feedback.c). */
struct lb_fb_fig {
	bool have; /* figures received (and not forgotten) */
	bool linked; /* the prober's ESL link is up */
	bool stale; /* no HEARTBEAT for two intervals */
	bool paused; /* `fsctl pause inbound` sent */
	uint8_t mode; /* enum lb_load_mode of its group */
	uint32_t sessions, max_sessions, idle_milli, sps_left, sps_max;
	uint32_t interval_ms;
	uint64_t at_us; /* when the figures were taken (monotonic) */
	uint64_t stale_count;
	uint32_t sps_used; /* calls sent in the current second */
	uint64_t sps_second; /* which second */
	char hostname[64];
	char esl[64];
};

/* Passive reports (edges' timeouts and transport errors) about one node,
 * counted per caller address (passive.c). */
#define LB_PASSIVE_SOURCES 8
#define LB_PASSIVE_SRC_LEN 48

struct lb_passive_src {
	char addr[LB_PASSIVE_SRC_LEN]; /* "" marks a free slot */
	uint32_t n; /* reports in its window */
	uint64_t first_us; /* its window started then */
};

struct lb_passive {
	struct lb_passive_src src[LB_PASSIVE_SOURCES];
};

struct lb_node {
	uint32_t id;
	uint32_t group; /* load_balancer.group_id, 0 = none */
	uint32_t set; /* dispatcher.setid, 0 = none */
	char uri[LB_URI_LEN];
	struct lb_res res[LB_MAX_RES];
	int nres;
	uint32_t weight; /* dispatcher weight, >= 1 */
	uint32_t
	    rweight; /* attrs "rweight=N" (Kamailio alg 11), else weight */
	int32_t priority; /* higher first (algorithm 8) */
	uint32_t
	    probe_mode; /* 0 never, 1 only while down/disabled, 2 always */
	bool enabled; /* admin state */
	bool up; /* health state */
	uint32_t rtt_us; /* last probe round trip, 0 = unknown */
	uint32_t last_code;
	char description[128];
	char attrs[256];
	char socket[128];
	uint32_t ds_id; /* dispatcher.id when loaded from MySQL, 0 = none */
	uint64_t selected; /* times chosen first */
	uint64_t failed_over; /* calls that failed over away from it */
	struct lb_passive passive; /* edge failure reports (passive.c) */
	int64_t wrr_current; /* smooth weighted round-robin state */
	/* What the node itself says (feedback.c; struct lb_fb there):
	 * held keeps new calls away (503 Retry-After backoff, drain, its
	 * per-second budget spent); fb_extra adds to every resource's load
	 * (sessions siplb did not count; negative when it counts calls the
	 * node no longer has); fb_cap > 0 caps every resource's capacity. */
	bool held;
	bool draining;
	int32_t dialogs; /* dialogs on it (load.c) */
	bool pause_inbound;
	int32_t fb_extra;
	bool fb_lost; /* its ESL link was lost: say when it is back */
	int32_t fb_cap;
	uint64_t backoff_until_us; /* 0: none */
	uint64_t backoffs;
	struct lb_fb_fig fb; /* ESL figures */
};

/* Nodes kept sorted by id.  Pointers into `nodes` are invalidated by add,
 * remove and reload: hold ids across those. */
struct lb_table {
	struct lb_node *nodes;
	size_t n, cap;
	uint64_t rng; /* xorshift64* state */
};

/* ------------------------------------------------------------ nodes.c */

void lb_table_init(struct lb_table *t, uint64_t seed);
void lb_table_free(struct lb_table *t);
/* Copy everything from src (dst's old contents are freed). */
int lb_table_copy(struct lb_table *dst, const struct lb_table *src);
struct lb_node *lb_table_find(const struct lb_table *t, uint32_t id);
struct lb_node *lb_table_find_uri(const struct lb_table *t, const char *uri);
/* Add a copy of n; id 0 takes the next free id. EEXIST for a taken id,
 * EINVAL when lb_node_validate refuses it. *outp (may be NULL) points at
 * the stored node. */
int lb_table_add(struct lb_table *t, const struct lb_node *n,
    struct lb_node **outp, char *err, size_t errlen);
int lb_table_remove(struct lb_table *t, uint32_t id);
/* A new node with OpenSIPS defaults: weight 1, enabled, up, probe_mode 0. */
void lb_node_defaults(struct lb_node *n);
/* uri must be sip:/sips:, weight >= 1, probe_mode 0..2. */
int lb_node_validate(const struct lb_node *n, char *err, size_t errlen);
/* Recompute rweight from attrs ("rweight=N;..."), else weight. */
void lb_node_update_rweight(struct lb_node *n);
uint64_t lb_rand(struct lb_table *t);

/* Parse "vm=100;conf=100;pstn=500" (OpenSIPS load_balancer.resources):
 * names [A-Za-z0-9_.-], unique, each with a value 0..1000000; spaces around
 * tokens are allowed; "" is no resources. Loads are set to 0. */
int lb_res_parse(
    const char *s, struct lb_res *res, int *nres, char *err, size_t errlen);
/* Parse requested names "pstn" or "transc;conf" (no values). */
int lb_res_names_parse(const char *s, char (*names)[LB_RES_NAME], int *n,
    char *err, size_t errlen);
/* "vm=100;pstn=500" into buf; returns 0 or ENOSPC. */
int lb_res_format(const struct lb_res *res, int nres, char *buf, size_t len);
struct lb_res *lb_node_res(struct lb_node *n, const char *name);
/* Add delta to a resource's load; a result below zero is clamped to 0 and
 * logged (the OpenSIPS 4294967295 bugs came from unsigned drift). */
void lb_res_add_load(struct lb_node *n, struct lb_res *r, int32_t delta);

/* Node-table file: "[node ID]" sections with uri, group, set, resources,
 * weight, priority, probe_mode, enabled, description, attrs, socket. */
int lb_nodes_file_load(
    const char *path, struct lb_table *t, char *err, size_t errlen);
/* Write atomically (temp file + rename). */
int lb_nodes_file_save(
    const char *path, const struct lb_table *t, char *err, size_t errlen);

/* Carry health, load and algorithm state from old into new for nodes with
 * the same id and uri (a reload that keeps state). */
void lb_table_inherit(struct lb_table *newt, const struct lb_table *old);

/* ------------------------------------------------------------ select.c */

enum lb_alg {
	/* OpenSIPS dispatcher numbers, accepted as "0".."8" */
	LB_ALG_HASH_CALLID = 0,
	LB_ALG_HASH_FROM = 1,
	LB_ALG_HASH_TO = 2,
	LB_ALG_HASH_RURI = 3,
	LB_ALG_RR = 4, /* weighted round-robin */
	LB_ALG_HASH_AUTH = 5, /* empty key: weighted round-robin */
	LB_ALG_RANDOM = 6,
	LB_ALG_HASH_HEADER = 7,
	LB_ALG_PRIORITY = 8,
	/* by name only */
	LB_ALG_WEIGHTED_RANDOM = 100,
	LB_ALG_RELATIVE_WEIGHT = 101, /* Kamailio 11 */
	LB_ALG_LATENCY = 102, /* Kamailio 13 */
	LB_ALG_LEAST_LOAD = 103, /* OpenSIPS load_balancer */
};

/* Names: hash-callid hash-from hash-to hash-ruri round-robin hash-auth
 * random hash-header priority weighted-random relative-weight latency
 * least-load, and "0".."8". Returns 0 or EINVAL. */
int lb_alg_parse(const char *s, enum lb_alg *out);
const char *lb_alg_name(enum lb_alg a);

enum lb_sel_status {
	LB_SEL_OK = 0,
	LB_SEL_NO_CAPACITY, /* offered, but every usable node full */
	LB_SEL_NO_DESTINATION, /* no usable node offers it */
	LB_SEL_BAD_REQUEST,
};

struct lb_select {
	enum lb_alg alg;
	uint32_t group; /* lb group (least-load) or dispatcher set */
	char res[LB_MAX_RES][LB_RES_NAME];
	int nres; /* least-load needs >= 1; others filter on it */
	const char *hash_key; /* hashed by the hash-* algorithms */
	const uint32_t *exclude;
	size_t nexclude;
	unsigned max_results; /* 0 means 1; at most LB_MAX_RESULTS */
	bool overcommit; /* full nodes allowed (OpenSIPS lb flag n) */
	bool relative; /* integer percent availability (flag r) */
	bool tie_first; /* ties to the lowest id, not at random */
	bool down_ok; /* down nodes usable (lb_select_last_resort) */
};

/* Choose up to max_results distinct usable nodes, best first, into out.
 * Usable: in the pool, enabled, up, not excluded, and when resources are
 * named, offering all of them with availability > 0 (or overcommit).
 * Advances round-robin state and bumps `selected` of out[0]. */
enum lb_sel_status lb_select(struct lb_table *t, const struct lb_select *req,
    struct lb_node **out, unsigned *nout);

/* Availability of n for the requested resources: min over them of
 * cap - load (absolute) or 100 - 100*load/cap (relative, integer percent,
 * cap 0 gives 0). Returns false when n lacks one of them. */
bool lb_node_avail(const struct lb_node *n, const char (*res)[LB_RES_NAME],
    int nres, bool relative, int64_t *availp);

/* Choose as lb_select does, but among the nodes of an all-down pool
 * (all_down = last_resort): when no enabled node of the request's group
 * (least-load) or set is up, the enabled ones that are down are usable
 * (never disabled, draining or held ones).  LB_SEL_NO_DESTINATION when
 * the pool is not all down, or no such node is left after exclude. */
enum lb_sel_status lb_select_last_resort(struct lb_table *t,
    const struct lb_select *req, struct lb_node **out, unsigned *nout);
/* True when the request's pool has enabled nodes and none of them is up
 * (draining and held ones aside, either way). */
bool lb_pool_all_down(const struct lb_table *t, const struct lb_select *req);

/* ------------------------------------------------------------ passive.c */

/*
 * The passive counting rule.  A report counts for its source (the caller's
 * address) within window_us of that source's first report.  per_caller:
 * one source counts at most threshold - 1 times, so with threshold >= 2 a
 * node is suspected only on reports from two sources or more (a caller
 * whose odd requests the nodes ignore cannot take them out alone);
 * otherwise every report counts, whoever sent it (the scheduler without a
 * prober, as before).  threshold 1 suspects on any report; 0 never.  A
 * full table of sources replaces the one whose window started first.
 */
enum lb_passive_verdict {
	LB_PASSIVE_COUNTED = 0, /* below the threshold */
	LB_PASSIVE_ONE_CALLER, /* this source alone reached threshold << k
				 * (k = 0, 1, 2...): worth a probe, not a
				 * suspicion (per_caller only) */
	LB_PASSIVE_SUSPECT, /* the counted reports reach threshold (on
				 * the report that crosses it) */
};
/* Count one report from src (NULL or "" is one source of its own) at
 * now_us.  *countedp (may be NULL) gets the counted total. */
enum lb_passive_verdict
lb_passive_report(struct lb_passive *p, const char *src, uint32_t threshold,
    bool per_caller, uint64_t window_us, uint64_t now_us, uint32_t *countedp);
/* The counted total at now_us (expired sources left out). */
uint32_t lb_passive_counted(const struct lb_passive *p, uint32_t threshold,
    bool per_caller, uint64_t window_us, uint64_t now_us);
/* Distinct sources with reports in their window at now_us. */
unsigned lb_passive_sources(
    const struct lb_passive *p, uint64_t window_us, uint64_t now_us);
/* Forget every report (the node answered a probe, or was marked down). */
void lb_passive_reset(struct lb_passive *p);

/* ------------------------------------------------------------ load.c */

enum lb_dlg_state {
	LB_DLG_RESERVED = 0, /* chosen here, no event seen yet */
	LB_DLG_CREATED,
	LB_DLG_CONFIRMED,
	LB_DLG_TERMINATED,
};

struct lb_dlg_event {
	const char *key;
	enum lb_dlg_state state;
	uint32_t node_id;
	const char (*res)[LB_RES_NAME];
	int nres;
	const char *edge;
};

struct lb_load;

int lb_load_new(struct lb_load **lp, struct lb_table *t);
void lb_load_free(struct lb_load *l);
/* The table moved (reload): point at it and recount every node's load from
 * the dialogs held. */
void lb_load_rebind(struct lb_load *l, struct lb_table *t);
/* Reserve res on node_id under key at once. A key that already holds load
 * (failover) moves it to the new node. */
int lb_load_reserve(struct lb_load *l, const char *key, uint32_t node_id,
    const char (*res)[LB_RES_NAME], int nres, const char *edge,
    uint64_t now_us);
/* Apply a dialog event; idempotent for repeats. */
void lb_load_apply(
    struct lb_load *l, const struct lb_dlg_event *ev, uint64_t now_us);
/* Replace every dialog owned by `edge` with the snapshot's, reservations
 * it asked for included (the events after the snapshot restore those that
 * are still on their way). */
void lb_load_replace_edge(struct lb_load *l, const char *edge,
    const struct lb_dlg_event *evs, size_t n, uint64_t now_us);
/* Release reservations older than ttl_us that no event confirmed;
 * returns how many. */
unsigned lb_load_expire(struct lb_load *l, uint64_t now_us, uint64_t ttl_us);
/* Forget every dialog and zero every load. */
void lb_load_reset(struct lb_load *l);
size_t lb_load_count(const struct lb_load *l);

#endif
