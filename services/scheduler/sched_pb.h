#ifndef SIPLB_SCHEDULER_SCHED_PB_H
#define SIPLB_SCHEDULER_SCHED_PB_H

#include "msg.h"
#include "sched.h"

/* Conversions between protobuf messages and the scheduler's structs; the
 * core (nodes.c, select.c, load.c) never sees Siplb__V1__* types. */

/* A Node message holding its own copy of n; free with sched_pb_node_free. */
Siplb__V1__Node *sched_pb_node(const struct sched_node *n);
void sched_pb_node_free(Siplb__V1__Node *pn);
Siplb__V1__NodeTable *sched_pb_table(const struct sched_table *t);
void sched_pb_table_free(Siplb__V1__NodeTable *pt);
/* The reverse: a node as a scheduler published it (edges keep a copy of
 * the table to select from when no scheduler answers). */
int sched_pb_node_from(const Siplb__V1__Node *pn, struct sched_node *n);
/* Replace t's nodes with the table's (health, load and all). */
int sched_pb_table_from(const Siplb__V1__NodeTable *pt, struct sched_table *t);

/* A dialog event borrowed from a message (valid while it lives). */
struct sched_pb_dlg {
	struct sched_dlg_event ev;
	char res[SCHED_MAX_RES][SCHED_RES_NAME];
};
int sched_pb_dlg_event(const Siplb__V1__DialogEvent *e, struct sched_pb_dlg *d);

/* Build a selection from a request (borrowing its strings and exclude
 * list); EINVAL with a message for bad algorithms or resources. */
int sched_pb_select(const Siplb__V1__SelectRequest *q,
    struct sched_select *sel, int tie_first, char *err, size_t errlen);
Siplb__V1__SelectStatus sched_pb_sel_status(enum sched_sel_status st);
void sched_pb_choices(Siplb__V1__SelectReply *sr, struct sched_node **out,
    unsigned n);
void sched_pb_choices_free(Siplb__V1__SelectReply *sr);

/* An admin NodeSpec into a node with defaults. */
int sched_pb_nodespec(const Siplb__V1__NodeSpec *spec, struct sched_node *n,
    char *err, size_t errlen);
/* "pstn=800;vm=50": set capacities, adding resources not yet there. */
int sched_pb_resize(struct sched_node *n, const char *spec, char *err,
    size_t errlen);

#endif
