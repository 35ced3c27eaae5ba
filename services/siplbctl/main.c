/*
 * siplbctl: the command-line client of the siplb suite (what
 * `opensipsctl dispatcher ...` and `opensips-cli -x mi lb_list` were).
 * Talks req/rep to the services; finds them through the config file.
 *
 * Exit codes: 0 ok, 1 refused by the service, 2 no node could be chosen,
 * 64 usage, 69 service unreachable, 78 configuration.
 */
#define SLB_LOG_MODULE "ctl"
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "cfg.h"
#include "dialog.h"
#include "log.h"
#include "msg.h"
#include "ctl.h"
#include "pbjson.h"

#define EXIT_REFUSED 1
#define EXIT_NOCHOICE 2
#define EXIT_UNREACHABLE 69

struct ctl_cfg {
	char run_dir[SLB_CFG_STRLEN];
	char sched_rep[SLB_CFG_STRLEN];
	char edge_rep[SLB_CFG_STRLEN];
	char dialogd_rep[SLB_CFG_STRLEN];
	char edge_listen[SLB_CFG_STRLEN];
	int timeout_ms;
};

#define OFF(f) offsetof(struct ctl_cfg, f)
static const struct slb_cfg_key ctl_keys[] = {
	{ "general", "run_dir", SLB_CFG_STR, 0, 0, "/run/siplb", OFF(run_dir),
	    "" },
	{ "scheduler", "rep", SLB_CFG_ADDR, 0, 0, SLB_ADDR_SCHEDULER_REP,
	    OFF(sched_rep), "" },
	{ "edge", "rep", SLB_CFG_ADDR, 0, 0, SLB_ADDR_EDGE_REP, OFF(edge_rep),
	    "" },
	{ "edge", "listen", SLB_CFG_STR, 0, 0,
	    "udp:127.0.0.1:5060, tcp:127.0.0.1:5060", OFF(edge_listen), "" },
	{ "dialogd", "rep", SLB_CFG_ADDR, 0, 0, SLB_ADDR_DIALOGD_REP,
	    OFF(dialogd_rep), "" },
	{ "ctl", "timeout", SLB_CFG_INT, 10, 600000, "2000", OFF(timeout_ms),
	    "ms siplbctl waits for an answer" },
	{ NULL, NULL, 0, 0, 0, NULL, 0, NULL },
};

static struct ctl_cfg cfg;
static int json_out;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: siplbctl [-c FILE] [--json] [--timeout MS] COMMAND ...\n"
	    "  nodes                              list nodes with load and state\n"
	    "  node add --uri URI [--group G] [--set S] [--resources R]\n"
	    "           [--weight W] [--priority P] [--probe-mode 0|1|2]\n"
	    "           [--description D] [--attrs A] [--socket S] [--id N]\n"
	    "           [--disabled]\n"
	    "  node remove|enable|disable ID\n"
	    "  node resize ID NAME=CAP[;NAME=CAP]   change capacities\n"
	    "  node set ID [--weight W] [--priority P]\n"
	    "  node drain ID [--pause-inbound] [--no-wait] [--wait S]\n"
	    "                                     no new calls; waits for its\n"
	    "                                     dialogs to end\n"
	    "  node undrain ID\n"
	    "  select --group G|--set S [--resource R] [--algorithm A]\n"
	    "         [--key K] [--hash-key H] [--exclude ID,ID] [--max N]\n"
	    "         [--relative] [--overcommit] [--reserve] [--tie-first]\n"
	    "                                     --set S: dispatcher set S\n"
	    "                                     (not with least-load)\n"
	    "  reload [--reset]                   reload the node table\n"
	    "  stats                              the scheduler's counters (bus too)\n"
	    "  edge stats                         the edge's counters\n"
	    "  health                             0 when the edge and the\n"
	    "                                     scheduler answer, else 1\n"
	    "                                     (a keepalived vrrp_script)\n"
	    "  dialogs [--key K] [--node N] [--state created|confirmed|\n"
	    "          terminated] [--edge E] [--limit N] [--counts]\n"
	    "                                     dialogs in the store (dialogd)\n"
	    "  dialogd stats                      dialogd's counters (bus too)\n"
	    "  top [--interval S] [--count N]     nodes and edge, refreshing\n"
	    "  doctor [--from ADDR] [--sip-timeout MS] [--node ID]\n"
	    "                                     warn when a node trusts the\n"
	    "                                     edge in apply-inbound-acl\n"
	    "                                     (0 right, 1 warning, 2 trouble)\n"
	    "The config file is -c FILE, else $SIPLB_CONF, else " SLB_DEFAULT_CONF
	    ".\n");
}

