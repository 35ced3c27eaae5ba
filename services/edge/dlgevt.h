#ifndef SIPLB_EDGE_DLGEVT_H
#define SIPLB_EDGE_DLGEVT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dlgtab.h"

/*
 * Dialog events: each one updates the dialog table and waits up to 2 ms
 * (or until 512 are queued) for company, then they go out as one
 * DialogBatch on the edge's PUB (nng costs per message, and nobody waits
 * for an event).  While held (a restore is pending) nothing is published
 * and events queue until edge_dlgevt_hold(e, false).  Owns the queue.
 */

struct edge;
struct edge_rule;
struct event;
struct pending_ev;

struct edge_dlgevt {
	struct pending_ev *q;
	size_t n, cap;
	struct event *timer;
	bool held;
};

int edge_dlgevt_open(struct edge *e);
/* Publish what is queued (when the PUB is open and not held), free. */
void edge_dlgevt_close(struct edge *e);
/* Record the event in the table and queue it; NULL fields keep what the
 * table has (see edge_dlg_update); reason says why a dialog ended. */
void
edge_dlg_event(struct edge *e, const char *key, enum slb_dialog_state state,
    uint32_t node_id, const struct edge_rule *rule, const char *call_id,
    const char *from_tag, const char *to_tag, const char *reason);
/* Hold events back (true), or release and publish them (false). */
void edge_dlgevt_hold(struct edge *e, bool hold);

#endif
