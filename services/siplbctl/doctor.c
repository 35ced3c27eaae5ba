/*
 * siplbctl doctor: does each node's FreeSWITCH trust the edge the way
 * siplb needs?  The edge forwards every call from its own address and
 * says who the caller is in X-AUTH-IP.  FreeSWITCH reads that header only
 * when the sender fails apply-inbound-acl and passes apply-proxy-acl; it
 * then checks apply-inbound-acl against the header's address instead
 * (sofia.c, sofia_handle_sip_i_invite).  A node that lists the edge in
 * apply-inbound-acl lets every call through the edge in as the edge:
 * neither its ACL nor its digest auth ever sees the real caller.
 *
 * So each node of the table gets an INVITE from the edge's address that
 * claims to come from 192.0.2.77 (doctor_sip.c), and its answer says:
 *   401, 407   challenged as 192.0.2.77: right
 *   403        refused as 192.0.2.77: right (FreeSWITCH without
 *              auth-calls; a dialplan's own 403 would look the same)
 *   18x, 2xx, 3xx, 6xx, and 4xx but those below: past the ACL, in the
 *              dialplan (180, 404 no route, 484, 486, 488 codecs...):
 *              WARNING
 *   5xx        cannot tell: FreeSWITCH answers 503 before it looks at
 *              any ACL when paused, at max-sessions or stopping
 *   400 408 413 414 415 416 420 421 422 423 481 482 483 491 493 494
 *              cannot tell: the SIP stack refused the message itself
 *   nothing, or only 100 Trying, within --sip-timeout: no answer
 * An inbound ACL with a fail context (FreeSWITCH then sends refused calls
 * to that context's dialplan) reads as let in: check that context.
 * One line per node; exit 0 when every node is right, 1 when one got a
 * WARNING, else 2 (a node not checked, no node, no scheduler).
 */
#define SLB_LOG_MODULE "ctl"
#include <errno.h>
#include <netdb.h>
#include <osipparser2/osip_parser.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bus.h"
#include "cfg.h"
#include "ctl.h"
#include "doctor_sip.h"
#include "msg.h"

/* the exit codes */
#define DOC_FINE 0
#define DOC_WARNED 1
#define DOC_TROUBLE 2

enum doc_class { DOC_RIGHT, DOC_LET_IN, DOC_UNSURE };

static enum doc_class
classify(int code)
{
	/* refusals of the message itself, before any ACL is looked at */
	static const short stack[] = { 400, 408, 413, 414, 415, 416, 420, 421,
		422, 423, 481, 482, 483, 491, 493, 494 };

	if (code == 401 || code == 403 || code == 407)
		return DOC_RIGHT;
	if (code >= 500 && code < 600)
		return DOC_UNSURE;
	for (size_t i = 0; i < sizeof(stack) / sizeof(stack[0]); i++)
		if (code == stack[i])
			return DOC_UNSURE;
	return DOC_LET_IN; /* 18x, 2xx, 3xx, other 4xx, 6xx */
}

/* Print the node's line; returns its share of the exit code. */
static int
report(const Siplb__V1__Node *n, const struct doc_outcome *c, int timeout_ms)
{
	int rc = DOC_TROUBLE;

	printf("node %u %s: ", n->id, n->uri);
	if (c->code == 0 && c->err == ECONNREFUSED)
		printf("no answer: nothing listens there (port unreachable)");
	else if (c->code == 0 && c->err != 0)
		printf("error: %s", strerror(c->err));
	else if (c->code == 0)
		printf("no answer within %d ms%s", timeout_ms,
		    c->got_100 ? " (100 Trying only): cannot tell" : "");
	else
		switch (classify(c->code)) {
		case DOC_RIGHT:
			printf("ok: %s the call as " DOC_AUTH_IP " (%d %s)",
			    c->code == 403 ? "refused" : "challenged", c->code,
			    c->reason);
			rc = DOC_FINE;
			break;
		case DOC_LET_IN:
			printf(
			    "WARNING: let in a call that says it comes from " DOC_AUTH_IP
			    " (%d %s): it trusts the edge's %s in "
			    "apply-inbound-acl, so every caller through the edge "
			    "passes as the edge; list %s in apply-proxy-acl "
			    "only, not in apply-inbound-acl",
			    c->code, c->reason, c->local_ip, c->local_ip);
			rc = DOC_WARNED;
			break;
		case DOC_UNSURE:
			printf("cannot tell: %d %s (%s)", c->code, c->reason,
			    c->code >= 500
				? "FreeSWITCH answers 5xx before it "
				  "looks at ACLs: paused, at "
				  "max-sessions or stopping"
				: "refused the request itself, before "
				  "any ACL");
			break;
		}
	if (c->bye_unanswered)
		printf("; BYE not answered: the call may still be up there");
	else if (c->cancel_unanswered)
		printf("; no final answer after CANCEL");
	printf("\n");
	return rc;
}

/* The address behind a bracketed or bare IP literal (port 0). */
static int
addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	char host[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '[' && s[n - 1] == ']')
		s++, n -= 2;
	if (n == 0 || n >= sizeof(host))
		return EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	hints.ai_socktype = SOCK_DGRAM;
	if (getaddrinfo(host, NULL, &hints, &ai) != 0 || ai == NULL)
		return EINVAL;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* The host of the first udp: socket of the edge's listen list. */
