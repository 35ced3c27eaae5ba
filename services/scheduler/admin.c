/*
 * The scheduler's admin commands (AdminRequest, from siplb-admin and
 * siplbctl): list, add, remove, enable, disable, resize, update, reload,
 * drain, undrain.  One function per command, found by op in admin_cmds;
 * the steps every command shares are sched_admin_handle's: find the node
 * named, keep a copy of the table to undo a change that cannot be saved
 * (file source), then save, publish and answer with the node, or undo.
 */
#define SLB_LOG_MODULE "sched"
#include <errno.h>
#include <stdio.h>

#include "log.h"
#include "lb_pb.h"
#include "svc.h"

#define OP(x) SIPLB__V1__ADMIN_REQUEST__OP__OP_##x

/* What a command leaves to sched_admin_handle. */
enum admin_next {
	ADMIN_DONE, /* answered, or refused before a change */
	ADMIN_SAVE, /* o->n changed: save, publish, answer */
	ADMIN_UNDO, /* not saved: restore; STATUS_INTERNAL */
	ADMIN_UNDO_QUIET, /* refused after a change: restore */
};

/* One admin request being handled. */
struct admin_op {
	struct sched_svc *s;
	const Siplb__V1__AdminRequest *q;
	Siplb__V1__SchedReply *r;
	Siplb__V1__AdminReply *ar;
	struct lb_node *n; /* the node q->node_id names, or added */
	const char *what; /* "added", ...: for the log, the change */
	char *err;
	size_t errlen;
	bool backed_up; /* the table was copied: an undo restores it */
};

static void
admin_reply_node(Siplb__V1__AdminReply *ar, const struct lb_node *n)
{
	ar->node = lb_pb_node(n);
}

static int
admin_reload(struct sched_svc *s, int reset, char *err, size_t errlen)
{
	struct lb_table t;
	int rc;

	lb_table_init(&t, 0);
	if ((rc = sched_svc_load_table(s, &t, err, errlen)) != 0) {
		lb_table_free(&t);
		return rc;
	}
	if (!reset) {
		lb_table_inherit(&t, &s->table);
		lb_fb_inherit(&t, &s->table);
	} else
		t.rng = s->table.rng;
	lb_table_free(&s->table);
	s->table = t;
	if (reset)
		lb_load_reset(s->load);
	lb_load_rebind(s->load, &s->table);
	slb_log_notice("node table reloaded: %zu nodes%s", s->table.n,
	    reset ? ", health and load reset" : ", health and load kept");
	sched_svc_publish_table(s);
	return 0;
}

/* ------------------------------------------------------------ commands */

static enum admin_next
op_list(struct admin_op *o)
{
	o->ar->table = lb_pb_table(&o->s->table);
	return ADMIN_DONE;
}

static enum admin_next
op_reload(struct admin_op *o)
{
	if (admin_reload(o->s, o->q->reset_state, o->err, o->errlen) != 0)
		o->r->status = SIPLB__V1__STATUS__STATUS_INTERNAL;
	else
		o->ar->table = lb_pb_table(&o->s->table);
	return ADMIN_DONE;
}

/* OP_DRAIN, OP_UNDRAIN */
static enum admin_next
op_drain(struct admin_op *o)
{
	struct lb_node *n = o->n;

	/* operational state, like health: not saved */
	sched_fb_svc_drain(o->s, n, o->q->op == OP(DRAIN), o->q->pause_inbound,
	    o->err, o->errlen);
	sched_svc_publish_change(o->s, SIPLB__V1__CHANGE_KIND__CHANGE_UPDATED,
	    n, n->draining ? "admin drain" : "admin undrain");
	admin_reply_node(o->ar, n);
	return ADMIN_DONE;
}

static enum admin_next
op_add(struct admin_op *o)
{
	const Siplb__V1__AdminRequest *q = o->q;
	struct lb_node node;
	int rc;

	if (q->node == NULL ||
	    lb_pb_nodespec(q->node, &node, o->err, o->errlen) != 0) {
		if (q->node == NULL)
			snprintf(o->err, o->errlen, "add: node missing");
		o->r->status = SIPLB__V1__STATUS__STATUS_BAD_REQUEST;
		return ADMIN_DONE;
	}
	/* the OpenSIPS tables hold fewer shapes of node than the file:
	 * refuse what they would not give back as it was */
	if (o->s->use_db &&
	    (rc = sched_mysql_prepare_add(
		 &o->s->db, &o->s->table, &node, o->err, o->errlen)) != 0) {
		o->r->status = rc == EEXIST
		    ? SIPLB__V1__STATUS__STATUS_CONFLICT
		    : rc == EINVAL ? SIPLB__V1__STATUS__STATUS_BAD_REQUEST
				   : SIPLB__V1__STATUS__STATUS_INTERNAL;
		return ADMIN_DONE;
	}
	rc = lb_table_add(&o->s->table, &node, &o->n, o->err, o->errlen);
	if (rc != 0) {
		o->r->status = rc == EEXIST
		    ? SIPLB__V1__STATUS__STATUS_CONFLICT
		    : SIPLB__V1__STATUS__STATUS_BAD_REQUEST;
		return ADMIN_DONE;
	}
	o->what = "added";
	return ADMIN_SAVE;
}

