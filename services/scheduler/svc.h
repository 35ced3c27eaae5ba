#ifndef SIPLB_SCHEDULER_SVC_H
#define SIPLB_SCHEDULER_SVC_H

#include "bus.h"
#include "cfg.h"
#include "feedback.h"
#include "sched_db.h"

#define SCHED_MAX_EDGES 16

/* [general] + [scheduler] of the configuration file. */
struct sched_cfg {
	char run_dir[SLB_CFG_STRLEN];
	char log_level[SLB_CFG_STRLEN];
	char log_facility[SLB_CFG_STRLEN];
	int log_syslog;

	char rep[SLB_CFG_STRLEN];
	char pub[SLB_CFG_STRLEN];
	char node_source[SLB_CFG_STRLEN];
	char nodes_file[SLB_CFG_STRLEN];
	char db_url[SLB_CFG_STRLEN];
	char lb_table[SLB_CFG_STRLEN];
	char ds_table[SLB_CFG_STRLEN];
	char state_table[SLB_CFG_STRLEN];
	char prober_pub[SLB_CFG_STRLEN];
	char prober_rep[SLB_CFG_STRLEN];
	char edge_pubs[SLB_CFG_STRLEN];
	char edge_reps[SLB_CFG_STRLEN];
	char dialogd_pub[SLB_CFG_STRLEN];
	char dialogd_rep[SLB_CFG_STRLEN];
	int reserve_ttl_ms;
	int table_interval_ms;
	int tie_first;
	int seed;
	int passive_threshold;
	int passive_window_ms;
	char all_down[SLB_CFG_STRLEN];
	int backoff_max_ms;
	char load_mode[SLB_CFG_STRLEN];
	int sessions_per_call;
	int reconcile_min;
};

extern const struct slb_cfg_key sched_cfg_keys[];

/* passive.c: suspicions waiting for a probe, all-down episodes. */
struct sched_suspect;
#define SCHED_MAX_EPISODES 64

struct sched_episode {
	bool by_group; /* least-load group, else dispatcher set */
	uint32_t pool;
	bool on;
};

struct sched_passive_stats {
	uint64_t reports; /* passive reports counted */
	uint64_t suspected; /* nodes that reached the threshold */
	uint64_t probe_up; /* ... and answered the probe: kept */
	uint64_t probe_down; /* ... and failed it: down */
	uint64_t unconfirmed; /* down without a probe's outcome */
	uint64_t last_resort; /* calls sent to a node of an all-down pool */
	uint64_t refused; /* calls refused: all nodes down */
	uint64_t episodes; /* all-down episodes begun */
};

struct sched_svc {
	struct sched_cfg cfg;
	const char *cfg_path;
	struct event_base *base;
	struct slb_bridge *br;
	struct slb_rep *rep;
	struct slb_pub *pub;
	struct slb_sub *probers[SCHED_MAX_EDGES];
	int nprobers;
	struct slb_sub *dialogd;
	struct slb_sub *edges[SCHED_MAX_EDGES];
	int nedges;
	struct event *tick;

	struct lb_table table;
	struct lb_load *load;
	struct sched_db db;
	int use_db;

	uint64_t selects, select_fail, bad_requests, reservations_expired;

	/* passive.c */
	struct slb_reqc *prober_rc[SCHED_MAX_EDGES];
	int nprober_rc;
	struct sched_suspect *suspects;
	bool last_resort; /* [scheduler] all_down = last_resort */
	struct sched_episode episodes[SCHED_MAX_EPISODES];
	int nepisodes;
	struct sched_passive_stats pst;

	struct lb_fb_cfg fb; /* feedback_svc.c */
	struct lb_fb_stats fbst;
	struct event *fb_tick;
};

int sched_cfg_load(struct sched_cfg *c, const char *path);
int sched_svc_init(struct sched_svc *s);
void sched_svc_close(struct sched_svc *s);

/* ------------------------------------------------------------ table.c */

/* Load the node table from its source into t (empty on entry). */
int sched_svc_load_table(
    struct sched_svc *s, struct lb_table *t, char *err, size_t errlen);
/* Save one node's change (removed: its deletion; added: it is new) to
 * the table's source: its rows in the database (which may set its
 * dispatcher row id), or the whole nodes file; 0 or errno with err. */
int sched_svc_persist(struct sched_svc *s, struct lb_node *n, int removed,
    bool added, char *err, size_t errlen);
/* The whole table, and one node's change, on the PUB stream. */
void sched_svc_publish_table(struct sched_svc *s);
void sched_svc_publish_change(struct sched_svc *s, Siplb__V1__ChangeKind kind,
    const struct lb_node *n, const char *reason);
/* Publish an update of n. */
void sched_svc_node_changed(
    struct sched_svc *s, const struct lb_node *n, const char *why);

/* ------------------------------------------------------------ admin.c */

/* One AdminRequest into r and ar (the caller frees ar's table and node);
 * err (errlen) holds r->error when it is one. */
void sched_admin_handle(struct sched_svc *s, const Siplb__V1__AdminRequest *q,
    Siplb__V1__SchedReply *r, Siplb__V1__AdminReply *ar, char *err,
    size_t errlen);

/* ------------------------------------------------------------ service.c */

/* Set a node's health; a transition is logged, published, and clears its
 * passive reports. */
void sched_svc_set_health(struct sched_svc *s, uint32_t id, bool up,
    uint32_t rtt, uint32_t code, const char *why);

/* ------------------------------------------------------------ passive.c */

/* all_down, the ProbeNow sockets to the probers' REPs. */
int sched_passive_init(struct sched_svc *s);
void sched_passive_close(struct sched_svc *s);
/* An edge's passive report (not a 503 Retry-After): counted per source;
 * at the threshold the probers probe the node now. */
void sched_passive_report(
    struct sched_svc *s, const Siplb__V1__NodeHealth *h, const char *src);
/* A prober's NodeHealth, before it is applied: ends a suspicion it
 * answers. */
void sched_passive_prober_health(
    struct sched_svc *s, const Siplb__V1__NodeHealth *h);
/* A selection's outcome st: NO_DESTINATION on an all-down pool is refused
 * or (last_resort) tried on the down nodes; episodes are logged once. */
enum lb_sel_status
sched_passive_all_down(struct sched_svc *s, const struct lb_select *sel,
    enum lb_sel_status st, struct lb_node **out, unsigned *nout);
void sched_passive_stats(struct sched_svc *s, struct slb_counters *k);

/* ------------------------------------------------------ feedback_svc.c */

int sched_fb_svc_init(struct sched_svc *s);
void sched_fb_svc_close(struct sched_svc *s);
/* An edge's 503 with Retry-After; true when it was one (handled). */
bool sched_fb_svc_report(struct sched_svc *s, const Siplb__V1__NodeHealth *h);
/* A prober's NodeFeedback (bus message or snapshot). */
void
sched_fb_svc_feedback(struct sched_svc *s, const Siplb__V1__NodeFeedback *f);
/* OP_DRAIN / OP_UNDRAIN on n: 0, or an errno with err. */
int sched_fb_svc_drain(struct sched_svc *s, struct lb_node *n, bool on,
    bool pause_inbound, char *err, size_t errlen);
/* n was chosen for a new call. */
void sched_fb_svc_selected(struct sched_svc *s, struct lb_node *n);
/* Its counters into a stats reply. */
void sched_fb_svc_stats(struct sched_svc *s, struct slb_counters *k);

#endif
