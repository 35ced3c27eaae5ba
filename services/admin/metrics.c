/*
 * GET /metrics: Prometheus text exposition format 0.0.4.  Every family is
 * written once, with its # HELP and # TYPE, followed by all its samples
 * (the format wants a family's samples together), so everything is
 * fetched first: each scheduler's table and counters, each edge's
 * counters, dialogd's live counts.
 */
#define SLB_LOG_MODULE "metrics"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "log.h"

struct scrape {
	Siplb__V1__SchedReply *table[ADM_MAX_PEERS]; /* admin LIST */
	Siplb__V1__SchedReply *sstats[ADM_MAX_PEERS]; /* stats */
	Siplb__V1__StatsAnswer *estats[ADM_MAX_PEERS];
	Siplb__V1__DialogdReply *dcounts;
	Siplb__V1__StatsAnswer *dstats;
	int table_from; /* first scheduler whose table we have */
};

/* label value escaping: backslash, double quote, line feed */
static void
put_escaped(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void
family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* sample(f, name, value, "k1", "v1", ..., NULL) */
static void
sample(FILE *f, const char *name, const char *value, ...)
{
	va_list ap;
	const char *k;
	int first = 1;

	fputs(name, f);
	va_start(ap, value);
	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);

		fprintf(f, "%s%s=\"", first ? "{" : ",", k);
		put_escaped(f, v);
		fputc('"', f);
		first = 0;
	}
	va_end(ap);
	fprintf(f, "%s %s\n", first ? "" : "}", value);
}

static const char *
u64s(char *buf, uint64_t v)
{
	snprintf(buf, 32, "%llu", (unsigned long long)v);
	return buf;
}

/* Counters of the edges' stats reply, by name, as Prometheus families. */
static const struct {
	const char *counter; /* name in StatsReply */
	const char *metric;
	const char *type;
	const char *label; /* the counter's label becomes this, or NULL */
	const char *help;
} edge_families[] = {
	{ "requests_received", "siplb_edge_requests_received_total", "counter",
	    NULL, "SIP requests received by the edge." },
	{ "responses_received", "siplb_edge_responses_received_total",
	    "counter", NULL, "SIP responses received by the edge." },
	{ "requests_sent", "siplb_edge_requests_sent_total", "counter", NULL,
	    "SIP requests sent by the edge." },
	{ "responses_sent_by_class", "siplb_edge_responses_sent_total",
	    "counter", "class",
	    "SIP responses sent by the edge, by class (1xx..6xx)." },
	{ "dropped", "siplb_edge_dropped_total", "counter", "reason",
	    "SIP messages the edge dropped, by reason." },
	{ "replied", "siplb_edge_replied_total", "counter", "code",
	    "Replies the edge originated itself, by status code." },
	{ "failovers", "siplb_edge_failovers_total", "counter", NULL,
	    "Calls moved to another node after a failure." },
	{ "relayed_from_node", "siplb_edge_relayed_from_node_total", "counter",
	    NULL,
	    "Initial requests from a node relayed towards a phone "
	    "(route_from_node), never selected." },
	{ "scheduler_fallbacks", "siplb_edge_scheduler_fallbacks_total",
	    "counter", NULL,
	    "Calls routed from the cached node table because no scheduler "
	    "answered." },
	{ "scheduler_errors", "siplb_edge_scheduler_errors_total", "counter",
	    NULL, "Scheduler requests that failed." },
	{ "retransmissions", "siplb_edge_retransmissions_total", "counter",
	    NULL, "SIP retransmissions sent by the edge." },
	{ "send_errors", "siplb_edge_send_errors_total", "counter", NULL,
	    "SIP messages the edge could not send." },
	{ "stalls", "siplb_edge_stalls_total", "counter", NULL,
	    "Times the edge's loop stood still for over 2 s (its dialogs are "
	    "then checked against the store)." },
	{ "dialogs_ended_elsewhere",
	    "siplb_edge_dialogs_ended_elsewhere_total", "counter", NULL,
	    "Dialogs forgotten after a stall because the store had them ended." },
	{ "transactions", "siplb_edge_transactions", "gauge", NULL,
	    "SIP transactions the edge holds." },
	{ "branches", "siplb_edge_branches", "gauge", NULL,
	    "Client transactions (branches) the edge holds." },
	{ "dialogs", "siplb_edge_dialogs", "gauge", NULL,
	    "Dialogs the edge holds." },
	{ "tcp_connections", "siplb_edge_tcp_connections", "gauge", NULL,
	    "Open TCP connections of the edge." },
	{ "flood_limited", "siplb_edge_flood_limited_total", "counter",
	    "reaction",
	    "Messages the flood limit refused, by reaction: drop and 503 (requests "
	    "over pike_requests), blocked (anything from a blocked source)." },
	{ "flood_blocks_started", "siplb_edge_flood_blocks_total", "counter",
	    NULL, "Source addresses blocked for pike_block seconds." },
	{ "flood_blocked_sources", "siplb_edge_flood_blocked_sources", "gauge",
	    NULL, "Source addresses blocked now." },
	{ "flood_sources", "siplb_edge_flood_sources", "gauge", NULL,
	    "Source addresses the flood limit tracks (at most pike_max_sources)." },
	{ "flood_sources_evicted", "siplb_edge_flood_sources_evicted_total",
	    "counter", NULL,
	    "Sources forgotten early because pike_max_sources were tracked." },
	{ "tcp_refused", "siplb_edge_tcp_refused_total", "counter", "reason",
	    "TCP connections refused: max_conns (tcp_max_conns) or per_source "
	    "(tcp_max_conns_per_source)." },
	{ "tcp_slow_closed", "siplb_edge_tcp_slow_closed_total", "counter",
	    NULL,
	    "TCP connections closed because a message was not whole within "
	    "tcp_msg_timeout of its first byte (slowloris)." },
	{ "nodes_known", "siplb_edge_nodes_known", "gauge", NULL,
	    "Nodes in the edge's copy of the node table (0 until it has one)." },
};