static enum admin_next
op_remove(struct admin_op *o)
{
	struct sched_svc *s = o->s;
	struct lb_node node = *o->n;

	/* the database first: a row that cannot be deleted stays a node */
	if (s->use_db &&
	    sched_svc_persist(s, &node, 1, false, o->err, o->errlen) != 0) {
		o->r->status = SIPLB__V1__STATUS__STATUS_INTERNAL;
		return ADMIN_DONE;
	}
	lb_table_remove(&s->table, node.id);
	o->n = NULL;
	lb_load_rebind(s->load, &s->table);
	if (!s->use_db &&
	    sched_svc_persist(s, &node, 1, false, o->err, o->errlen) != 0)
		return ADMIN_UNDO;
	slb_log_notice("node %u %s removed by admin", node.id, node.uri);
	sched_svc_publish_change(
	    s, SIPLB__V1__CHANGE_KIND__CHANGE_REMOVED, &node, "admin remove");
	admin_reply_node(o->ar, &node);
	return ADMIN_DONE;
}

/* OP_ENABLE, OP_DISABLE */
static enum admin_next
op_enable(struct admin_op *o)
{
	o->n->enabled = o->q->op == OP(ENABLE);
	o->what = o->n->enabled ? "enabled" : "disabled";
	return ADMIN_SAVE;
}

static enum admin_next
op_resize(struct admin_op *o)
{
	if (lb_pb_resize(o->n, o->q->resources, o->err, o->errlen) != 0) {
		o->r->status = SIPLB__V1__STATUS__STATUS_BAD_REQUEST;
		return ADMIN_UNDO_QUIET;
	}
	lb_load_rebind(o->s->load, &o->s->table);
	o->what = "resized";
	return ADMIN_SAVE;
}

static enum admin_next
op_update(struct admin_op *o)
{
	const Siplb__V1__NodeSpec *spec = o->q->node;

	if (spec == NULL) {
		snprintf(o->err, o->errlen, "update: node missing");
		o->r->status = SIPLB__V1__STATUS__STATUS_BAD_REQUEST;
		return ADMIN_DONE;
	}
	if (spec->has_weight) {
		if (spec->weight < 1 || spec->weight > 1000000) {
			snprintf(o->err, o->errlen,
			    "weight %u: must be 1..1000000", spec->weight);
			o->r->status = SIPLB__V1__STATUS__STATUS_BAD_REQUEST;
			return ADMIN_DONE;
		}
		o->n->weight = spec->weight;
		lb_node_update_rweight(o->n);
	}
	if (spec->has_priority)
		o->n->priority = spec->priority;
	o->what = "updated";
	return ADMIN_SAVE;
}

static enum admin_next
op_unknown(struct admin_op *o)
{
	snprintf(
	    o->err, o->errlen, "unknown admin operation %d", (int)o->q->op);
	o->r->status = SIPLB__V1__STATUS__STATUS_BAD_REQUEST;
	return ADMIN_DONE;
}

/* Which of the shared steps come before a command. */
#define ADMIN_NO_NODE 1 /* names no existing node: no lookup */
#define ADMIN_NO_UNDO 2 /* saves nothing: no table copy */

static const struct admin_cmd {
	enum admin_next (*fn)(struct admin_op *o);
	unsigned flags;
} admin_cmds[] = {
	[OP(LIST)] = { op_list, ADMIN_NO_NODE | ADMIN_NO_UNDO },
	[OP(ADD)] = { op_add, ADMIN_NO_NODE },
	[OP(REMOVE)] = { op_remove, 0 },
	[OP(ENABLE)] = { op_enable, 0 },
	[OP(DISABLE)] = { op_enable, 0 },
	[OP(RESIZE)] = { op_resize, 0 },
	[OP(RELOAD)] = { op_reload, ADMIN_NO_NODE | ADMIN_NO_UNDO },
	[OP(UPDATE)] = { op_update, 0 },
	[OP(DRAIN)] = { op_drain, ADMIN_NO_UNDO },
	[OP(UNDRAIN)] = { op_drain, ADMIN_NO_UNDO },
};

