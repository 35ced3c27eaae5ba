/*
 * The JSON endpoints of siplb-admin: the routing of every path, and the
 * endpoints that only read (dialogs, stats, health).  The node table's
 * endpoints are api_nodes.c's; the calls to the other services are
 * peers.c's.  Every error is {"error": "..."} with the status that fits.
 */
#define SLB_LOG_MODULE "api"
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "api.h"
#include "bus.h"
#include "dialog.h"
#include "log.h"
#include "pbjson.h"

/* ------------------------------------------------------------ dialogs */

static int
dialogd_reply(
    struct adm *a, int err, Siplb__V1__DialogdReply *r, struct adm_reply *rp)
{
	if (err == ENOTCONN) {
		adm_reply_error(rp, 503,
		    "no dialogd configured ([admin] "
		    "dialogd)");
		return -1;
	}
	if (err == ETIMEDOUT) {
		adm_reply_error(rp, 503,
		    "dialogd at %s did not answer within "
		    "%d ms",
		    a->cfg.dialogd, ADM_CALL_MS);
		return -1;
	}
	if (err != 0) {
		adm_reply_error(rp, 502, "dialogd at %s: %s", a->cfg.dialogd,
		    err == EPROTONOSUPPORT ? "speaks another protocol version"
					   : strerror(err));
		return -1;
	}
	if (r->status != SIPLB__V1__STATUS__STATUS_OK) {
		adm_reply_error(rp, adm_http_status(r->status), "%s",
		    r->error && *r->error ? r->error : "refused by dialogd");
		slb_msg_free(&r->base);
		return -1;
	}
	return 0;
}