static const struct {
	const char *counter;
	const char *metric;
	const char *type;
	int bus; /* label is the subscriber's name */
	const char *help;
} sched_families[] = {
	{ "selects", "siplb_scheduler_selections_total", "counter", 0,
	    "Selections the scheduler answered." },
	{ "select_fail", "siplb_scheduler_selection_failures_total", "counter",
	    0,
	    "Selections that found no node (no capacity or no destination)." },
	{ "bad_requests", "siplb_scheduler_bad_requests_total", "counter", 0,
	    "Requests the scheduler refused as malformed." },
	{ "reservations_expired", "siplb_scheduler_reservations_expired_total",
	    "counter", 0, "Reservations no dialog event confirmed in time." },
	{ "dialogs", "siplb_scheduler_dialogs", "gauge", 0,
	    "Dialogs (and reservations) the scheduler counts as load." },
	{ "passive_reports", "siplb_scheduler_passive_reports_total",
	    "counter", 0,
	    "Edge failure reports (timeouts, transport errors) counted." },
	{ "passive_suspected", "siplb_scheduler_passive_suspected_total",
	    "counter", 0,
	    "Nodes the passive reports suspected (probed at once)." },
	{ "passive_probe_up", "siplb_scheduler_passive_probe_up_total",
	    "counter", 0,
	    "Suspected nodes that answered the probe and stayed in rotation." },
	{ "passive_probe_down", "siplb_scheduler_passive_probe_down_total",
	    "counter", 0, "Suspected nodes that failed the probe (down)." },
	{ "passive_unconfirmed", "siplb_scheduler_passive_unconfirmed_total",
	    "counter", 0,
	    "Suspected nodes marked down with no probe outcome (no prober)." },
	{ "all_down_last_resort", "siplb_scheduler_all_down_last_resort_total",
	    "counter", 0,
	    "Calls sent to a down node because its whole pool was down "
	    "(all_down = last_resort)." },
	{ "all_down_refused", "siplb_scheduler_all_down_refused_total",
	    "counter", 0,
	    "Calls refused because every node of their pool was down." },
	{ "all_down_episodes", "siplb_scheduler_all_down_episodes_total",
	    "counter", 0, "Times a pool had every node down." },
	{ "bus_received", "siplb_bus_received_total", "counter", 1,
	    "Bus messages a subscriber received in order." },
	{ "bus_gaps", "siplb_bus_gaps_total", "counter", 1,
	    "Gaps (lost bus messages) a subscriber saw." },
	{ "bus_restarts", "siplb_bus_restarts_total", "counter", 1,
	    "Publisher restarts (new epochs) a subscriber saw." },
	{ "bus_resyncs", "siplb_bus_resyncs_total", "counter", 1,
	    "Snapshots a subscriber applied to resynchronise." },
	{ "bus_replayed", "siplb_bus_replayed_total", "counter", 1,
	    "Missed messages a subscriber had replayed from its publisher's ring." },
	{ "bus_history_lost", "siplb_bus_history_lost_total", "counter", 1,
	    "Gaps the publisher's ring no longer covered (history lost)." },
	{ "bus_dropped", "siplb_bus_dropped_total", "counter", 1,
	    "Bus messages a subscriber dropped (garbage, wrong version, stale)." },
};