static int
die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "siplbctl: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	usage(stderr);
	return SLB_EXIT_USAGE;
}

/* Send one request to the scheduler; exits on transport trouble. */
static int
sched_call(Siplb__V1__SchedRequest *q, Siplb__V1__SchedReply **rp)
{
	ProtobufCMessage *pm;
	int err;

	err = slb_req_call(cfg.sched_rep, &q->base,
	    &siplb__v1__sched_reply__descriptor, cfg.timeout_ms, 2, &pm);
	if (err == ETIMEDOUT) {
		fprintf(stderr,
		    "siplbctl: the scheduler at %s did not answer "
		    "within %d ms (is siplb-scheduler running?)\n",
		    cfg.sched_rep, cfg.timeout_ms);
		return EXIT_UNREACHABLE;
	}
	if (err != 0) {
		fprintf(stderr, "siplbctl: scheduler at %s: %s\n",
		    cfg.sched_rep,
		    err == EPROTONOSUPPORT ? "speaks another protocol version"
					   : strerror(err));
		return EXIT_UNREACHABLE;
	}
	*rp = (Siplb__V1__SchedReply *)pm;
	if ((*rp)->status != SIPLB__V1__STATUS__STATUS_OK) {
		const char *e = (*rp)->error && *(*rp)->error
		    ? (*rp)->error
		    : "request refused";
		if (json_out) {
			json_t *j = json_pack("{s:s}", "error", e);
			json_dumpf(j, stdout, JSON_INDENT(2));
			printf("\n");
			json_decref(j);
		}
		fprintf(stderr, "siplbctl: %s\n", e);
		slb_msg_free(pm);
		return EXIT_REFUSED;
	}
	return 0;
}

static void
print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2));
	printf("\n");
	json_decref(j);
}

static void
print_nodes(Siplb__V1__Node **nodes, size_t n)
{
	if (json_out) {
		json_t *a = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, slb_node_json(nodes[i]));
		print_json(json_pack("{s:o}", "nodes", a));
		return;
	}
	printf("%-5s %-5s %-5s %-32s %-8s %-6s %-6s %-5s %-8s %s\n", "ID",
	    "GROUP", "SET", "URI", "ADMIN", "HEALTH", "WEIGHT", "PRIO", "RTT",
	    "RESOURCES(load/cap)");
	for (size_t i = 0; i < n; i++) {
		const Siplb__V1__Node *nd = nodes[i];
		char rtt[32];

		if (nd->rtt_us)
			snprintf(
			    rtt, sizeof(rtt), "%.1fms", nd->rtt_us / 1000.0);
		else
			snprintf(rtt, sizeof(rtt), "-");
		printf("%-5u %-5u %-5u %-32s %-8s %-6s %-6u %-5d %-8s", nd->id,
		    nd->group, nd->set, nd->uri,
		    nd->enabled ? "enabled" : "disabled",
		    nd->up ? "up" : "down", nd->weight, nd->priority, rtt);
		for (size_t r = 0; r < nd->n_resources; r++)
			printf(" %s=%d/%d", nd->resources[r]->name,
			    nd->resources[r]->load,
			    nd->resources[r]->capacity);
		ctl_print_feedback(nd);
		printf("\n");
	}
}

