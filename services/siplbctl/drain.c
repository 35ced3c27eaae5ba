/*
 * siplbctl node drain ID: the scheduler sends the node no new calls (its
 * dialogs go on: in-dialog requests route on the Record-Route, never
 * through a selection), and siplbctl reports the dialogs left on it each
 * second until there are none.  --pause-inbound also has the prober send
 * `fsctl pause inbound` over the node's event socket, so FreeSWITCH
 * itself refuses calls that do not come through siplb.
 */
#define SLB_LOG_MODULE "ctl"
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus.h"
#include "ctl.h"
#include "msg.h"

static int
call(const char *rep, int timeout_ms, Siplb__V1__AdminRequest *a,
    Siplb__V1__SchedReply **rp)
{
	Siplb__V1__SchedRequest q = SIPLB__V1__SCHED_REQUEST__INIT;
	ProtobufCMessage *pm;
	int err;

	q.body_case = SIPLB__V1__SCHED_REQUEST__BODY_ADMIN;
	q.admin = a;
	err = slb_req_call(rep, &q.base, &siplb__v1__sched_reply__descriptor,
	    timeout_ms, 2, &pm);
	if (err != 0) {
		fprintf(stderr, "siplbctl: scheduler at %s: %s\n", rep,
		    err == ETIMEDOUT ? "no answer" : strerror(err));
		return 69;
	}
	*rp = (Siplb__V1__SchedReply *)pm;
	if ((*rp)->status != SIPLB__V1__STATUS__STATUS_OK ||
	    (*rp)->body_case != SIPLB__V1__SCHED_REPLY__BODY_ADMIN ||
	    (*rp)->admin->node == NULL) {
		fprintf(stderr, "siplbctl: %s\n",
		    (*rp)->error && *(*rp)->error ? (*rp)->error
						  : "unexpected reply");
		slb_msg_free(pm);
		return 1;
	}
	return 0;
}

/* The node's live dialogs from a fresh table; -1 on trouble. */
static long
dialogs_left(const char *rep, int timeout_ms, uint32_t id)
{
	Siplb__V1__AdminRequest a = SIPLB__V1__ADMIN_REQUEST__INIT;
	Siplb__V1__SchedReply *r;
	ProtobufCMessage *pm;
	long left = -1;

	Siplb__V1__SchedRequest q = SIPLB__V1__SCHED_REQUEST__INIT;

	a.op = SIPLB__V1__ADMIN_REQUEST__OP__OP_LIST;
	q.body_case = SIPLB__V1__SCHED_REQUEST__BODY_ADMIN;
	q.admin = &a;
	if (slb_req_call(rep, &q.base, &siplb__v1__sched_reply__descriptor,
		timeout_ms, 2, &pm) != 0)
		return -1;
	r = (Siplb__V1__SchedReply *)pm;
	if (r->status == SIPLB__V1__STATUS__STATUS_OK &&
	    r->body_case == SIPLB__V1__SCHED_REPLY__BODY_ADMIN &&
	    r->admin->table != NULL)
		for (size_t i = 0; i < r->admin->table->n_nodes; i++)
			if (r->admin->table->nodes[i]->id == id)
				left = r->admin->table->nodes[i]->dialogs;
	slb_msg_free(pm);
	return left;
}

