#ifndef SIPLB_SCHEDULER_SCHED_H
#define SIPLB_SCHEDULER_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

/*
 * siplb-scheduler: the node table (OpenSIPS load_balancer + dispatcher rows),
 * the live load per node and resource, and every selection algorithm.
 * Core code here never sees protobuf types (sched_pb.c converts).
 */

#define SCHED_MAX_RES 16
#define SCHED_RES_NAME 32
#define SCHED_URI_LEN 256
#define SCHED_MAX_EXCLUDE 64
#define SCHED_MAX_RESULTS 32

struct sched_res {
	char name[SCHED_RES_NAME];
	int32_t cap;		/* max concurrent dialogs */
	int32_t load;		/* dialogs CREATED/CONFIRMED + reservations */
};

struct sched_node {
	uint32_t id;
	uint32_t group;		/* load_balancer.group_id, 0 = none */
	uint32_t set;		/* dispatcher.setid, 0 = none */
	char uri[SCHED_URI_LEN];
	struct sched_res res[SCHED_MAX_RES];
	int nres;
	uint32_t weight;	/* dispatcher weight, >= 1 */
	uint32_t rweight;	/* attrs "rweight=N" (Kamailio alg 11), else weight */
	int32_t priority;	/* higher first (algorithm 8) */
	uint32_t probe_mode;	/* 0 never, 1 only while down/disabled, 2 always */
	bool enabled;		/* admin state */
	bool up;		/* health state */
	uint32_t rtt_us;	/* last probe round trip, 0 = unknown */
	uint32_t last_code;
	char description[128];
	char attrs[256];
	char socket[128];
	uint32_t ds_id;		/* dispatcher.id when loaded from MySQL, 0 = none */
	uint64_t selected;	/* times chosen first */
	uint64_t failed_over;	/* calls that failed over away from it */
	uint32_t passive_fails;	/* edge failure reports in the window */
	uint64_t passive_since_us;
	int64_t wrr_current;	/* smooth weighted round-robin state */
};

/* Nodes kept sorted by id.  Pointers into `nodes` are invalidated by add,
 * remove and reload: hold ids across those. */
struct sched_table {
	struct sched_node *nodes;
	size_t n, cap;
	uint64_t rng;		/* xorshift64* state */
};

/* ------------------------------------------------------------ nodes.c */

void sched_table_init(struct sched_table *t, uint64_t seed);
void sched_table_free(struct sched_table *t);
/* Copy everything from src (dst's old contents are freed). */
int sched_table_copy(struct sched_table *dst, const struct sched_table *src);
struct sched_node *sched_table_find(const struct sched_table *t, uint32_t id);
struct sched_node *sched_table_find_uri(const struct sched_table *t,
    const char *uri);
/* Add a copy of n; id 0 takes the next free id. EEXIST for a taken id,
 * EINVAL when sched_node_validate refuses it. *outp (may be NULL) points at
 * the stored node. */
int sched_table_add(struct sched_table *t, const struct sched_node *n,
    struct sched_node **outp, char *err, size_t errlen);
int sched_table_remove(struct sched_table *t, uint32_t id);
/* A new node with OpenSIPS defaults: weight 1, enabled, up, probe_mode 0. */
void sched_node_defaults(struct sched_node *n);
/* uri must be sip:/sips:, weight >= 1, probe_mode 0..2. */
int sched_node_validate(const struct sched_node *n, char *err, size_t errlen);
/* Recompute rweight from attrs ("rweight=N;..."), else weight. */
void sched_node_update_rweight(struct sched_node *n);
uint64_t sched_rand(struct sched_table *t);

/* Parse "vm=100;conf=100;pstn=500" (OpenSIPS load_balancer.resources):
 * names [A-Za-z0-9_.-], unique, each with a value 0..1000000; spaces around
 * tokens are allowed; "" is no resources. Loads are set to 0. */
int sched_res_parse(const char *s, struct sched_res *res, int *nres,
    char *err, size_t errlen);