static int
admin(Siplb__V1__AdminRequest *a)
{
	Siplb__V1__SchedRequest q = SIPLB__V1__SCHED_REQUEST__INIT;
	Siplb__V1__SchedReply *r;
	int rc;

	q.body_case = SIPLB__V1__SCHED_REQUEST__BODY_ADMIN;
	q.admin = a;
	if ((rc = sched_call(&q, &r)) != 0)
		return rc;
	if (r->body_case != SIPLB__V1__SCHED_REPLY__BODY_ADMIN) {
		fprintf(stderr, "siplbctl: unexpected reply\n");
		slb_msg_free(&r->base);
		return EXIT_REFUSED;
	}
	if (r->admin->table)
		print_nodes(r->admin->table->nodes, r->admin->table->n_nodes);
	else if (r->admin->node)
		print_nodes(&r->admin->node, 1);
	slb_msg_free(&r->base);
	return 0;
}

/*
 * SelectRequest.group names the pool: a load_balancer group for
 * least-load, a dispatcher set for every other algorithm, as the edge's
 * "lb GROUP RES [ALG]" and "ds SET ALG" rules ask.  --set S is the
 * dispatcher set S, so it takes a dispatcher algorithm (round-robin when
 * none is named); with least-load, or with --group as well, it is refused
 * rather than read as something else.
 */
static int
select_pool(struct ctl_opts *o)
{
	const char *alg = o->sel.algorithm;
	int least = alg != NULL && *alg != '\0'
	    ? strcmp(alg, "least-load") == 0
	    : o->sel.n_resources > 0;

	if (!o->seen_set)
		return 0;
	if (o->seen_group)
		return die_usage("select: give --group G (a load_balancer "
				 "group) or --set S (a dispatcher set), not "
				 "both%s",
		    "");
	if (least)
		return die_usage("select --set: least-load works on "
				 "load_balancer groups (--group G); a "
				 "dispatcher set takes an algorithm such as "
				 "round-robin (--algorithm)%s",
		    "");
	if (alg == NULL || *alg == '\0')
		o->sel.algorithm = "round-robin";
	o->sel.group = o->spec.set;
	return 0;
}

static int
cmd_select(int argc, char **argv)
{
	struct ctl_opts o;
	Siplb__V1__SchedRequest q = SIPLB__V1__SCHED_REQUEST__INIT;
	Siplb__V1__SchedReply *r;
	const char *why;
	int rc;

	memset(&o, 0, sizeof(o));
	siplb__v1__node_spec__init(&o.spec);
	siplb__v1__select_request__init(&o.sel);
	if (ctl_parse_opts(argc, argv, &o) != 0) {
		usage(stderr);
		return SLB_EXIT_USAGE;
	}
	if ((rc = select_pool(&o)) != 0)
		return rc;
	q.body_case = SIPLB__V1__SCHED_REQUEST__BODY_SELECT;
	q.select = &o.sel;
	if ((rc = sched_call(&q, &r)) != 0)
		return rc;
	if (r->body_case != SIPLB__V1__SCHED_REPLY__BODY_SELECT) {
		slb_msg_free(&r->base);
		return EXIT_REFUSED;
	}
	switch (r->select->status) {
	case SIPLB__V1__SELECT_STATUS__SELECT_OK: why = NULL; break;
	case SIPLB__V1__SELECT_STATUS__SELECT_NO_CAPACITY:
		why = "no capacity: nodes offer the resource but all are full";
		break;
	case SIPLB__V1__SELECT_STATUS__SELECT_NO_DESTINATION:
		why = "no destination: no enabled, up node offers it";
		break;
	default: why = "bad request"; break;
	}
	if (json_out) {
		json_t *a = json_array();

		for (size_t i = 0; i < r->select->n_choices; i++)
			json_array_append_new(a,
			    json_pack("{s:I,s:s}", "node_id",
				(json_int_t)r->select->choices[i]->node_id,
				"uri", r->select->choices[i]->uri));
		print_json(json_pack("{s:s,s:o}", "status",
		    why ? (r->select->status ==
				      SIPLB__V1__SELECT_STATUS__SELECT_NO_CAPACITY
				  ? "no_capacity"
				  : "no_destination")
			: "ok",
		    "choices", a));
	} else {
		for (size_t i = 0; i < r->select->n_choices; i++)
			printf("%s\n", r->select->choices[i]->uri);
	}
	if (why)
		fprintf(stderr, "siplbctl: %s\n", why);
	slb_msg_free(&r->base);
	return why ? EXIT_NOCHOICE : 0;
}

