#include "pbjson.h"

const char *
slb_dialog_state_name(int st)
{
	switch (st) {
	case SIPLB__V1__DIALOG_STATE__DIALOG_CREATED: return "created";
	case SIPLB__V1__DIALOG_STATE__DIALOG_CONFIRMED: return "confirmed";
	case SIPLB__V1__DIALOG_STATE__DIALOG_TERMINATED: return "terminated";
	default: return "unknown";
	}
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
	return json_pack("{s:I,s:I,s:I,s:s,s:b,s:b,s:I,s:i,s:I,s:I,s:I,s:s,"
			 "s:s,s:s,s:I,s:I,s:o}",
	    "id", (json_int_t)n->id, "group", (json_int_t)n->group, "set",
	    (json_int_t)n->set, "uri", n->uri, "enabled", n->enabled, "up",
	    n->up, "weight", (json_int_t)n->weight, "priority", n->priority,
	    "probe_mode", (json_int_t)n->probe_mode, "rtt_us",
	    (json_int_t)n->rtt_us, "last_code", (json_int_t)n->last_code,
	    "description", n->description, "attrs", n->attrs, "socket",
	    n->socket, "selected", (json_int_t)n->selected, "failed_over",
	    (json_int_t)n->failed_over, "resources", res);
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