int
ctl_drain(
    const char *sched_rep, int timeout_ms, int json, int argc, char **argv)
{
	Siplb__V1__AdminRequest a = SIPLB__V1__ADMIN_REQUEST__INIT;
	Siplb__V1__SchedReply *r;
	bool on = strcmp(argv[0], "drain") == 0, wait = true;
	long wait_s = 0, left;
	char *end;
	unsigned long id;
	int rc;
	time_t t0;

	if (argc < 2) {
		fprintf(
		    stderr, "siplbctl: node %s: give the node ID\n", argv[0]);
		return 64;
	}
	id = strtoul(argv[1], &end, 10);
	if (*end != '\0' || argv[1][0] == '\0' || id == 0 || id > UINT32_MAX) {
		fprintf(stderr, "siplbctl: node ID: \"%s\" is not a number\n",
		    argv[1]);
		return 64;
	}
	for (int i = 2; i < argc; i++) {
		if (on && strcmp(argv[i], "--pause-inbound") == 0)
			a.pause_inbound = true;
		else if (on && strcmp(argv[i], "--no-wait") == 0)
			wait = false;
		else if (on && strcmp(argv[i], "--wait") == 0 &&
		    i + 1 < argc &&
		    (wait_s = strtol(argv[i + 1], &end, 10)) > 0 &&
		    *end == '\0')
			i++;
		else {
			fprintf(stderr,
			    "siplbctl: node %s: unknown option "
			    "\"%s\" (drain ID [--pause-inbound] [--no-wait] "
			    "[--wait SECONDS]; undrain ID)\n",
			    argv[0], argv[i]);
			return 64;
		}
	}
	a.op = on ? SIPLB__V1__ADMIN_REQUEST__OP__OP_DRAIN
		  : SIPLB__V1__ADMIN_REQUEST__OP__OP_UNDRAIN;
	a.node_id = (uint32_t)id;
	if ((rc = call(sched_rep, timeout_ms, &a, &r)) != 0)
		return rc;
	left = r->admin->node->dialogs;
	if (!on || !wait) {
		if (json) {
			json_t *j =
			    json_pack("{s:I,s:b,s:I}", "id", (json_int_t)id,
				"draining", r->admin->node->draining,
				"dialogs", (json_int_t)left);
			json_dumpf(j, stdout, JSON_INDENT(2));
			printf("\n");
			json_decref(j);
		} else {
			printf("node %lu: %s, %ld dialogs left\n", id,
			    on ? "draining" : "taking new calls again", left);
		}
		slb_msg_free(&r->base);
		return 0;
	}
	slb_msg_free(&r->base);
	t0 = time(NULL);
	for (;;) {
		if (!json) {
			printf("node %lu: draining, %ld dialogs left\n", id,
			    left);
			fflush(stdout);
		}
		if (left == 0)
			break;
		if (wait_s > 0 && time(NULL) - t0 >= wait_s) {
			fprintf(stderr,
			    "siplbctl: node %lu: %ld dialogs still "
			    "up after %ld s (it stays draining)\n",
			    id, left, wait_s);
			return 1;
		}
		nanosleep(&(struct timespec){ 1, 0 }, NULL);
		if ((left = dialogs_left(
			 sched_rep, timeout_ms, (uint32_t)id)) < 0) {
			fprintf(stderr,
			    "siplbctl: node %lu: the scheduler does "
			    "not answer or the node is gone\n",
			    id);
			return 69;
		}
	}
	if (json) {
		json_t *j = json_pack("{s:I,s:b,s:I}", "id", (json_int_t)id,
		    "draining", 1, "dialogs", (json_int_t)0);
		json_dumpf(j, stdout, JSON_INDENT(2));
		printf("\n");
		json_decref(j);
	} else {
		printf("node %lu: drained: no dialogs left\n", id);
	}
	return 0;
}

void
ctl_print_feedback(const struct Siplb__V1__Node *n)
{
	const Siplb__V1__NodeFeedback *f = n->feedback;

	if (n->draining)
		printf(" draining(%u dialogs%s)", n->dialogs,
		    n->pause_inbound ? ", paused" : "");
	if (n->backoff_ms)
		printf(" backoff=%.1fs", n->backoff_ms / 1000.0);
	if (n->backoffs)
		printf(" backoffs=%llu", (unsigned long long)n->backoffs);
	if (n->load_correction)
		printf(" load%+d", n->load_correction);
	if (n->capacity_limit)
		printf(
		    " cap<=%d", n->capacity_limit < 0 ? 0 : n->capacity_limit);
	if (f != NULL)
		printf(" esl=%s:%s%s sessions=%u/%u idle=%.1f%%", f->esl,
		    !f->linked     ? "down"
			: f->stale ? "stale"
				   : "live",
		    "", f->session_count, f->max_sessions,
		    f->idle_cpu_milli / 1000.0);
	if (n->load_mode && strcmp(n->load_mode, "counted") != 0)
		printf(" mode=%s", n->load_mode);
}