static void
fetch(struct adm *a, struct scrape *s)
{
	Siplb__V1__SchedRequest q = SIPLB__V1__SCHED_REQUEST__INIT;
	Siplb__V1__SchedRequest lq = SIPLB__V1__SCHED_REQUEST__INIT;
	Siplb__V1__AdminRequest ar = SIPLB__V1__ADMIN_REQUEST__INIT;
	Siplb__V1__DialogQuery dq = SIPLB__V1__DIALOG_QUERY__INIT;

	s->table_from = -1;
	q.body_case = SIPLB__V1__SCHED_REQUEST__BODY_STATS;
	q.stats = 1;
	ar.op = SIPLB__V1__ADMIN_REQUEST__OP__OP_LIST;
	lq.body_case = SIPLB__V1__SCHED_REQUEST__BODY_ADMIN;
	lq.admin = &ar;
	for (int i = 0; i < a->nsched; i++) {
		Siplb__V1__SchedReply *r;

		if (adm_sched_call(a->sched[i], &lq, &r) != 0)
			continue; /* down: do not wait for it twice */
		if (r->status == SIPLB__V1__STATUS__STATUS_OK && r->admin &&
		    r->admin->table) {
			s->table[i] = r;
			if (s->table_from < 0)
				s->table_from = i;
		} else {
			slb_msg_free(&r->base);
		}
		if (adm_sched_call(a->sched[i], &q, &r) == 0) {
			if (r->status == SIPLB__V1__STATUS__STATUS_OK &&
			    r->stats)
				s->sstats[i] = r;
			else
				slb_msg_free(&r->base);
		}
	}
	for (int i = 0; i < a->nedge; i++)
		adm_edge_stats(a->edge[i], &s->estats[i]);
	adm_dialogd_stats(a, &s->dstats);
	if (a->cfg.dialogd[0]) {
		dq.counts = 1;
		if (adm_dialogd_call(a, &dq, &s->dcounts) != 0)
			s->dcounts = NULL;
		else if (s->dcounts->status != SIPLB__V1__STATUS__STATUS_OK) {
			slb_msg_free(&s->dcounts->base);
			s->dcounts = NULL;
		}
	}
}

static void
scrape_free(struct adm *a, struct scrape *s)
{
	for (int i = 0; i < a->nsched; i++) {
		slb_msg_free(s->table[i] ? &s->table[i]->base : NULL);
		slb_msg_free(s->sstats[i] ? &s->sstats[i]->base : NULL);
	}
	for (int i = 0; i < a->nedge; i++)
		slb_msg_free(s->estats[i] ? &s->estats[i]->base : NULL);
	slb_msg_free(s->dcounts ? &s->dcounts->base : NULL);
	slb_msg_free(s->dstats ? &s->dstats->base : NULL);
}

/* What nodes say about themselves: 503 Retry-After backoffs, drains,
 * ESL figures and their staleness (services/scheduler/feedback.c). */