static int
cmd_node(int argc, char **argv)
{
	Siplb__V1__AdminRequest a = SIPLB__V1__ADMIN_REQUEST__INIT;
	struct ctl_opts o;
	const char *sub;

	if (argc < 2)
		return die_usage("node: give add, remove, enable, disable, "
				 "resize or set%s",
		    "");
	sub = argv[1];
	memset(&o, 0, sizeof(o));
	siplb__v1__node_spec__init(&o.spec);
	siplb__v1__select_request__init(&o.sel);
	if (strcmp(sub, "add") == 0) {
		if (ctl_parse_opts(argc - 1, argv + 1, &o) != 0)
			return SLB_EXIT_USAGE;
		if (o.spec.uri == NULL)
			return die_usage("node add: --uri is required%s", "");
		a.op = SIPLB__V1__ADMIN_REQUEST__OP__OP_ADD;
		a.node = &o.spec;
		return admin(&a);
	}
	if (strcmp(sub, "drain") == 0 || strcmp(sub, "undrain") == 0)
		return ctl_drain(cfg.sched_rep, cfg.timeout_ms, json_out,
		    argc - 1, argv + 1);
	if (argc < 3)
		return die_usage("node %s: give the node ID", sub);
	if (ctl_parse_u32(argv[2], "node ID", &a.node_id) != 0)
		return SLB_EXIT_USAGE;
	if (strcmp(sub, "remove") == 0 || strcmp(sub, "enable") == 0 ||
	    strcmp(sub, "disable") == 0) {
		if (argc != 3)
			return die_usage(
			    "node %s takes only the node ID", sub);
		a.op = sub[0] == 'r' ? SIPLB__V1__ADMIN_REQUEST__OP__OP_REMOVE
		    : sub[0] == 'e'  ? SIPLB__V1__ADMIN_REQUEST__OP__OP_ENABLE
				    : SIPLB__V1__ADMIN_REQUEST__OP__OP_DISABLE;
		return admin(&a);
	}
	if (strcmp(sub, "resize") == 0) {
		if (argc != 4)
			return die_usage(
			    "node resize ID NAME=CAP[;NAME=CAP]%s", "");
		a.op = SIPLB__V1__ADMIN_REQUEST__OP__OP_RESIZE;
		a.resources = argv[3];
		return admin(&a);
	}
	if (strcmp(sub, "set") == 0) {
		if (ctl_parse_opts(argc - 2, argv + 2, &o) != 0)
			return SLB_EXIT_USAGE;
		if (!o.spec.has_weight && !o.spec.has_priority)
			return die_usage("node set: give --weight and/or "
					 "--priority%s",
			    "");
		a.op = SIPLB__V1__ADMIN_REQUEST__OP__OP_UPDATE;
		a.node = &o.spec;
		return admin(&a);
	}
	return die_usage("node: unknown subcommand \"%s\"", sub);
}