static int
arg_u32(void *conn, const char *name, uint32_t *out, struct adm_reply *rp)
{
	const char *s = adm_http_arg(conn, name);
	long v;

	if (s == NULL)
		return 0;
	if (slb_parse_long(s, 0, UINT32_MAX, &v) != 0) {
		adm_reply_error(
		    rp, 400, "%s: \"%s\" is not a number", name, s);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static void
dialogs_list(struct adm *a, void *conn, struct adm_reply *rp)
{
	Siplb__V1__DialogQuery dq = SIPLB__V1__DIALOG_QUERY__INIT;
	Siplb__V1__DialogdReply *r = NULL;
	const char *st = adm_http_arg(conn, "state");
	const char *counts = adm_http_arg(conn, "counts");
	const char *edge = adm_http_arg(conn, "edge");
	json_t *arr;
	int err;

	if (arg_u32(conn, "node", &dq.node_id, rp) ||
	    arg_u32(conn, "limit", &dq.limit, rp))
		return;
	if (st != NULL && *st) {
		enum slb_dialog_state ds;

		if (slb_dialog_state_parse(st, &ds) != 0) {
			adm_reply_error(rp, 400,
			    "state: \"%s\": use created, "
			    "confirmed or terminated",
			    st);
			return;
		}
		dq.state = (Siplb__V1__DialogState)ds;
	}
	if (edge != NULL)
		dq.edge = (char *)edge;
	if (counts != NULL) {
		if (strcmp(counts, "1") == 0 || strcmp(counts, "true") == 0 ||
		    strcmp(counts, "yes") == 0 || *counts == '\0')
			dq.counts = 1;
		else if (strcmp(counts, "0") != 0 &&
		    strcmp(counts, "false") != 0 &&
		    strcmp(counts, "no") != 0) {
			adm_reply_error(
			    rp, 400, "counts: \"%s\": use 1 or 0", counts);
			return;
		}
	}
	err = adm_dialogd_call(a, &dq, &r);
	if (dialogd_reply(a, err, r, rp) != 0)
		return;
	arr = json_array();
	if (dq.counts) {
		for (size_t i = 0; i < r->n_counts; i++)
			json_array_append_new(arr,
			    json_pack("{s:I,s:s,s:I}", "node_id",
				(json_int_t)r->counts[i]->node_id, "resource",
				r->counts[i]->resource, "count",
				(json_int_t)r->counts[i]->count));
		rp->json = json_pack("{s:o}", "counts", arr);
	} else {
		for (size_t i = 0; i < r->n_dialogs; i++)
			json_array_append_new(
			    arr, slb_dialog_json(r->dialogs[i]));
		rp->json = json_pack("{s:o}", "dialogs", arr);
	}
	rp->status = 200;
	slb_msg_free(&r->base);
}

static void
dialog_get(struct adm *a, const char *key, struct adm_reply *rp)
{
	Siplb__V1__DialogQuery dq = SIPLB__V1__DIALOG_QUERY__INIT;
	Siplb__V1__DialogdReply *r = NULL;
	int err;

	dq.key = (char *)key;
	err = adm_dialogd_call(a, &dq, &r);
	if (dialogd_reply(a, err, r, rp) != 0)
		return;
	if (r->n_dialogs == 0)
		adm_reply_error(rp, 404, "dialog \"%s\" not found", key);
	else {
		rp->json = slb_dialog_json(r->dialogs[0]);
		rp->status = 200;
	}
	slb_msg_free(&r->base);
}

/* ------------------------------------------------------------ stats */

/* {"name": value} or {"name": {"label": value}} */
static json_t *
counters_json(Siplb__V1__Counter **c, size_t n)
{
	json_t *o = json_object();

	for (size_t i = 0; i < n; i++) {
		if (c[i]->label == NULL || c[i]->label[0] == '\0') {
			json_object_set_new(o, c[i]->name,
			    json_integer((json_int_t)c[i]->value));
			continue;
		}
		json_t *sub = json_object_get(o, c[i]->name);

		if (!json_is_object(sub)) {
			sub = json_object();
			json_object_set_new(o, c[i]->name, sub);
		}
		json_object_set_new(
		    sub, c[i]->label, json_integer((json_int_t)c[i]->value));
	}
	return o;
}

static void
stats(struct adm *a, struct adm_reply *rp)
{
	Siplb__V1__SchedRequest q = SIPLB__V1__SCHED_REQUEST__INIT;
	Siplb__V1__SchedReply *r = adm_sched_list(a, NULL), *sr;
	json_t *nodes = json_array(), *edges = json_array();
	json_t *scheds = json_array();

	if (r != NULL) {
		for (size_t i = 0; i < r->admin->table->n_nodes; i++) {
			const Siplb__V1__Node *n = r->admin->table->nodes[i];
			json_t *res = json_object();

			for (size_t k = 0; k < n->n_resources; k++)
				json_object_set_new(res, n->resources[k]->name,
				    json_pack("{s:i,s:i}", "load",
					n->resources[k]->load, "capacity",
					n->resources[k]->capacity));
			json_array_append_new(nodes,
			    json_pack("{s:I,s:s,s:b,s:b,s:I,s:f,s:I,s:o}",
				"id", (json_int_t)n->id, "uri", n->uri, "up",
				n->up, "enabled", n->enabled, "rtt_us",
				(json_int_t)n->rtt_us, "rtt_seconds",
				n->rtt_us / 1e6, "selected",
				(json_int_t)n->selected, "resources", res));
		}
		slb_msg_free(&r->base);
	}
	q.body_case = SIPLB__V1__SCHED_REQUEST__BODY_STATS;
	q.stats = 1;
	for (int i = 0; i < a->nsched; i++) {
		int ok = adm_sched_call(a->sched[i], &q, &sr) == 0;
		json_t *o =
		    json_pack("{s:s,s:b}", "address", a->sched[i], "up", ok);

		if (ok && sr->status == SIPLB__V1__STATUS__STATUS_OK &&
		    sr->stats)
			json_object_set_new(o, "counters",
			    counters_json(
				sr->stats->counters, sr->stats->n_counters));
		if (ok)
			slb_msg_free(&sr->base);
		json_array_append_new(scheds, o);
	}
	for (int i = 0; i < a->nedge; i++) {
		Siplb__V1__StatsAnswer *er = NULL;
		int ok = adm_edge_stats(a->edge[i], &er) == 0;
		json_t *o =
		    json_pack("{s:s,s:b}", "address", a->edge[i], "up", ok);

		if (ok) {
			json_object_set_new(o, "counters",
			    counters_json(
				er->stats->counters, er->stats->n_counters));
			slb_msg_free(&er->base);
		}
		json_array_append_new(edges, o);
	}
	rp->json = json_pack("{s:o,s:o,s:o}", "nodes", nodes, "schedulers",
	    scheds, "edges", edges);
	rp->status = r != NULL ? 200 : 503;
	if (r == NULL)
		json_object_set_new(
		    rp->json, "error", json_string("no scheduler answered"));
}

/* ------------------------------------------------------------ health */

static void
healthz(struct adm *a, struct adm_reply *rp)
{
	Siplb__V1__SchedRequest q = SIPLB__V1__SCHED_REQUEST__INIT;
	Siplb__V1__SchedReply *sr;
	Siplb__V1__DialogQuery dq = SIPLB__V1__DIALOG_QUERY__INIT;
	Siplb__V1__DialogdReply *dr = NULL;
	json_t *edges = json_array(), *dlg;
	int sched = 0, all = 1, err;

	/* any answer counts: the scheduler is there */
	q.body_case = SIPLB__V1__SCHED_REQUEST__BODY_STATS;
	q.stats = 1;
	for (int i = 0; i < a->nsched && !sched; i++) {
		if (adm_sched_call(a->sched[i], &q, &sr) == 0) {
			sched = 1;
			slb_msg_free(&sr->base);
		}
	}
	for (int i = 0; i < a->nedge; i++) {
		Siplb__V1__StatsAnswer *er = NULL;
		int up = adm_edge_stats(a->edge[i], &er) == 0;

		slb_msg_free(er ? &er->base : NULL);
		all &= up;
		json_array_append_new(edges,
		    json_pack("{s:s,s:b}", "address", a->edge[i], "up", up));
	}
	if (a->cfg.dialogd[0]) {
		dq.counts = 1;
		err = adm_dialogd_call(a, &dq, &dr);
		dlg = json_boolean(err == 0);
		if (err == 0)
			slb_msg_free(&dr->base);
	} else {
		dlg = json_null();
	}
	rp->status = sched && all ? 200 : 503;
	rp->json = json_pack("{s:b,s:o,s:o,s:s}", "scheduler", sched,
	    "dialogd", dlg, "edges", edges, "status",
	    rp->status == 200 ? "ok" : "degraded");
}

/* ------------------------------------------------------------ routing */

static int
method_is(const char *m, const char *want)
{
	return strcmp(m, want) == 0;
}

static int
bad_method(struct adm_reply *rp, const char *method, const char *allow)
{
	adm_reply_error(rp, 405, "method %s not allowed here (allowed: %s)",
	    method, allow);
	rp->allow = allow;
	return 0;
}

void
adm_api_handle(struct adm *a, const char *method, const char *path,
    const char *body, size_t body_len, void *conn, struct adm_reply *rp)
{
	static const char nodes_pfx[] = "/api/v1/nodes/";
	static const char dlg_pfx[] = "/api/v1/dialogs/";
	int get = method_is(method, "GET") || method_is(method, "HEAD");

	if (strcmp(path, "/healthz") == 0) {
		if (!get)
			bad_method(rp, method, "GET, HEAD");
		else
			healthz(a, rp);
	} else if (strcmp(path, "/metrics") == 0) {
		if (!get)
			bad_method(rp, method, "GET, HEAD");
		else
			adm_metrics(a, rp);
	} else if (strcmp(path, "/api/v1/nodes") == 0) {
		if (get)
			adm_api_nodes_list(a, rp);
		else if (method_is(method, "POST"))
			adm_api_node_add(a, body, body_len, rp);
		else
			bad_method(rp, method, "GET, HEAD, POST");
	} else if (strncmp(path, nodes_pfx, sizeof(nodes_pfx) - 1) == 0) {
		const char *ids = path + sizeof(nodes_pfx) - 1;
		long id;

		if (slb_parse_long(ids, 1, UINT32_MAX, &id) != 0)
			adm_reply_error(rp, 404,
			    "no node \"%s\" (node ids are "
			    "numbers)",
			    ids);
		else if (get)
			adm_api_node_get(a, (uint32_t)id, rp);
		else if (method_is(method, "PATCH"))
			adm_api_node_patch(
			    a, (uint32_t)id, body, body_len, rp);
		else if (method_is(method, "DELETE"))
			adm_api_node_delete(a, (uint32_t)id, rp);
		else
			bad_method(rp, method, "GET, HEAD, PATCH, DELETE");
	} else if (strcmp(path, "/api/v1/reload") == 0) {
		if (method_is(method, "POST"))
			adm_api_reload(a, body, body_len, rp);
		else
			bad_method(rp, method, "POST");
	} else if (strcmp(path, "/api/v1/dialogs") == 0) {
		if (get)
			dialogs_list(a, conn, rp);
		else
			bad_method(rp, method, "GET, HEAD");
	} else if (strncmp(path, dlg_pfx, sizeof(dlg_pfx) - 1) == 0 &&
	    path[sizeof(dlg_pfx) - 1] != '\0') {
		if (get)
			dialog_get(a, path + sizeof(dlg_pfx) - 1, rp);
		else
			bad_method(rp, method, "GET, HEAD");
	} else if (strcmp(path, "/api/v1/stats") == 0) {
		if (get)
			stats(a, rp);
		else
			bad_method(rp, method, "GET, HEAD");
	} else {
		adm_reply_error(rp, 404, "no such path: %s", path);
	}
}
