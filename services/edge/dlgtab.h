#ifndef SIPLB_EDGE_DLGTAB_H
#define SIPLB_EDGE_DLGTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uthash.h>

#include "config.h"
#include "dialog.h"
#include "lb.h"
#include "siplb.pb-c.h"

/*
 * The edge's dialog table: every dialog it routed that has not ended, by
 * key, as its snapshots tell the schedulers and dialogd.  Updated by the
 * dialog events (dlgevt.c), refilled from the dialog store after a
 * restart (restore.c), trimmed after dialog_lifetime.  A plain value
 * with no edge context, so it can be tested alone.  Owns its records.
 *
 * While a restore is pending, dialogs that end here without being known
 * yet are remembered, so that the store's older copy of them is not
 * brought back to life when it arrives.
 */

/* Keys and states are the common dialog contract's (dialog.h): the edge
 * makes keys of 16 hex digits (proxy.c) and takes any other edge's up to
 * SLB_DIALOG_KEY_MAX characters; this is a key's buffer, NUL included. */
#define EDGE_DLG_KEY_SIZE (SLB_DIALOG_KEY_MAX + 1)

struct edge_dlg {
	char key[EDGE_DLG_KEY_SIZE];
	uint32_t node_id;
	uint32_t group;
	enum slb_dialog_state state;
	char res[LB_MAX_RES][LB_RES_NAME];
	int nres;
	char call_id[128];
	char from_tag[64];
	char to_tag[64];
	uint64_t created_us, updated_us;
	UT_hash_handle hh;
};

struct edge_dlg_gone;

struct edge_dlgtab {
	struct edge_dlg *h; /* by key */
	size_t n;
	bool restoring;
	struct edge_dlg_gone *gone; /* ended while restoring, by key */
};

/* One dialog event as the proxy reports it: NULL fields (and node_id 0,
 * rule NULL) leave what the table has. */
struct edge_dlg_update {
	const char *key;
	enum slb_dialog_state state;
	uint32_t node_id;
	const struct edge_rule *rule; /* an lb rule: group and resources */
	const char *call_id, *from_tag, *to_tag;
};

/* 1 for a key the table takes: 1..EDGE_DLG_KEY_SIZE-1 characters (read
 * no further than EDGE_DLG_KEY_SIZE). */
bool edge_dlg_key_ok(const char *key);
/* Apply u at now_us: a new key is added (created now) unless u ends it,
 * TERMINATED removes it.  *rec (may be NULL) gets the dialog as it stands
 * after u, for the event to publish.  EINVAL for a bad key, ENOMEM. */
int edge_dlgtab_update(struct edge_dlgtab *t, const struct edge_dlg_update *u,
    uint64_t now_us, struct edge_dlg *rec);
struct edge_dlg *
edge_dlgtab_find(const struct edge_dlgtab *t, const char *key);
/* Add a dialog restored from the store (d taken on success).  EEXIST when
 * the key is known or ended while restoring, EINVAL for a bad key: d
 * stays the caller's. */
int edge_dlgtab_restore(struct edge_dlgtab *t, struct edge_dlg *d);
/* Start (true) or end a restore; ending forgets the ended keys. */
void edge_dlgtab_restoring(struct edge_dlgtab *t, bool on);
/* Forget dialogs created life_us or more before now_us (their BYE never
 * came); how many went. */
size_t
edge_dlgtab_expire(struct edge_dlgtab *t, uint64_t now_us, uint64_t life_us);
void edge_dlgtab_clear(struct edge_dlgtab *t);
/* d as the bus's DialogEvent from edge `stream`, borrowing d's strings;
 * res (LB_MAX_RES slots) holds the resource names' pointers.  The one
 * conversion of the edge's dialogs: events (dlgevt.c) and snapshots
 * (rep.c) alike. */
void edge_dlg_to_pb(const struct edge_dlg *d, const char *stream,
    Siplb__V1__DialogEvent *ev, char **res);

#endif