static void
write_node_feedback(FILE *f, const Siplb__V1__NodeTable *t)
{
	char id[32], v[64];

#define EACH_NODE for (size_t i = 0; i < t->n_nodes; i++)
#define NODE_LABELS "node", u64s(id, t->nodes[i]->id), "uri", t->nodes[i]->uri
	family(f, "siplb_node_backoffs_total", "counter",
	    "503 responses with Retry-After that backed a node off.");
	EACH_NODE sample(f, "siplb_node_backoffs_total",
	    u64s(v, t->nodes[i]->backoffs), NODE_LABELS, NULL);
	family(f, "siplb_node_backoff_seconds", "gauge",
	    "Time left before a backed-off node gets new calls again.");
	EACH_NODE
	{
		snprintf(v, sizeof(v), "%.3f", t->nodes[i]->backoff_ms / 1e3);
		sample(f, "siplb_node_backoff_seconds", v, NODE_LABELS, NULL);
	}
	family(f, "siplb_node_draining", "gauge",
	    "1 while a node is drained (no new calls, dialogs go on).");
	EACH_NODE sample(f, "siplb_node_draining",
	    t->nodes[i]->draining ? "1" : "0", NODE_LABELS, NULL);
	family(f, "siplb_node_dialogs", "gauge",
	    "Dialogs (and reservations) a scheduler counts on a node.");
	EACH_NODE sample(f, "siplb_node_dialogs",
	    u64s(v, t->nodes[i]->dialogs), NODE_LABELS, NULL);
	family(f, "siplb_node_load_correction", "gauge",
	    "Load added to a node's count from its own figures (load_mode).");
	EACH_NODE
	{
		snprintf(v, sizeof(v), "%d", t->nodes[i]->load_correction);
		sample(f, "siplb_node_load_correction", v, NODE_LABELS, NULL);
	}
	family(f, "siplb_node_feedback_stale", "gauge",
	    "1 while a node's ESL figures are stale (no HEARTBEAT for two "
	    "intervals): its load is counted.");
	EACH_NODE
	{
		if (t->nodes[i]->feedback == NULL)
			continue;
		sample(f, "siplb_node_feedback_stale",
		    t->nodes[i]->feedback->stale ? "1" : "0", NODE_LABELS,
		    NULL);
	}
	family(f, "siplb_node_feedback_stale_total", "counter",
	    "Times a node's ESL figures went stale.");
	EACH_NODE sample(f, "siplb_node_feedback_stale_total",
	    u64s(v, t->nodes[i]->stale_count), NODE_LABELS, NULL);
	family(f, "siplb_node_reported_sessions", "gauge",
	    "Session-Count from the node's last ESL HEARTBEAT.");
	EACH_NODE
	{
		if (t->nodes[i]->feedback == NULL ||
		    !t->nodes[i]->feedback->have)
			continue;
		sample(f, "siplb_node_reported_sessions",
		    u64s(v, t->nodes[i]->feedback->session_count), NODE_LABELS,
		    NULL);
	}
#undef EACH_NODE
#undef NODE_LABELS
}