static int
cmd_dialogs(int argc, char **argv)
{
	Siplb__V1__DialogdRequest q = SIPLB__V1__DIALOGD_REQUEST__INIT;
	Siplb__V1__DialogdReply *r;
	struct ctl_opts o;
	ProtobufCMessage *pm;
	int err;

	memset(&o, 0, sizeof(o));
	siplb__v1__node_spec__init(&o.spec);
	siplb__v1__select_request__init(&o.sel);
	siplb__v1__dialog_query__init(&o.dq);
	if (ctl_parse_opts(argc, argv, &o) != 0) {
		usage(stderr);
		return SLB_EXIT_USAGE;
	}
	q.body_case = SIPLB__V1__DIALOGD_REQUEST__BODY_QUERY;
	q.query = &o.dq;
	err = slb_req_call(cfg.dialogd_rep, &q.base,
	    &siplb__v1__dialogd_reply__descriptor, cfg.timeout_ms, 2, &pm);
	if (err != 0) {
		fprintf(stderr, "siplbctl: dialogd at %s %s\n",
		    cfg.dialogd_rep,
		    err == ETIMEDOUT ? "did not answer" : strerror(err));
		return EXIT_UNREACHABLE;
	}
	r = (Siplb__V1__DialogdReply *)pm;
	if (r->status != SIPLB__V1__STATUS__STATUS_OK) {
		fprintf(stderr, "siplbctl: %s\n",
		    r->error && *r->error ? r->error : "refused");
		slb_msg_free(pm);
		return EXIT_REFUSED;
	}
	if (json_out) {
		json_t *a = json_array();

		if (o.dq.counts) {
			for (size_t i = 0; i < r->n_counts; i++)
				json_array_append_new(a,
				    json_pack("{s:I,s:s,s:I}", "node_id",
					(json_int_t)r->counts[i]->node_id,
					"resource", r->counts[i]->resource,
					"count",
					(json_int_t)r->counts[i]->count));
			print_json(json_pack("{s:o}", "counts", a));
		} else {
			for (size_t i = 0; i < r->n_dialogs; i++) {
				const Siplb__V1__DialogEvent *d =
				    r->dialogs[i];

				json_array_append_new(a, slb_dialog_json(d));
			}
			print_json(json_pack("{s:o}", "dialogs", a));
		}
	} else if (o.dq.counts) {
		printf("%-6s %-12s %s\n", "NODE", "RESOURCE", "LIVE");
		for (size_t i = 0; i < r->n_counts; i++)
			printf("%-6u %-12s %llu\n", r->counts[i]->node_id,
			    r->counts[i]->resource,
			    (unsigned long long)r->counts[i]->count);
	} else {
		printf("%-18s %-10s %-5s %-10s %s\n", "KEY", "STATE", "NODE",
		    "EDGE", "CALL-ID");
		for (size_t i = 0; i < r->n_dialogs; i++) {
			const Siplb__V1__DialogEvent *d = r->dialogs[i];

			printf("%-18s %-10s %-5u %-10s %s\n", d->key,
			    slb_dialog_state_name(d->state), d->node_id,
			    d->edge, d->call_id);
		}
	}
	slb_msg_free(pm);
	return 0;
}

static void
print_counters(const Siplb__V1__StatsReply *st)
{
	if (json_out) {
		json_t *a = json_array();

		for (size_t i = 0; i < st->n_counters; i++)
			json_array_append_new(a,
			    json_pack("{s:s,s:s,s:I}", "name",
				st->counters[i]->name, "label",
				st->counters[i]->label, "value",
				(json_int_t)st->counters[i]->value));
		print_json(json_pack("{s:o}", "counters", a));
		return;
	}
	for (size_t i = 0; i < st->n_counters; i++) {
		const Siplb__V1__Counter *c = st->counters[i];

		printf("%-28s %-16s %llu\n", c->name, c->label,
		    (unsigned long long)c->value);
	}
}

/* The scheduler's counters: selections, reservations, and for each bus
 * subscriber what it received, its gaps and resyncs. */
static int
cmd_stats(void)
{
	Siplb__V1__SchedRequest q = SIPLB__V1__SCHED_REQUEST__INIT;
	Siplb__V1__SchedReply *r;
	int rc;

	q.body_case = SIPLB__V1__SCHED_REQUEST__BODY_STATS;
	q.stats = 1;
	if ((rc = sched_call(&q, &r)) != 0)
		return rc;
	if (r->body_case != SIPLB__V1__SCHED_REPLY__BODY_STATS) {
		fprintf(stderr, "siplbctl: unexpected reply\n");
		slb_msg_free(&r->base);
		return EXIT_REFUSED;
	}
	print_counters(r->stats);
	slb_msg_free(&r->base);
	return 0;
}

/* Ask `url` (`what`, for messages) for its counters; the edge and dialogd
 * both answer with stats at field 11 (StatsAnswer).  *rp is the caller's
 * to slb_msg_free when this returns 0. */
