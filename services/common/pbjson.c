#include "pbjson.h"

#include "dialog.h"

/* What the node says about itself (503 Retry-After backoff, drain, ESL
 * figures): added to slb_node_json's object. */
static json_t *
node_fb_json(json_t *j, const Siplb__V1__Node *n)
{
	const Siplb__V1__NodeFeedback *f = n->feedback;

	json_object_set_new(j, "held", json_boolean(n->held));
	json_object_set_new(j, "draining", json_boolean(n->draining));
	json_object_set_new(
	    j, "pause_inbound", json_boolean(n->pause_inbound));
	json_object_set_new(j, "dialogs", json_integer(n->dialogs));
	json_object_set_new(j, "backoff_ms", json_integer(n->backoff_ms));
	json_object_set_new(
	    j, "backoffs", json_integer((json_int_t)n->backoffs));
	json_object_set_new(j, "load_mode", json_string(n->load_mode));
	json_object_set_new(
	    j, "load_correction", json_integer(n->load_correction));
	json_object_set_new(
	    j, "capacity_limit", json_integer(n->capacity_limit));
	json_object_set_new(
	    j, "stale_count", json_integer((json_int_t)n->stale_count));
	if (f == NULL)
		return j;
	json_object_set_new(j, "feedback",
	    json_pack("{s:b,s:b,s:b,s:I,s:I,s:f,s:I,s:I,s:I,s:I,s:s,s:s,s:b}",
		"linked", f->linked, "have", f->have, "stale", f->stale,
		"session_count", (json_int_t)f->session_count, "max_sessions",
		(json_int_t)f->max_sessions, "idle_cpu",
		f->idle_cpu_milli / 1000.0, "sps_left",
		(json_int_t)f->sps_left, "sps_max", (json_int_t)f->sps_max,
		"interval_ms", (json_int_t)f->interval_ms, "age_ms",
		(json_int_t)f->age_ms, "hostname", f->hostname, "esl", f->esl,
		"paused", f->paused));
	return j;
}

json_t *
slb_node_json(const Siplb__V1__Node *n)
{
	json_t *res = json_object();

	for (size_t i = 0; i < n->n_resources; i++)
		json_object_set_new(res, n->resources[i]->name,
		    json_pack("{s:i,s:i}", "capacity",
			n->resources[i]->capacity, "load",
			n->resources[i]->load));
	return node_fb_json(
	    json_pack("{s:I,s:I,s:I,s:s,s:b,s:b,s:I,s:i,s:I,"
		      "s:I,s:I,s:s,s:s,s:s,s:I,s:I,s:o}",
		"id", (json_int_t)n->id, "group", (json_int_t)n->group, "set",
		(json_int_t)n->set, "uri", n->uri, "enabled", n->enabled, "up",
		n->up, "weight", (json_int_t)n->weight, "priority",
		n->priority, "probe_mode", (json_int_t)n->probe_mode, "rtt_us",
		(json_int_t)n->rtt_us, "last_code", (json_int_t)n->last_code,
		"description", n->description, "attrs", n->attrs, "socket",
		n->socket, "selected", (json_int_t)n->selected, "failed_over",
		(json_int_t)n->failed_over, "resources", res),
	    n);
}

json_t *
slb_dialog_json(const Siplb__V1__DialogEvent *d)
{
	json_t *res = json_array();

	for (size_t i = 0; i < d->n_resources; i++)
		json_array_append_new(res, json_string(d->resources[i]));
	return json_pack("{s:s,s:s,s:I,s:I,s:o,s:s,s:s,s:s,s:s,s:I,s:I,s:s}",
	    "key", d->key, "state", slb_dialog_state_name(d->state), "node_id",
	    (json_int_t)d->node_id, "group", (json_int_t)d->group, "resources",
	    res, "edge", d->edge, "call_id", d->call_id, "from_tag",
	    d->from_tag, "to_tag", d->to_tag, "created_us",
	    (json_int_t)d->created_us, "updated_us", (json_int_t)d->updated_us,
	    "reason", d->reason);
}