static void
write_nodes(FILE *f, struct adm *a, struct scrape *s)
{
	const Siplb__V1__NodeTable *t;
	char id[32], v[64];

	if (s->table_from < 0)
		return;
	t = s->table[s->table_from]->admin->table;
	family(f, "siplb_node_load", "gauge",
	    "Dialogs in progress on a node, per resource (load balancer "
	    "load).");
	for (size_t i = 0; i < t->n_nodes; i++)
		for (size_t k = 0; k < t->nodes[i]->n_resources; k++) {
			snprintf(v, sizeof(v), "%d",
			    t->nodes[i]->resources[k]->load);
			sample(f, "siplb_node_load", v, "node",
			    u64s(id, t->nodes[i]->id), "uri", t->nodes[i]->uri,
			    "resource", t->nodes[i]->resources[k]->name, NULL);
		}
	family(f, "siplb_node_capacity", "gauge",
	    "Configured capacity of a node, per resource.");
	for (size_t i = 0; i < t->n_nodes; i++)
		for (size_t k = 0; k < t->nodes[i]->n_resources; k++) {
			snprintf(v, sizeof(v), "%d",
			    t->nodes[i]->resources[k]->capacity);
			sample(f, "siplb_node_capacity", v, "node",
			    u64s(id, t->nodes[i]->id), "uri", t->nodes[i]->uri,
			    "resource", t->nodes[i]->resources[k]->name, NULL);
		}
	family(f, "siplb_node_up", "gauge",
	    "1 when the node is healthy (probes, passive reports), else 0.");
	for (size_t i = 0; i < t->n_nodes; i++)
		sample(f, "siplb_node_up", t->nodes[i]->up ? "1" : "0", "node",
		    u64s(id, t->nodes[i]->id), "uri", t->nodes[i]->uri, NULL);
	family(f, "siplb_node_enabled", "gauge",
	    "1 when the node is enabled by the administrator, else 0.");
	for (size_t i = 0; i < t->n_nodes; i++)
		sample(f, "siplb_node_enabled",
		    t->nodes[i]->enabled ? "1" : "0", "node",
		    u64s(id, t->nodes[i]->id), "uri", t->nodes[i]->uri, NULL);
	family(f, "siplb_node_rtt_seconds", "gauge",
	    "Round-trip time of the last OPTIONS probe (absent while "
	    "unknown).");
	for (size_t i = 0; i < t->n_nodes; i++) {
		if (t->nodes[i]->rtt_us == 0)
			continue;
		snprintf(v, sizeof(v), "%.6f", t->nodes[i]->rtt_us / 1e6);
		sample(f, "siplb_node_rtt_seconds", v, "node",
		    u64s(id, t->nodes[i]->id), "uri", t->nodes[i]->uri, NULL);
	}
	family(f, "siplb_node_failed_over_total", "counter",
	    "Calls that failed over away from a node (408, 503, timeout or "
	    "transport error there).");
	for (int r = 0; r < a->nsched; r++) {
		if (s->table[r] == NULL)
			continue;
		t = s->table[r]->admin->table;
		for (size_t i = 0; i < t->n_nodes; i++)
			sample(f, "siplb_node_failed_over_total",
			    u64s(v, t->nodes[i]->failed_over), "node",
			    u64s(id, t->nodes[i]->id), "uri", t->nodes[i]->uri,
			    "scheduler", a->sched[r], NULL);
	}
	/* each replica counts what it chose: one series per scheduler */
	family(f, "siplb_node_selected_total", "counter",
	    "Calls routed to a node (times a scheduler chose it).");
	for (int r = 0; r < a->nsched; r++) {
		if (s->table[r] == NULL)
			continue;
		t = s->table[r]->admin->table;
		for (size_t i = 0; i < t->n_nodes; i++)
			sample(f, "siplb_node_selected_total",
			    u64s(v, t->nodes[i]->selected), "node",
			    u64s(id, t->nodes[i]->id), "uri", t->nodes[i]->uri,
			    "scheduler", a->sched[r], NULL);
	}
	write_node_feedback(f, s->table[s->table_from]->admin->table);
}

static void
write_edges(FILE *f, struct adm *a, struct scrape *s)
{
	char v[32];

	for (size_t k = 0;
	     k < sizeof(edge_families) / sizeof(edge_families[0]); k++) {
		family(f, edge_families[k].metric, edge_families[k].type,
		    edge_families[k].help);
		for (int e = 0; e < a->nedge; e++) {
			const Siplb__V1__StatsReply *st;

			if (s->estats[e] == NULL)
				continue;
			st = s->estats[e]->stats;
			for (size_t c = 0; c < st->n_counters; c++) {
				const Siplb__V1__Counter *ct = st->counters[c];

				if (strcmp(ct->name, edge_families[k].counter))
					continue;
				if (edge_families[k].label)
					sample(f, edge_families[k].metric,
					    u64s(v, ct->value), "edge",
					    a->edge[e], edge_families[k].label,
					    ct->label, NULL);
				else
					sample(f, edge_families[k].metric,
					    u64s(v, ct->value), "edge",
					    a->edge[e], NULL);
			}
		}
	}
}