/* Parse requested names "pstn" or "transc;conf" (no values). */
int sched_res_names_parse(const char *s, char (*names)[SCHED_RES_NAME],
    int *n, char *err, size_t errlen);
/* "vm=100;pstn=500" into buf; returns 0 or ENOSPC. */
int sched_res_format(const struct sched_res *res, int nres, char *buf,
    size_t len);
struct sched_res *sched_node_res(struct sched_node *n, const char *name);
/* Add delta to a resource's load; a result below zero is clamped to 0 and
 * logged (the OpenSIPS 4294967295 bugs came from unsigned drift). */
void sched_res_add_load(struct sched_node *n, struct sched_res *r,
    int32_t delta);

/* Node-table file: "[node ID]" sections with uri, group, set, resources,
 * weight, priority, probe_mode, enabled, description, attrs, socket. */
int sched_nodes_file_load(const char *path, struct sched_table *t, char *err,
    size_t errlen);
/* Write atomically (temp file + rename). */
int sched_nodes_file_save(const char *path, const struct sched_table *t,
    char *err, size_t errlen);

/* Carry health, load and algorithm state from old into new for nodes with
 * the same id and uri (a reload that keeps state). */
void sched_table_inherit(struct sched_table *newt,
    const struct sched_table *old);

/* ------------------------------------------------------ nodes_mysql.c */

/* Dispatcher-only rows (no load_balancer row with the same URI) become
 * nodes with id SCHED_DS_ID_BASE + dispatcher.id, so ids stay stable. */
#define SCHED_DS_ID_BASE 1000000u

struct sched_db {
	char url[SLB_CFG_STRLEN];	/* mysql://user:pass@host:port/db */
	char lb_table[64];		/* "load_balancer" */
	char ds_table[64];		/* "dispatcher"; "" = do not use */
	char state_table[64];		/* "siplb_node_state"; "" = none */
};

/* Load the OpenSIPS load_balancer and dispatcher tables into t (empty on
 * entry): load_balancer rows are nodes with their id, group_id, dst_uri,
 * resources, probe_mode, description; a dispatcher row whose destination
 * equals a node's uri adds set, weight, priority, attrs, socket and state
 * to it, other rows become nodes of their own. Prepared statements only. */
int sched_mysql_load(const struct sched_db *db, struct sched_table *t,
    char *err, size_t errlen);
/* Write one node back (insert or update its rows), or delete it. */
int sched_mysql_save_node(const struct sched_db *db,
    const struct sched_node *n, char *err, size_t errlen);
int sched_mysql_delete_node(const struct sched_db *db,
    const struct sched_node *n, char *err, size_t errlen);
/* "mysql://user:***@host:port/db" for logs. */
void sched_db_url_masked(const char *url, char *buf, size_t len);

/* ------------------------------------------------------------ select.c */

enum sched_alg {
	/* OpenSIPS dispatcher numbers, accepted as "0".."8" */
	SCHED_ALG_HASH_CALLID = 0,
	SCHED_ALG_HASH_FROM = 1,
	SCHED_ALG_HASH_TO = 2,
	SCHED_ALG_HASH_RURI = 3,
	SCHED_ALG_RR = 4,		/* weighted round-robin */
	SCHED_ALG_HASH_AUTH = 5,	/* empty key: weighted round-robin */
	SCHED_ALG_RANDOM = 6,
	SCHED_ALG_HASH_HEADER = 7,
	SCHED_ALG_PRIORITY = 8,
	/* by name only */
	SCHED_ALG_WEIGHTED_RANDOM = 100,
	SCHED_ALG_RELATIVE_WEIGHT = 101,	/* Kamailio 11 */
	SCHED_ALG_LATENCY = 102,		/* Kamailio 13 */
	SCHED_ALG_LEAST_LOAD = 103,		/* OpenSIPS load_balancer */
};

