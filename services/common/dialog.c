#include "dialog.h"

#include <errno.h>
#include <string.h>

_Static_assert(SLB_DIALOG_CREATED == 1 && SLB_DIALOG_CONFIRMED == 2 &&
	SLB_DIALOG_TERMINATED == 3,
    "dialog states are the proto's numbers");
/* dialogd binds the state to MySQL as an int */
_Static_assert(sizeof(enum slb_dialog_state) == sizeof(int),
    "enum slb_dialog_state is int-sized");

int
slb_dialog_key_ok(const char *key)
{
	return key != NULL && key[0] != '\0' &&
	    strlen(key) <= SLB_DIALOG_KEY_MAX;
}

int
slb_dialog_state_ok(int state)
{
	return state >= SLB_DIALOG_CREATED && state <= SLB_DIALOG_TERMINATED;
}

static const char *const state_names[] = {
	[SLB_DIALOG_CREATED] = "created",
	[SLB_DIALOG_CONFIRMED] = "confirmed",
	[SLB_DIALOG_TERMINATED] = "terminated",
};

const char *
slb_dialog_state_name(int state)
{
	return slb_dialog_state_ok(state) ? state_names[state] : "unknown";
}

int
slb_dialog_state_parse(const char *name, enum slb_dialog_state *stp)
{
	for (int st = SLB_DIALOG_CREATED; st <= SLB_DIALOG_TERMINATED; st++) {
		if (name != NULL && strcmp(name, state_names[st]) == 0) {
			*stp = (enum slb_dialog_state)st;
			return 0;
		}
	}
	return EINVAL;
}

int
slb_dialog_copy_field(char *dst, size_t len, const char *src)
{
	size_t i = 0;

	if (len == 0)
		return 1;
	if (src == NULL)
		src = "";
	for (; src[i] && i + 1 < len; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[i] = '\0';
	return src[i] != '\0';
}

int
slb_dialog_from_pb(const Siplb__V1__DialogEvent *e, const char *edge,
    uint64_t now_us, struct slb_dialog *d)
{
	size_t off = 0;

	memset(d, 0, sizeof(*d));
	if (!slb_dialog_key_ok(e->key) || !slb_dialog_state_ok((int)e->state))
		return EINVAL;
	slb_dialog_copy_field(d->key, sizeof(d->key), e->key);
	slb_dialog_copy_field(
	    d->edge, sizeof(d->edge), e->edge && *e->edge ? e->edge : edge);
	d->node_id = e->node_id;
	d->group = e->group;
	for (size_t i = 0; i < e->n_resources; i++) {
		size_t len = strlen(e->resources[i]);

		/* a name that does not fit whole is left out, never cut */
		if (len == 0 ||
		    off + len + (off ? 1 : 0) >= sizeof(d->resources))
			continue;
		if (off)
			d->resources[off++] = ';';
		slb_dialog_copy_field(
		    d->resources + off, len + 1, e->resources[i]);
		off += len;
	}
	d->state = (enum slb_dialog_state)e->state;
	d->created_us = e->created_us ? e->created_us : now_us;
	d->updated_us = e->updated_us ? e->updated_us : now_us;
	slb_dialog_copy_field(d->call_id, sizeof(d->call_id), e->call_id);
	slb_dialog_copy_field(d->from_tag, sizeof(d->from_tag), e->from_tag);
	slb_dialog_copy_field(d->to_tag, sizeof(d->to_tag), e->to_tag);
	if (d->state == SLB_DIALOG_TERMINATED)
		slb_dialog_copy_field(d->reason, sizeof(d->reason), e->reason);
	return 0;
}

void
slb_dialog_to_pb(struct slb_dialog *d, Siplb__V1__DialogEvent *e, char **res,
    size_t nres_max)
{
	char *save = NULL, *tok;
	size_t nres = 0;

	siplb__v1__dialog_event__init(e);
	e->key = d->key;
	e->state = (Siplb__V1__DialogState)d->state;
	e->node_id = d->node_id;
	e->group = d->group;
	for (tok = strtok_r(d->resources, ";", &save); tok && nres < nres_max;
	     tok = strtok_r(NULL, ";", &save))
		res[nres++] = tok;
	e->resources = res;
	e->n_resources = nres;
	e->edge = d->edge;
	e->call_id = d->call_id;
	e->from_tag = d->from_tag;
	e->to_tag = d->to_tag;
	e->created_us = d->created_us;
	e->updated_us = d->updated_us;
	e->reason = d->reason;
}
