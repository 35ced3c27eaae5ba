/*
 * libFuzzer target: every message a siplb socket decodes from the bus.
 * The first input byte picks the message type (what a PUB, REQ or REP
 * peer could send), the rest is the body, decoded as the services decode
 * it (slb_msg_unpack_buf: size cap, version check); what decodes is then
 * handed to the conversions the receivers run on it (node table, dialog
 * events, selection requests, JSON for the admin API and siplbctl).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "log.h"
#include "msg.h"
#include "pbjson.h"
#include "lb.h"
#include "lb_pb.h"

static const ProtobufCMessageDescriptor *const descs[] = {
	&siplb__v1__bus_message__descriptor,
	&siplb__v1__dialogd_reply__descriptor,
	&siplb__v1__dialogd_request__descriptor,
	&siplb__v1__edge_reply__descriptor,
	&siplb__v1__edge_request__descriptor,
	&siplb__v1__replay_answer__descriptor,
	&siplb__v1__replay_call__descriptor,
	&siplb__v1__sched_reply__descriptor,
	&siplb__v1__sched_request__descriptor,
	&siplb__v1__snapshot_answer__descriptor,
	&siplb__v1__snapshot_call__descriptor,
	&siplb__v1__stats_answer__descriptor,
	&siplb__v1__prober_request__descriptor,
	&siplb__v1__prober_reply__descriptor,
};
#define NDESCS (sizeof(descs) / sizeof(descs[0]))

static void
use_table(const Siplb__V1__NodeTable *pt)
{
	struct lb_table t;
	size_t i;

	if (pt == NULL)
		return;
	lb_table_init(&t, 1);
	(void)lb_pb_table_from(pt, &t);
	lb_table_free(&t);
	for (i = 0; i < pt->n_nodes; i++)
		json_decref(slb_node_json(pt->nodes[i]));
}

static void
use_event(const Siplb__V1__DialogEvent *ev)
{
	struct lb_pb_dlg d;

	if (ev == NULL)
		return;
	(void)lb_pb_dlg_event(ev, &d);
	json_decref(slb_dialog_json(ev));
}

static void
use_bus(const Siplb__V1__BusMessage *b)
{
	size_t i;

	switch (b->body_case) {
	case SIPLB__V1__BUS_MESSAGE__BODY_TABLE: use_table(b->table); break;
	case SIPLB__V1__BUS_MESSAGE__BODY_DIALOG: use_event(b->dialog); break;
	case SIPLB__V1__BUS_MESSAGE__BODY_DIALOGS:
		for (i = 0; i < b->dialogs->n_events; i++)
			use_event(b->dialogs->events[i]);
		break;
	default: break;
	}
}

static void
use_select(const Siplb__V1__SelectRequest *q)
{
	struct lb_select sel;
	char err[256];

	(void)lb_pb_select(q, &sel, 0, err, sizeof(err));
}

static void
use_sched(const Siplb__V1__SchedRequest *q)
{
	struct lb_node n;
	char err[256];
	size_t i;

	switch (q->body_case) {
	case SIPLB__V1__SCHED_REQUEST__BODY_SELECT:
		use_select(q->select);
		break;
	case SIPLB__V1__SCHED_REQUEST__BODY_SELECT_BATCH:
		for (i = 0; i < q->select_batch->n_requests; i++)
			use_select(q->select_batch->requests[i]);
		break;
	case SIPLB__V1__SCHED_REQUEST__BODY_ADMIN:
		if (q->admin->node != NULL) {
			lb_node_defaults(&n);
			(void)lb_pb_nodespec(
			    q->admin->node, &n, err, sizeof(err));
		}
		if (q->admin->resources != NULL && *q->admin->resources) {
			lb_node_defaults(&n);
			(void)lb_pb_resize(
			    &n, q->admin->resources, err, sizeof(err));
		}
		break;
	default: break;
	}
}

static void
use_snapshot(const Siplb__V1__Snapshot *sn)
{
	size_t i;

	if (sn == NULL)
		return;
	if (sn->body_case == SIPLB__V1__SNAPSHOT__BODY_TABLE)
		use_table(sn->table);
	else if (sn->body_case == SIPLB__V1__SNAPSHOT__BODY_DIALOGS)
		for (i = 0; i < sn->dialogs->n_dialogs; i++)
			use_event(sn->dialogs->dialogs[i]);
}

static void
use_sched_reply(const Siplb__V1__SchedReply *r)
{
	if (r->body_case == SIPLB__V1__SCHED_REPLY__BODY_SNAPSHOT)
		use_snapshot(r->snapshot);
	else if (r->body_case == SIPLB__V1__SCHED_REPLY__BODY_ADMIN &&
	    r->admin->table != NULL)
		use_table(r->admin->table);
}

/* a replay carries packed BusMessages: the subscriber decodes each */
static void
use_replay(const Siplb__V1__ReplayAnswer *r)
{
	ProtobufCMessage *b;
	size_t i;

	for (i = 0; i < r->n_messages; i++) {
		if (slb_msg_unpack_buf(&siplb__v1__bus_message__descriptor,
			r->messages[i].data, r->messages[i].len, SLB_MSG_MAX,
			&b) != 0)
			continue;
		use_bus((Siplb__V1__BusMessage *)b);
		slb_msg_free(b);
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	slb_log_init("fuzz-bus");
	slb_log_configure("crit", "local0", 0);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ProtobufCMessageDescriptor *d;
	ProtobufCMessage *m = NULL;

	if (size < 1)
		return 0;
	d = descs[data[0] % NDESCS];
	if (slb_msg_unpack_buf(d, data + 1, size - 1, SLB_MSG_MAX, &m) != 0)
		return 0;
	if (d == &siplb__v1__bus_message__descriptor)
		use_bus((Siplb__V1__BusMessage *)m);
	else if (d == &siplb__v1__sched_request__descriptor)
		use_sched((Siplb__V1__SchedRequest *)m);
	else if (d == &siplb__v1__sched_reply__descriptor)
		use_sched_reply((Siplb__V1__SchedReply *)m);
	else if (d == &siplb__v1__snapshot_answer__descriptor)
		use_snapshot(((Siplb__V1__SnapshotAnswer *)m)->snapshot);
	else if (d == &siplb__v1__replay_answer__descriptor)
		use_replay((Siplb__V1__ReplayAnswer *)m);
	slb_msg_free(m);
	return 0;
}