/* Names: hash-callid hash-from hash-to hash-ruri round-robin hash-auth
 * random hash-header priority weighted-random relative-weight latency
 * least-load, and "0".."8". Returns 0 or EINVAL. */
int sched_alg_parse(const char *s, enum sched_alg *out);
const char *sched_alg_name(enum sched_alg a);

enum sched_sel_status {
	SCHED_SEL_OK = 0,
	SCHED_SEL_NO_CAPACITY,		/* offered, but every usable node full */
	SCHED_SEL_NO_DESTINATION,	/* no usable node offers it */
	SCHED_SEL_BAD_REQUEST,
};

struct sched_select {
	enum sched_alg alg;
	uint32_t group;		/* lb group (least-load) or dispatcher set */
	char res[SCHED_MAX_RES][SCHED_RES_NAME];
	int nres;		/* least-load needs >= 1; others filter on it */
	const char *hash_key;	/* hashed by the hash-* algorithms */
	const uint32_t *exclude;
	size_t nexclude;
	unsigned max_results;	/* 0 means 1; at most SCHED_MAX_RESULTS */
	bool overcommit;	/* full nodes allowed (OpenSIPS lb flag n) */
	bool relative;		/* integer percent availability (flag r) */
	bool tie_first;		/* ties to the lowest id, not at random */
};

/* Choose up to max_results distinct usable nodes, best first, into out.
 * Usable: in the pool, enabled, up, not excluded, and when resources are
 * named, offering all of them with availability > 0 (or overcommit).
 * Advances round-robin state and bumps `selected` of out[0]. */
enum sched_sel_status sched_select(struct sched_table *t,
    const struct sched_select *req, struct sched_node **out, unsigned *nout);

/* Availability of n for the requested resources: min over them of
 * cap - load (absolute) or 100 - 100*load/cap (relative, integer percent,
 * cap 0 gives 0). Returns false when n lacks one of them. */
bool sched_node_avail(const struct sched_node *n,
    const char (*res)[SCHED_RES_NAME], int nres, bool relative,
    int64_t *availp);

/* ------------------------------------------------------------ load.c */

enum sched_dlg_state {
	SCHED_DLG_RESERVED = 0,	/* chosen here, no event seen yet */
	SCHED_DLG_CREATED,
	SCHED_DLG_CONFIRMED,
	SCHED_DLG_TERMINATED,
};

struct sched_dlg_event {
	const char *key;
	enum sched_dlg_state state;
	uint32_t node_id;
	const char (*res)[SCHED_RES_NAME];
	int nres;
	const char *edge;
};

struct sched_load;

int sched_load_new(struct sched_load **lp, struct sched_table *t);
void sched_load_free(struct sched_load *l);
/* The table moved (reload): point at it and recount every node's load from
 * the dialogs held. */
void sched_load_rebind(struct sched_load *l, struct sched_table *t);
/* Reserve res on node_id under key at once. A key that already holds load
 * (failover) moves it to the new node. */
int sched_load_reserve(struct sched_load *l, const char *key, uint32_t node_id,
    const char (*res)[SCHED_RES_NAME], int nres, const char *edge,
    uint64_t now_us);
/* Apply a dialog event; idempotent for repeats. */
void sched_load_apply(struct sched_load *l, const struct sched_dlg_event *ev,
    uint64_t now_us);
/* Replace every dialog owned by `edge` with the snapshot's, reservations
 * it asked for included (the events after the snapshot restore those that
 * are still on their way). */
void sched_load_replace_edge(struct sched_load *l, const char *edge,
    const struct sched_dlg_event *evs, size_t n, uint64_t now_us);
/* Release reservations older than ttl_us that no event confirmed;
 * returns how many. */
unsigned sched_load_expire(struct sched_load *l, uint64_t now_us,
    uint64_t ttl_us);
/* Forget every dialog and zero every load. */
void sched_load_reset(struct sched_load *l);
size_t sched_load_count(const struct sched_load *l);

#endif