static int
fetch_stats(const char *what, const char *url, ProtobufCMessage *req,
    Siplb__V1__StatsAnswer **rp)
{
	Siplb__V1__StatsAnswer *r;
	ProtobufCMessage *pm;
	int err;

	err = slb_req_call(url, req, &siplb__v1__stats_answer__descriptor,
	    cfg.timeout_ms, 2, &pm);
	if (err != 0) {
		fprintf(stderr, "siplbctl: %s at %s %s\n", what, url,
		    err == ETIMEDOUT ? "did not answer" : strerror(err));
		return EXIT_UNREACHABLE;
	}
	r = (Siplb__V1__StatsAnswer *)pm;
	if (r->status != SIPLB__V1__STATUS__STATUS_OK || r->stats == NULL) {
		fprintf(stderr, "siplbctl: %s\n",
		    r->error && *r->error ? r->error : "refused");
		slb_msg_free(pm);
		return EXIT_REFUSED;
	}
	*rp = r;
	return 0;
}

static int
show_stats(const char *what, const char *url, ProtobufCMessage *req)
{
	Siplb__V1__StatsAnswer *r;
	int rc;

	if ((rc = fetch_stats(what, url, req, &r)) != 0)
		return rc;
	print_counters(r->stats);
	slb_msg_free(&r->base);
	return 0;
}

static int
cmd_edge_stats(void)
{
	Siplb__V1__EdgeRequest q = SIPLB__V1__EDGE_REQUEST__INIT;

	q.body_case = SIPLB__V1__EDGE_REQUEST__BODY_STATS;
	q.stats = 1;
	return show_stats("the edge", cfg.edge_rep, &q.base);
}

static int
cmd_dialogd_stats(void)
{
	Siplb__V1__DialogdRequest q = SIPLB__V1__DIALOGD_REQUEST__INIT;

	q.body_case = SIPLB__V1__DIALOGD_REQUEST__BODY_STATS;
	q.stats = 1;
	return show_stats("dialogd", cfg.dialogd_rep, &q.base);
}

/*
 * siplbctl health: exit 0 when this host's edge ([edge] rep) answers its
 * statistics request and the scheduler answers, else 1 with the reason, so
 * that keepalived (vrrp_script) moves the VIP away from a broken proxy.
 */
static int
cmd_health(void)
{
	Siplb__V1__EdgeRequest eq = SIPLB__V1__EDGE_REQUEST__INIT;
	Siplb__V1__SchedRequest sq = SIPLB__V1__SCHED_REQUEST__INIT;
	ProtobufCMessage *pm;
	int err, bad = 0;

	eq.body_case = SIPLB__V1__EDGE_REQUEST__BODY_STATS;
	eq.stats = 1;
	err = slb_req_call(cfg.edge_rep, &eq.base,
	    &siplb__v1__edge_reply__descriptor, cfg.timeout_ms, 2, &pm);
	if (err == 0 &&
	    ((Siplb__V1__EdgeReply *)pm)->status !=
		SIPLB__V1__STATUS__STATUS_OK)
		err = EPROTO;
	if (err == 0)
		slb_msg_free(pm);
	if (err != 0) {
		fprintf(stderr, "siplbctl: health: the edge at %s %s\n",
		    cfg.edge_rep,
		    err == ETIMEDOUT ? "did not answer" : strerror(err));
		bad = 1;
	}
	/* any answer, even a refusal, means the scheduler is there */
	sq.body_case = SIPLB__V1__SCHED_REQUEST__BODY_STATS;
	sq.stats = 1;
	err = slb_req_call(cfg.sched_rep, &sq.base,
	    &siplb__v1__sched_reply__descriptor, cfg.timeout_ms, 2, &pm);
	if (err == 0)
		slb_msg_free(pm);
	else {
		fprintf(stderr, "siplbctl: health: the scheduler at %s %s\n",
		    cfg.sched_rep,
		    err == ETIMEDOUT ? "did not answer" : strerror(err));
		bad = 1;
	}
	if (!bad)
		printf("ok: edge and scheduler answer\n");
	return bad ? EXIT_REFUSED : 0;
}