/* an op this scheduler does not know still names a node first: a
 * missing one is "does not exist", as for the others */
static const struct admin_cmd admin_unknown = { op_unknown, 0 };

static const struct admin_cmd *
admin_cmd_of(Siplb__V1__AdminRequest__Op op)
{
	if ((unsigned)op < sizeof(admin_cmds) / sizeof(admin_cmds[0]) &&
	    admin_cmds[op].fn != NULL)
		return &admin_cmds[op];
	return &admin_unknown;
}

/* ------------------------------------------------------------ shared */

/* After a command changed o->n: save it, publish it, answer with it. */
static enum admin_next
admin_save(struct admin_op *o)
{
	struct sched_svc *s = o->s;
	struct lb_node *n = o->n;
	int rc;

	if ((rc = sched_svc_persist(
		 s, n, 0, o->q->op == OP(ADD), o->err, o->errlen)) != 0) {
		if (s->use_db) {
			/* nothing was changed in the database: undo memory */
			o->r->status = rc == EINVAL
			    ? SIPLB__V1__STATUS__STATUS_BAD_REQUEST
			    : SIPLB__V1__STATUS__STATUS_INTERNAL;
			return ADMIN_UNDO_QUIET;
		}
		return ADMIN_UNDO;
	}
	slb_log_notice("node %u %s %s by admin", n->id, n->uri, o->what);
	sched_svc_publish_change(s,
	    o->q->op == OP(ADD) ? SIPLB__V1__CHANGE_KIND__CHANGE_ADDED
				: SIPLB__V1__CHANGE_KIND__CHANGE_UPDATED,
	    n, o->what);
	admin_reply_node(o->ar, n);
	return ADMIN_DONE;
}

/* Put the table back as it was before the command; backup is emptied. */
static void
admin_undo(struct admin_op *o, struct lb_table *backup)
{
	struct sched_svc *s = o->s;

	if (o->backed_up) {
		lb_table_free(&s->table);
		s->table = *backup;
		lb_table_init(backup, 0);
		lb_load_rebind(s->load, &s->table);
	}
	if (o->r->status == SIPLB__V1__STATUS__STATUS_INTERNAL)
		slb_log_err("admin change not saved, undone: %s", o->err);
}

void
sched_admin_handle(struct sched_svc *s, const Siplb__V1__AdminRequest *q,
    Siplb__V1__SchedReply *r, Siplb__V1__AdminReply *ar, char *err,
    size_t errlen)
{
	const struct admin_cmd *c = admin_cmd_of(q->op);
	struct admin_op o = { s, q, r, ar, NULL, NULL, err, errlen, false };
	struct lb_table backup;
	enum admin_next next;

	r->body_case = SIPLB__V1__SCHED_REPLY__BODY_ADMIN;
	r->admin = ar;
	r->status = SIPLB__V1__STATUS__STATUS_OK;
	lb_table_init(&backup, 0);
	if (!(c->flags & ADMIN_NO_NODE)) {
		o.n = lb_table_find(&s->table, q->node_id);
		if (o.n == NULL) {
			snprintf(
			    err, errlen, "node %u does not exist", q->node_id);
			r->status = SIPLB__V1__STATUS__STATUS_NOT_FOUND;
			r->error = err;
			return;
		}
	}
	/* keep a copy to undo a change that is refused or cannot be saved
	 * (to the file or to the database alike) */
	if (!(c->flags & ADMIN_NO_UNDO)) {
		if (lb_table_copy(&backup, &s->table) != 0) {
			snprintf(err, errlen, "out of memory");
			r->status = SIPLB__V1__STATUS__STATUS_INTERNAL;
			r->error = err;
			lb_table_free(&backup);
			return;
		}
		o.backed_up = true;
	}
	next = c->fn(&o);
	if (next == ADMIN_SAVE)
		next = admin_save(&o);
	if (next == ADMIN_UNDO)
		r->status = SIPLB__V1__STATUS__STATUS_INTERNAL;
	if (next == ADMIN_UNDO || next == ADMIN_UNDO_QUIET)
		admin_undo(&o, &backup);
	if (r->status != SIPLB__V1__STATUS__STATUS_OK)
		r->error = err;
	lb_table_free(&backup);
}
