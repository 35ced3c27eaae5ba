#ifndef SIPLB_LB_LB_PB_H
#define SIPLB_LB_LB_PB_H

#include "lb.h"
#include "msg.h"

/* Conversions between protobuf messages and the lb library's structs; the
 * core (nodes.c, select.c, load.c) never sees Siplb__V1__* types. */

/* A Node message holding its own copy of n; free with lb_pb_node_free. */
Siplb__V1__Node *lb_pb_node(const struct lb_node *n);
void lb_pb_node_free(Siplb__V1__Node *pn);
Siplb__V1__NodeTable *lb_pb_table(const struct lb_table *t);
void lb_pb_table_free(Siplb__V1__NodeTable *pt);
/* The reverse: a node as a scheduler published it (edges keep a copy of
 * the table to select from when no scheduler answers). */
int lb_pb_node_from(const Siplb__V1__Node *pn, struct lb_node *n);
/* Replace t's nodes with the table's (health, load and all). */
int lb_pb_table_from(const Siplb__V1__NodeTable *pt, struct lb_table *t);

/* A dialog event borrowed from a message (valid while it lives). */
struct lb_pb_dlg {
	struct lb_dlg_event ev;
	char res[LB_MAX_RES][LB_RES_NAME];
};
int lb_pb_dlg_event(const Siplb__V1__DialogEvent *e, struct lb_pb_dlg *d);

/* Build a selection from a request (borrowing its strings and exclude
 * list); EINVAL with a message for bad algorithms or resources. */
int lb_pb_select(const Siplb__V1__SelectRequest *q, struct lb_select *sel,
    int tie_first, char *err, size_t errlen);
/* The reverse, for a client (the edge): q borrows sel's strings and
 * exclude list, and res (LB_MAX_RES slots) holds the resource pointers;
 * the reservation fields (key, reserve, edge) are the caller's to set. */
void lb_pb_select_request(
    const struct lb_select *sel, Siplb__V1__SelectRequest *q, char **res);
Siplb__V1__SelectStatus lb_pb_sel_status(enum lb_sel_status st);
void
lb_pb_choices(Siplb__V1__SelectReply *sr, struct lb_node **out, unsigned n);
void lb_pb_choices_free(Siplb__V1__SelectReply *sr);

/* An admin NodeSpec into a node with defaults. */
int lb_pb_nodespec(const Siplb__V1__NodeSpec *spec, struct lb_node *n,
    char *err, size_t errlen);
/* "pstn=800;vm=50": set capacities, adding resources not yet there. */
int
lb_pb_resize(struct lb_node *n, const char *spec, char *err, size_t errlen);

#endif
