#ifndef SIPLB_DIALOGD_DIALOGD_H
#define SIPLB_DIALOGD_DIALOGD_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "cfg.h"
#include "store.h"

/*
 * siplb-dialogd: the dialog store.  Subscribes to every edge's numbered
 * dialog events (snapshot at start and on any gap), writes them in batches
 * to SQLite or MySQL/MariaDB, expires dialogs whose BYE never came and
 * publishes those expiries, and answers queries on its REP.
 */

#define DLGD_MAX_EDGES 16
/* Most expiries handled per tick; the rest wait for the next second. */
#define DLGD_EXPIRE_MAX 10000
/* Most events in one expiry publication. */
#define DLGD_PUB_BATCH 512
#define DLGD_LIMIT_DEFAULT 1000
#define DLGD_LIMIT_MAX 10000

/* [general] + [dialogd] of the configuration file. */
struct dlgd_cfg {
	char run_dir[SLB_CFG_STRLEN];
	char log_level[SLB_CFG_STRLEN];
	char log_facility[SLB_CFG_STRLEN];
	int log_syslog;

	char pub[SLB_CFG_STRLEN];
	char rep[SLB_CFG_STRLEN];
	char edge_pubs[SLB_CFG_STRLEN];
	char edge_reps[SLB_CFG_STRLEN];
	char store[SLB_CFG_STRLEN];
	char sqlite_path[SLB_CFG_STRLEN];
	char db_url[SLB_CFG_STRLEN];
	char table[SLB_CFG_STRLEN];
	int flush_interval_ms;
	int batch_max;
	int lifetime_ms;
};

struct dlgd {
	struct dlgd_cfg cfg;
	struct event_base *base;
	struct slb_bridge *br;
	struct slb_pub *pub;
	struct slb_rep *rep;
	struct slb_sub *edges[DLGD_MAX_EDGES];
	char edge_pub[DLGD_MAX_EDGES][SLB_CFG_STRLEN];
	char edge_rep[DLGD_MAX_EDGES][SLB_CFG_STRLEN];
	int nedges;
	struct dlg_store *store;

	/* events received, not yet written */
	struct slb_dialog *q;
	size_t nq, capq;
	struct event *flush_ev;
	struct event *resub_ev; /* resubscribe, outside any callback */
	bool flush_armed;
	bool store_down; /* the last write failed (logged once) */
	bool need_resync; /* events were dropped: ask every edge again */
	struct event *tick;

	uint64_t events, dropped, flushes, expired, lost, queries;
};

extern const struct slb_cfg_key dlgd_cfg_keys[];

int dlgd_cfg_load(struct dlgd_cfg *c, const char *path);
int dlgd_init(struct dlgd *d);
void dlgd_close(struct dlgd *d);

#endif