static void
write_scheds(FILE *f, struct adm *a, struct scrape *s)
{
	char v[32];

	for (size_t k = 0;
	     k < sizeof(sched_families) / sizeof(sched_families[0]); k++) {
		family(f, sched_families[k].metric, sched_families[k].type,
		    sched_families[k].help);
		for (int i = 0; i < a->nsched; i++) {
			const Siplb__V1__StatsReply *st;

			if (s->sstats[i] == NULL)
				continue;
			st = s->sstats[i]->stats;
			for (size_t c = 0; c < st->n_counters; c++) {
				const Siplb__V1__Counter *ct = st->counters[c];

				if (strcmp(
					ct->name, sched_families[k].counter))
					continue;
				if (sched_families[k].bus)
					sample(f, sched_families[k].metric,
					    u64s(v, ct->value), "service",
					    "scheduler", "address",
					    a->sched[i], "subscriber",
					    ct->label, NULL);
				else
					sample(f, sched_families[k].metric,
					    u64s(v, ct->value), "scheduler",
					    a->sched[i], NULL);
			}
		}
		/* dialogd's subscribers (one per edge) in the bus families */
		for (size_t c = 0; sched_families[k].bus && s->dstats &&
		     c < s->dstats->stats->n_counters;
		     c++) {
			const Siplb__V1__Counter *ct =
			    s->dstats->stats->counters[c];

			if (strcmp(ct->name, sched_families[k].counter) == 0)
				sample(f, sched_families[k].metric,
				    u64s(v, ct->value), "service", "dialogd",
				    "address", a->cfg.dialogd, "subscriber",
				    ct->label, NULL);
		}
	}
}

/* dialogd's own counters */
static const struct {
	const char *counter;
	const char *metric;
	const char *help;
} dialogd_families[] = {
	{ "events", "siplb_dialogd_events_total", "Dialog events received." },
	{ "dropped", "siplb_dialogd_dropped_total",
	    "Dialog events dropped while the store was away." },
	{ "marked_lost", "siplb_dialogd_marked_lost_total",
	    "Dialogs ended as \"lost\": an edge's snapshot no longer had them." },
	{ "expired", "siplb_dialogd_expired_total",
	    "Dialogs ended as \"expired\" after the lifetime." },
};

static void
write_dialogd(FILE *f, struct adm *a, struct scrape *s)
{
	char v[32];

	if (s->dstats == NULL)
		return;
	for (size_t k = 0;
	     k < sizeof(dialogd_families) / sizeof(dialogd_families[0]); k++) {
		family(f, dialogd_families[k].metric, "counter",
		    dialogd_families[k].help);
		for (size_t c = 0; c < s->dstats->stats->n_counters; c++) {
			const Siplb__V1__Counter *ct =
			    s->dstats->stats->counters[c];

			if (strcmp(ct->name, dialogd_families[k].counter) == 0)
				sample(f, dialogd_families[k].metric,
				    u64s(v, ct->value), "address",
				    a->cfg.dialogd, NULL);
		}
	}
}

void
adm_metrics(struct adm *a, struct adm_reply *rp)
{
	struct scrape s;
	char *buf = NULL, id[32], v[32];
	size_t len = 0;
	FILE *f;

	memset(&s, 0, sizeof(s));
	if ((f = open_memstream(&buf, &len)) == NULL) {
		adm_reply_error(rp, 500, "out of memory");
		return;
	}
	fetch(a, &s);
	family(f, "siplb_up", "gauge",
	    "1 when siplb-admin could scrape the service at address, else 0.");
	for (int i = 0; i < a->nsched; i++)
		sample(f, "siplb_up", s.table[i] || s.sstats[i] ? "1" : "0",
		    "service", "scheduler", "address", a->sched[i], NULL);
	for (int i = 0; i < a->nedge; i++)
		sample(f, "siplb_up", s.estats[i] ? "1" : "0", "service",
		    "edge", "address", a->edge[i], NULL);
	if (a->cfg.dialogd[0])
		sample(f, "siplb_up", s.dcounts ? "1" : "0", "service",
		    "dialogd", "address", a->cfg.dialogd, NULL);
	write_nodes(f, a, &s);
	write_edges(f, a, &s);
	write_scheds(f, a, &s);
	write_dialogd(f, a, &s);
	if (s.dcounts != NULL) {
		family(f, "siplb_dialogd_dialogs", "gauge",
		    "Live dialogs in the dialog store, per node and resource.");
		for (size_t i = 0; i < s.dcounts->n_counts; i++)
			sample(f, "siplb_dialogd_dialogs",
			    u64s(v, s.dcounts->counts[i]->count), "node",
			    u64s(id, s.dcounts->counts[i]->node_id),
			    "resource", s.dcounts->counts[i]->resource, NULL);
	}
	fclose(f);
	scrape_free(a, &s);
	rp->status = 200;
	rp->text = buf;
	rp->text_len = len;
	rp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