static int
listen_host(const char *listen, char *host, size_t hlen)
{
	char items[16][SLB_CFG_STRLEN];
	int n = slb_cfg_split(listen, ',', items, 16);

	for (int i = 0; i < n; i++) {
		const char *s = items[i] + 4, *colon;

		if (strncasecmp(items[i], "udp:", 4) != 0)
			continue;
		colon = s[0] == '[' ? strstr(s, "]:") : strrchr(s, ':');
		if (colon == NULL)
			return EINVAL;
		colon += s[0] == '['; /* keep the ']' */
		if ((size_t)(colon - s) >= hlen)
			return EINVAL;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		return 0;
	}
	return ENOENT;
}
/* Check one node; its line printed, its share of the exit code back. */
static int
check_node(const Siplb__V1__Node *n, const struct sockaddr_storage *from,
    socklen_t flen, int timeout_ms)
{
	struct doc_outcome o;
	char why[256];
	int rc;

	if (doc_sip_check(
		n->uri, from, flen, timeout_ms, &o, why, sizeof(why)) != 0) {
		printf("node %u %s: %s\n", n->id, n->uri, why);
		rc = DOC_TROUBLE;
	} else {
		rc = report(n, &o, timeout_ms);
	}
	fflush(stdout);
	return rc;
}

/* The node table, as `siplbctl nodes` gets it. */
static int
nodes_get(const char *rep, int timeout_ms, Siplb__V1__SchedReply **out)
{
	Siplb__V1__AdminRequest a = SIPLB__V1__ADMIN_REQUEST__INIT;
	Siplb__V1__SchedRequest q = SIPLB__V1__SCHED_REQUEST__INIT;
	Siplb__V1__SchedReply *r;
	ProtobufCMessage *pm;
	int err;

	a.op = SIPLB__V1__ADMIN_REQUEST__OP__OP_LIST;
	q.body_case = SIPLB__V1__SCHED_REQUEST__BODY_ADMIN;
	q.admin = &a;
	err = slb_req_call(rep, &q.base, &siplb__v1__sched_reply__descriptor,
	    timeout_ms, 2, &pm);
	if (err != 0) {
		fprintf(stderr, "siplbctl: doctor: the scheduler at %s %s\n",
		    rep, err == ETIMEDOUT ? "did not answer" : strerror(err));
		return err;
	}
	r = (Siplb__V1__SchedReply *)pm;
	if (r->status != SIPLB__V1__STATUS__STATUS_OK ||
	    r->body_case != SIPLB__V1__SCHED_REPLY__BODY_ADMIN ||
	    r->admin->table == NULL) {
		fprintf(stderr, "siplbctl: doctor: %s\n",
		    r->error && *r->error ? r->error : "unexpected reply");
		slb_msg_free(pm);
		return EPROTO;
	}
	*out = r;
	return 0;
}

static int
doctor_usage(const char *what, const char *arg)
{
	fprintf(stderr,
	    "siplbctl: doctor: %s%s\n"
	    "usage: siplbctl doctor [--from ADDR] [--sip-timeout MS] "
	    "[--node ID]\n",
	    what, arg);
	return SLB_EXIT_USAGE;
}

int
ctl_doctor(const char *sched_rep, int timeout_ms, int json,
    const char *edge_listen, int argc, char **argv)
{
	Siplb__V1__SchedReply *r;
	struct sockaddr_storage from;
	socklen_t flen;
	char host[SLB_CFG_STRLEN] = "";
	long sip_ms = 2000, only = 0;
	int rc = DOC_FINE, checked = 0;

	if (json)
		return doctor_usage("prints text only, not --json", "");
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			return doctor_usage(
			    "unknown or incomplete option ", argv[i]);
		if (strcmp(argv[i], "--from") == 0)
			snprintf(host, sizeof(host), "%s", argv[++i]);
		else if (strcmp(argv[i], "--sip-timeout") == 0) {
			if (slb_parse_long(argv[++i], 100, 60000, &sip_ms) !=
			    0)
				return doctor_usage(
				    "--sip-timeout: give 100..60000 "
				    "ms, not ",
				    argv[i]);
		} else if (strcmp(argv[i], "--node") == 0) {
			if (slb_parse_long(argv[++i], 1, UINT32_MAX, &only) !=
			    0)
				return doctor_usage(
				    "--node: not a node ID: ", argv[i]);
		} else
			return doctor_usage("unknown option ", argv[i]);
	}
	if (host[0] == '\0' &&
	    listen_host(edge_listen, host, sizeof(host)) != 0) {
		fprintf(stderr,
		    "siplbctl: doctor: no udp: address in [edge] "
		    "listen (\"%s\"): give --from ADDR\n",
		    edge_listen);
		return DOC_TROUBLE;
	}
	if (addr_parse(host, &from, &flen) != 0)
		return doctor_usage(
		    "--from: give the edge's IP address, not ", host);
	if (parser_init() != 0) {
		fprintf(
		    stderr, "siplbctl: doctor: libosip2 parser_init failed\n");
		return DOC_TROUBLE;
	}
	if (nodes_get(sched_rep, timeout_ms, &r) != 0)
		return DOC_TROUBLE;
	for (size_t i = 0; i < r->admin->table->n_nodes; i++) {
		const Siplb__V1__Node *n = r->admin->table->nodes[i];
		int one;

		if (only != 0 && n->id != (uint32_t)only)
			continue;
		checked++;
		one = check_node(n, &from, flen, (int)sip_ms);
		if (one == DOC_WARNED ||
		    (one == DOC_TROUBLE && rc == DOC_FINE))
			rc = one;
	}
	slb_msg_free(&r->base);
	if (checked == 0) {
		fprintf(stderr, "siplbctl: doctor: %s\n",
		    only ? "no such node" : "the node table is empty");
		return DOC_TROUBLE;
	}
	return rc;
}