int
main(int argc, char **argv)
{
	const char *path = getenv("SIPLB_CONF");
	char err[1024];
	char *rest[256];
	int nrest = 0, i;
	long timeout = -1;

	slb_log_init("siplbctl");
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json_out = 1;
		} else if (strcmp(argv[i], "-c") == 0 && nrest == 0) {
			if (++i >= argc)
				return die_usage("-c needs a file%s", "");
			path = argv[i];
		} else if (strcmp(argv[i], "--timeout") == 0) {
			if (++i >= argc ||
			    slb_parse_long(argv[i], 10, 600000, &timeout) != 0)
				return die_usage(
				    "--timeout: give 10..600000 ms%s", "");
		} else if ((strcmp(argv[i], "-h") == 0 ||
			       strcmp(argv[i], "--help") == 0) &&
		    nrest == 0) {
			usage(stdout);
			return 0;
		} else if (nrest < 255) {
			rest[nrest++] = argv[i];
		}
	}
	rest[nrest] = NULL;
	if (nrest == 0) {
		usage(stderr);
		return SLB_EXIT_USAGE;
	}
	if (path != NULL && *path == '\0')
		path = NULL;
	if (path == NULL && access(SLB_DEFAULT_CONF, F_OK) == 0)
		path = SLB_DEFAULT_CONF;
	if (slb_cfg_load(path, ctl_keys, &cfg, SLB_CFG_PARTIAL, NULL, NULL,
		err, sizeof(err)) != 0) {
		fprintf(stderr, "siplbctl: %s\n", err);
		return SLB_EXIT_CONFIG;
	}
	if (timeout > 0)
		cfg.timeout_ms = (int)timeout;

	if (strcmp(rest[0], "nodes") == 0) {
		Siplb__V1__AdminRequest a = SIPLB__V1__ADMIN_REQUEST__INIT;

		if (nrest != 1)
			return die_usage("nodes takes no arguments%s", "");
		a.op = SIPLB__V1__ADMIN_REQUEST__OP__OP_LIST;
		return admin(&a);
	}
	if (strcmp(rest[0], "node") == 0)
		return cmd_node(nrest, rest);
	if (strcmp(rest[0], "select") == 0)
		return cmd_select(nrest, rest);
	if (strcmp(rest[0], "dialogs") == 0)
		return cmd_dialogs(nrest, rest);
	if (strcmp(rest[0], "stats") == 0) {
		if (nrest != 1)
			return die_usage("stats takes no arguments%s", "");
		return cmd_stats();
	}
	if (strcmp(rest[0], "edge") == 0) {
		if (nrest != 2 || strcmp(rest[1], "stats") != 0)
			return die_usage("edge: give stats%s", "");
		return cmd_edge_stats();
	}
	if (strcmp(rest[0], "dialogd") == 0) {
		if (nrest != 2 || strcmp(rest[1], "stats") != 0)
			return die_usage("dialogd: give stats%s", "");
		return cmd_dialogd_stats();
	}
	if (strcmp(rest[0], "doctor") == 0)
		return ctl_doctor(cfg.sched_rep, cfg.timeout_ms, json_out,
		    cfg.edge_listen, nrest, rest);
	if (strcmp(rest[0], "health") == 0) {
		if (nrest != 1)
			return die_usage("health takes no arguments%s", "");
		return cmd_health();
	}
	if (strcmp(rest[0], "top") == 0)
		return ctl_top(
		    &(struct ctl_top_io){ sched_call, fetch_stats,
			cfg.sched_rep, cfg.edge_rep, cfg.timeout_ms },
		    nrest, rest);
	if (strcmp(rest[0], "reload") == 0) {
		Siplb__V1__AdminRequest a = SIPLB__V1__ADMIN_REQUEST__INIT;
		struct ctl_opts o;

		memset(&o, 0, sizeof(o));
		if (ctl_parse_opts(nrest, rest, &o) != 0)
			return SLB_EXIT_USAGE;
		a.op = SIPLB__V1__ADMIN_REQUEST__OP__OP_RELOAD;
		a.reset_state = o.reset;
		return admin(&a);
	}
	return die_usage("unknown command \"%s\"", rest[0]);
}
