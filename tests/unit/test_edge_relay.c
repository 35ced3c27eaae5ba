/*
 * Requests from the nodes towards phones (relay.c), with real sockets and
 * the real loop: a "phone" and two "nodes" are UDP (and TCP) sockets of
 * this test on 127.0.0.1, a fake scheduler's REP listens (and must hear
 * nothing), and the edge's dialog events are read from its PUB.
 */
#include <event2/event.h>
#include <poll.h>
#include <unistd.h>

#include "edge.h"
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/rep.h>
#include "unit.h"

struct fx {
	struct edge *e;
	int port; /* the edge's UDP and TCP port */
	int phone, node1, node2;
	int pphone, pnode1, pnode2;
	nng_socket sched; /* a fake scheduler's REP: never asked here */
	nng_socket sub; /* the edge's dialog events */
	Siplb__V1__DialogEvent ev[32]; /* copies, strings in the arrays */
	char ev_key[32][32], ev_res[32][LB_RES_NAME];
	int nev;
	char buf[65536];
};

static int seq;

static void
add_node(struct lb_table *t, uint32_t id, int port)
{
	char uri[64];

	snprintf(uri, sizeof(uri), "sip:127.0.0.1:%d", port);
	unit_add_node(t, id, uri, 1, 1, "pstn=10;transc=10");
}

static int
setup_with(void **state, const char *from_node_rule)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct lb_table t;

	f->e = calloc(1, sizeof(*f->e));
	assert_int_equal(edge_cfg_load(&f->e->cfg, NULL), 0);
	seq++;
	f->port = 31400 + (getpid() % 500) * 20 + seq;
	snprintf(f->e->cfg.listen, sizeof(f->e->cfg.listen),
	    "udp:127.0.0.1:%d, tcp:127.0.0.1:%d", f->port, f->port);
	snprintf(f->e->cfg.scheduler, sizeof(f->e->cfg.scheduler),
	    "inproc://relaysched%d", seq);
	assert_int_equal(nng_rep0_open(&f->sched), 0);
	assert_int_equal(
	    nng_listen(f->sched, f->e->cfg.scheduler, NULL, 0), 0);
	f->e->cfg.scheduler_pub[0] = '\0';
	f->e->cfg.dialogd[0] = '\0';
	snprintf(
	    f->e->cfg.pub, sizeof(f->e->cfg.pub), "inproc://relaypub%d", seq);
	snprintf(
	    f->e->cfg.rep, sizeof(f->e->cfg.rep), "inproc://relayrep%d", seq);
	f->e->cfg.sched_timeout_ms = 300;
	if (from_node_rule != NULL)
		snprintf(f->e->cfg.route[EDGE_RULE_FROM_NODE],
		    sizeof(f->e->cfg.route[0]), "%s", from_node_rule);
	assert_int_equal(edge_init(f->e), 0);
	assert_int_equal(nng_sub0_open(&f->sub), 0);
	assert_int_equal(
	    nng_socket_set(f->sub, NNG_OPT_SUB_SUBSCRIBE, "", 0), 0);
	assert_int_equal(nng_dial(f->sub, f->e->cfg.pub, NULL, 0), 0);
	f->phone = unit_udp_sock(&f->pphone);
	f->node1 = unit_udp_sock(&f->pnode1);
	f->node2 = unit_udp_sock(&f->pnode2);
	lb_table_init(&t, 1);
	add_node(&t, 1, f->pnode1);
	add_node(&t, 2, f->pnode2);
	assert_int_equal(edge_set_table(f->e, &t), 0);
	lb_table_free(&t);
	*state = f;
	return 0;
}

/* route_from_node as this test configures it: a resource that is not the
 * INVITE rule's, so the load is seen to come from this rule */
static int
setup(void **state)
{
	return setup_with(state, "relay transc");
}
static int
setup_refuse(void **state)
{
	return setup_with(state, "reply 403 Not From Nodes");
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	edge_close(f->e);
	free(f->e);
	nng_close(f->sched);
	nng_close(f->sub);
	close(f->phone);
	close(f->node1);
	close(f->node2);
	free(f);
	return 0;
}

/* One turn of the edge's loop (2 ms at most), keeping its dialog events. */
static void
turn(struct fx *f)
{
	struct timeval tv = { 0, 2000 };
	nng_msg *m;

	event_base_loopexit(f->e->base, &tv);
	event_base_dispatch(f->e->base);
	while (nng_recvmsg(f->sub, &m, NNG_FLAG_NONBLOCK) == 0) {
		ProtobufCMessage *pm = NULL;
		Siplb__V1__BusMessage *b;

		assert_int_equal(
		    slb_msg_unpack(&siplb__v1__bus_message__descriptor, m,
			SLB_MSG_MAX, &pm),
		    0);
		nng_msg_free(m);
		b = (Siplb__V1__BusMessage *)pm;
		if (b->body_case == SIPLB__V1__BUS_MESSAGE__BODY_DIALOGS)
			for (size_t i = 0;
			     i < b->dialogs->n_events && f->nev < 32; i++) {
				Siplb__V1__DialogEvent *d =
				    b->dialogs->events[i];
				int k = f->nev++;

				f->ev[k] = *d;
				snprintf(f->ev_key[k], sizeof(f->ev_key[k]),
				    "%s", d->key);
				f->ev[k].key = f->ev_key[k];
				snprintf(f->ev_res[k], sizeof(f->ev_res[k]),
				    "%s",
				    d->n_resources ? d->resources[0] : "");
				f->ev[k].resources = NULL;
			}
		slb_msg_free(pm);
	}
}

static void
turn_arg(void *f)
{
	turn(f);
}

/* Run the loop until fd has a datagram (or ms pass); read it. */
static const char *
recv_on(struct fx *f, int fd, int ms)
{
	return unit_loop_recv(
	    f->e->base, turn_arg, f, fd, f->buf, sizeof(f->buf), ms);
}

/* The next request on fd that is not a response (100 Trying). */
static const char *
recv_request(struct fx *f, int fd, int ms)
{
	uint64_t end = slb_now_us() + (uint64_t)ms * 1000u;
	const char *got;

	while ((got = recv_on(f, fd, ms)) != NULL &&
	    strncmp(got, "SIP/2.0 ", 8) == 0)
		if (slb_now_us() >= end)
			return NULL;
	return got;
}

/* Loop for ms, then say whether the fake scheduler was asked anything. */
static bool
scheduler_asked(struct fx *f, int ms)
{
	uint64_t end = slb_now_us() + (uint64_t)ms * 1000u;
	nng_msg *m;

	while (slb_now_us() < end) {
		if (nng_recvmsg(f->sched, &m, NNG_FLAG_NONBLOCK) == 0) {
			nng_msg_free(m);
			return true;
		}
		turn(f);
	}
	return false;
}

/* The dialog event of key in state st, or NULL. */
static const Siplb__V1__DialogEvent *
event_of(struct fx *f, const char *key, Siplb__V1__DialogState st)
{
	for (int i = 0; i < f->nev; i++)
		if (strcmp(f->ev[i].key, key) == 0 && f->ev[i].state == st)
			return &f->ev[i];
	return NULL;
}

static const char *
wait_event(struct fx *f, const char *key, Siplb__V1__DialogState st,
    uint32_t node_id, const char *res)
{
	const Siplb__V1__DialogEvent *d = NULL;
	int k;

	for (int i = 0; i < 200 && (d = event_of(f, key, st)) == NULL; i++)
		turn(f);
	assert_non_null(d);
	assert_int_equal(d->node_id, node_id);
	k = (int)(d - f->ev);
	assert_string_equal(f->ev_res[k], res);
	return f->ev_key[k];
}

/* The value of param name (up to ';' or '>') in a header line, in buf. */
static const char *
param_of(const char *line, const char *name, char *buf, size_t len)
{
	char pat[32];
	const char *p;
	size_t n;

	snprintf(pat, sizeof(pat), ";%s=", name);
	p = strstr(line, pat);
	assert_non_null(p);
	p += strlen(pat);
	n = strcspn(p, ";>");
	assert_true(n < len);
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

static char msg[4096];

/* A node's INVITE to a registered phone, as the registrar sends it on the
 * Path the edge added: our Route on top, the phone's Contact as target. */
static const char *
node_invite_to(struct fx *f, const char *cid, const char *route,
    int target_port, int via_port)
{
	snprintf(msg, sizeof(msg),
	    "INVITE sip:1002@127.0.0.1:%d;line=x SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport\r\n"
	    "%s"
	    "From: <sip:1001@lab.test>;tag=fn1\r\n"
	    "To: <sip:1002@lab.test>\r\n"
	    "Call-ID: %s\r\nCSeq: 10 INVITE\r\n"
	    "Contact: <sip:fs@127.0.0.1:%d>\r\n"
	    "Max-Forwards: 69\r\nContent-Length: 0\r\n\r\n",
	    target_port, via_port, cid, route, cid, f->pnode1);
	return msg;
}

static const char *
node_invite(struct fx *f, const char *cid, const char *route)
{
	return node_invite_to(f, cid, route, f->pphone, f->pnode1);
}

/* The phone answers req with code (To tag "ph", Record-Route copied). */
static void
phone_answers(struct fx *f, const char *req, int code, const char *reason)
{
	char resp[4096];
	int n =
	    snprintf(resp, sizeof(resp), "SIP/2.0 %d %s\r\n", code, reason);
	const char *p = strstr(req, "\r\n") + 2;

	while (*p && strncmp(p, "\r\n", 2) != 0) {
		const char *e = strstr(p, "\r\n");
		int len = (int)(e - p);

		if (!strncasecmp(p, "Via:", 4) ||
		    !strncasecmp(p, "From:", 5) ||
		    !strncasecmp(p, "Call-ID:", 8) ||
		    !strncasecmp(p, "CSeq:", 5) ||
		    !strncasecmp(p, "Record-Route:", 13))
			n += snprintf(resp + n, sizeof(resp) - (size_t)n,
			    "%.*s\r\n", len, p);
		else if (!strncasecmp(p, "To:", 3))
			n += snprintf(resp + n, sizeof(resp) - (size_t)n,
			    "%.*s;tag=ph\r\n", len, p);
		p = e + 2;
	}
	snprintf(resp + n, sizeof(resp) - (size_t)n,
	    "Contact: <sip:1002@127.0.0.1:%d>\r\nContent-Length: 0\r\n\r\n",
	    f->pphone);
	unit_send_to(f->phone, f->port, resp);
}

/* An in-dialog request of the call cid, from fd, to target, by route. */
static void
in_dialog(struct fx *f, int fd, const char *method, const char *target,
    int via_port, const char *from, const char *to, const char *cid, int cseq,
    const char *route)
{
	snprintf(msg, sizeof(msg),
	    "%s %s SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s%d%s;rport\r\n"
	    "Route: %s\r\n"
	    "From: %s\r\nTo: %s\r\n"
	    "Call-ID: %s\r\nCSeq: %d %s\r\n"
	    "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
	    method, target, via_port, cid, cseq, method, route, from, to, cid,
	    cseq, method);
	unit_send_to(fd, f->port, msg);
}

/* Set up a relayed call from node 1 to the phone: the INVITE as the phone
 * got it into inv, the Record-Route it carried into rr. */
static void
relayed_call(struct fx *f, const char *cid, char *inv, size_t invlen, char *rr,
    size_t rrlen)
{
	char route[128], want[160];
	const char *got;

	snprintf(
	    route, sizeof(route), "Route: <sip:127.0.0.1:%d;lr>\r\n", f->port);
	unit_send_to(f->node1, f->port, node_invite(f, cid, route));
	got = recv_on(f, f->node1, 1000);
	assert_non_null(got);
	assert_true(strncmp(got, "SIP/2.0 100 Trying\r\n", 20) == 0);
	got = recv_on(f, f->phone, 1000);
	assert_non_null(got);
	snprintf(want, sizeof(want),
	    "INVITE sip:1002@127.0.0.1:%d;line=x "
	    "SIP/2.0\r\n",
	    f->pphone);
	assert_true(strncmp(got, want, strlen(want)) == 0);
	snprintf(inv, invlen, "%s", got);
	/* our Route popped, the call record-routed with the node's id */
	assert_null(unit_header(inv, "Route", 0));
	snprintf(rr, rrlen, "%s", unit_header(inv, "Record-Route", 0));
	snprintf(want, sizeof(want),
	    "Record-Route: <sip:127.0.0.1:%d;lr;ftag=fn1;nid=1;dk=", f->port);
	assert_true(strncmp(rr, want, strlen(want)) == 0);
	assert_null(unit_header(inv, "Record-Route", 1));
	snprintf(want, sizeof(want),
	    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKslb", f->port);
	assert_true(
	    strncmp(unit_header(inv, "Via", 0), want, strlen(want)) == 0);
	assert_string_equal(
	    unit_header(inv, "Max-Forwards", 0), "Max-Forwards: 68");
}

/* ------------------------------------------------------------ tests */

static void
test_invite_from_a_node_goes_to_the_phone_unselected_and_counts_on_it(
    void **state)
{
	struct fx *f = *state;
	char inv[4096], rr[1024], dk[32], route[1100], want[160];
	const char *got, *key;

	relayed_call(f, "rel1@test", inv, sizeof(inv), rr, sizeof(rr));
	param_of(rr, "dk", dk, sizeof(dk));
	/* never selected: no scheduler request, no fallback either */
	assert_false(scheduler_asked(f, 100));
	assert_int_equal(f->e->st.sched_fallbacks, 0);
	assert_int_equal(f->e->st.relayed_from_node, 1);
	assert_int_equal(recv_on(f, f->node2, 10) == NULL, 1);
	/* a dialog on node 1 under route_from_node's resource */
	key = wait_event(
	    f, dk, SIPLB__V1__DIALOG_STATE__DIALOG_CREATED, 1, "transc");
	assert_string_equal(key, dk);
	assert_non_null(edge_dlgtab_find(&f->e->dlgs, dk));

	/* 200 back to node 1, the dialog confirmed there */
	phone_answers(f, inv, 200, "OK");
	got = recv_on(f, f->node1, 1000);
	assert_non_null(got);
	assert_true(strncmp(got, "SIP/2.0 200 OK\r\n", 16) == 0);
	assert_null(unit_header(got, "Via", 1)); /* ours popped */
	wait_event(
	    f, dk, SIPLB__V1__DIALOG_STATE__DIALOG_CONFIRMED, 1, "transc");

	/* the node's ACK reaches the phone by the Record-Route */
	snprintf(route, sizeof(route), "%s", rr + strlen("Record-Route: "));
	snprintf(want, sizeof(want), "sip:1002@127.0.0.1:%d", f->pphone);
	in_dialog(f, f->node1, "ACK", want, f->pnode1,
	    "<sip:1001@lab.test>;tag=fn1", "<sip:1002@lab.test>;tag=ph",
	    "rel1@test", 10, route);
	got = recv_on(f, f->phone, 1000);
	assert_non_null(got);
	assert_true(strncmp(got, "ACK sip:1002@127.0.0.1:", 23) == 0);
	assert_null(unit_header(got, "Route", 0));

	/* the phone hangs up: the BYE goes back to node 1 */
	snprintf(want, sizeof(want), "sip:fs@127.0.0.1:%d", f->pnode1);
	in_dialog(f, f->phone, "BYE", want, f->pphone,
	    "<sip:1002@lab.test>;tag=ph", "<sip:1001@lab.test>;tag=fn1",
	    "rel1@test", 1, route);
	got = recv_request(f, f->node1, 1000);
	assert_non_null(got);
	assert_true(strncmp(got, "BYE sip:fs@127.0.0.1:", 21) == 0);
	assert_null(unit_header(got, "Route", 0));
	wait_event(
	    f, dk, SIPLB__V1__DIALOG_STATE__DIALOG_TERMINATED, 1, "transc");
	assert_null(edge_dlgtab_find(&f->e->dlgs, dk));
	assert_false(scheduler_asked(f, 20));
}

static void
test_node_hangs_up_a_relayed_call_and_the_bye_reaches_the_phone(void **state)
{
	struct fx *f = *state;
	char inv[4096], rr[1024], dk[32], route[1100], want[160];
	const char *got;

	relayed_call(f, "rel2@test", inv, sizeof(inv), rr, sizeof(rr));
	param_of(rr, "dk", dk, sizeof(dk));
	phone_answers(f, inv, 200, "OK");
	assert_non_null(recv_on(f, f->node1, 1000));
	snprintf(route, sizeof(route), "%s", rr + strlen("Record-Route: "));
	snprintf(want, sizeof(want), "sip:1002@127.0.0.1:%d", f->pphone);
	in_dialog(f, f->node1, "BYE", want, f->pnode1,
	    "<sip:1001@lab.test>;tag=fn1", "<sip:1002@lab.test>;tag=ph",
	    "rel2@test", 11, route);
	got = recv_request(f, f->phone, 1000);
	assert_non_null(got);
	assert_true(strncmp(got, "BYE sip:1002@127.0.0.1:", 23) == 0);
	assert_null(unit_header(got, "Route", 0));
	/* the phone's 200 goes back to the node */
	phone_answers(f, got, 200, "OK");
	got = recv_on(f, f->node1, 1000);
	assert_non_null(got);
	assert_true(strncmp(got, "SIP/2.0 200 OK\r\n", 16) == 0);
	assert_non_null(strstr(unit_header(got, "CSeq", 0), "BYE"));
	wait_event(
	    f, dk, SIPLB__V1__DIALOG_STATE__DIALOG_TERMINATED, 1, "transc");
	assert_false(scheduler_asked(f, 20));
}

static void
test_node_without_our_route_is_relayed_to_the_request_uri(void **state)
{
	struct fx *f = *state;
	const char *got;

	/* FreeSWITCH calling a registered user through the edge (outbound
	 * proxy), no Path: the Request-URI is the target */
	unit_send_to(f->node1, f->port, node_invite(f, "rel3@test", ""));
	got = recv_request(f, f->phone, 1000);
	assert_non_null(got);
	assert_true(strncmp(got, "INVITE sip:1002@127.0.0.1:", 26) == 0);
	assert_non_null(
	    strstr(unit_header(got, "Record-Route", 0), ";nid=1;"));
	assert_false(scheduler_asked(f, 50));
}

static void
test_node_invite_addressed_to_the_edge_gets_404_not_a_loop(void **state)
{
	struct fx *f = *state;
	const char *got;

	unit_send_to(f->node1, f->port,
	    node_invite_to(f, "rel4@test", "", f->port, f->pnode1));
	got = recv_on(f, f->node1, 1000);
	assert_non_null(got);
	if (strncmp(got, "SIP/2.0 100 ", 12) == 0)
		got = recv_on(f, f->node1, 1000);
	assert_non_null(got);
	assert_true(strncmp(got, "SIP/2.0 404 ", 12) == 0);
	assert_false(scheduler_asked(f, 50));
	assert_null(recv_on(f, f->phone, 10));
}

static void
test_route_from_node_reply_403_refuses_what_nodes_send(void **state)
{
	struct fx *f = *state;
	char route[128];
	const char *got;

	snprintf(
	    route, sizeof(route), "Route: <sip:127.0.0.1:%d;lr>\r\n", f->port);
	unit_send_to(f->node1, f->port, node_invite(f, "rel5@test", route));
	got = recv_on(f, f->node1, 1000);
	assert_non_null(got);
	assert_true(strncmp(got, "SIP/2.0 403 Not From Nodes\r\n", 28) == 0);
	assert_null(recv_on(f, f->phone, 100));
	assert_false(scheduler_asked(f, 20));
	assert_int_equal(f->nev, 0);
}

static void
test_outsider_with_our_route_is_selected_never_relayed(void **state)
{
	struct fx *f = *state;
	char route[128];
	const char *got;

	/* a phone with the edge as outbound proxy (a preloaded Route, as
	 * baresip sends) dialing another phone's address: not a node, so
	 * its method's rule (selection), never straight to that address */
	snprintf(
	    route, sizeof(route), "Route: <sip:127.0.0.1:%d;lr>\r\n", f->port);
	unit_send_to(f->phone, f->port,
	    node_invite_to(f, "rel6@test", route, f->pphone, f->pphone));
	assert_true(scheduler_asked(f, 500));
	assert_int_equal(f->e->st.relayed_from_node, 0);
	/* the phone got its 100, never the INVITE */
	got = recv_on(f, f->phone, 50);
	assert_non_null(got);
	assert_true(strncmp(got, "SIP/2.0 100 ", 12) == 0);
	assert_null(recv_on(f, f->phone, 50));
}

static void
test_node_on_tcp_from_its_own_port_is_known_by_its_via(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char m[4096], route[128];
	const char *got;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)f->port);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	snprintf(
	    route, sizeof(route), "Route: <sip:127.0.0.1:%d;lr>\r\n", f->port);
	snprintf(m, sizeof(m), "%s", node_invite(f, "rel7@test", route));
	/* node 1 over a connection it opened: Via names node 1 */
	memcpy(strstr(m, "SIP/2.0/UDP"), "SIP/2.0/TCP", 11);
	assert_int_equal(write(fd, m, strlen(m)), (ssize_t)strlen(m));
	got = recv_request(f, f->phone, 1000);
	assert_non_null(got);
	assert_true(strncmp(got, "INVITE sip:1002@127.0.0.1:", 26) == 0);
	assert_false(scheduler_asked(f, 50));
	close(fd);
}

static void
test_relayed_dialog_has_a_key_of_its_own_beside_the_callers(void **state)
{
	struct fx *f = *state;
	char inv[4096], rr[1024], dk[32], callers[32], again[32];
	const char *cid = "rel8@test";

	relayed_call(f, cid, inv, sizeof(inv), rr, sizeof(rr));
	param_of(rr, "dk", dk, sizeof(dk));
	/* a proxy back end sends the caller's INVITE back with its Call-ID
	 * and From tag: the caller's dialog has the plain key (proxy.c) */
	snprintf(callers, sizeof(callers), "%016llx",
	    (unsigned long long)edge_fnv64(cid, strlen(cid), "fn1", 3));
	assert_string_not_equal(dk, callers);
	snprintf(again, sizeof(again), "%016llx",
	    (unsigned long long)edge_fnv64(
		callers, strlen(callers), "relayed", 7));
	assert_string_equal(dk, again);
}

static void
test_busy_phone_ends_the_relayed_dialog_and_the_node_hears_it(void **state)
{
	struct fx *f = *state;
	char inv[4096], rr[1024], dk[32];
	const char *got;

	relayed_call(f, "rel9@test", inv, sizeof(inv), rr, sizeof(rr));
	param_of(rr, "dk", dk, sizeof(dk));
	phone_answers(f, inv, 486, "Busy Here");
	/* the ACK of a non-2xx goes to the phone hop by hop (§17.1.1.3) */
	got = recv_request(f, f->phone, 1000);
	assert_non_null(got);
	assert_true(strncmp(got, "ACK sip:1002@127.0.0.1:", 23) == 0);
	got = recv_on(f, f->node1, 1000);
	assert_non_null(got);
	assert_true(strncmp(got, "SIP/2.0 486 Busy Here\r\n", 23) == 0);
	wait_event(
	    f, dk, SIPLB__V1__DIALOG_STATE__DIALOG_TERMINATED, 1, "transc");
	assert_null(edge_dlgtab_find(&f->e->dlgs, dk));
	/* no failover to another phone or node */
	assert_false(scheduler_asked(f, 50));
	assert_null(recv_on(f, f->node2, 10));
	assert_int_equal(f->e->st.failovers, 0);
}

static void
test_only_route_from_node_relays_and_it_never_selects(void **state)
{
	struct edge_rule rules[EDGE_RULES];
	struct edge_cfg c;

	(void)state;
	assert_int_equal(edge_cfg_load(&c, NULL), 0);
	assert_int_equal(edge_rules_load(&c, rules), 0);
	/* the default: relay, counted as pstn */
	assert_int_equal(rules[EDGE_RULE_FROM_NODE].kind, RULE_RELAY);
	assert_int_equal(rules[EDGE_RULE_FROM_NODE].nres, 1);
	assert_string_equal(rules[EDGE_RULE_FROM_NODE].res[0], "pstn");
	snprintf(c.route[EDGE_RULE_FROM_NODE], sizeof(c.route[0]), "relay");
	assert_int_equal(edge_rules_load(&c, rules), 0);
	assert_int_equal(rules[EDGE_RULE_FROM_NODE].nres, 0);
	snprintf(
	    c.route[EDGE_RULE_FROM_NODE], sizeof(c.route[0]), "relay pstn;vm");
	assert_int_equal(edge_rules_load(&c, rules), 0);
	assert_int_equal(rules[EDGE_RULE_FROM_NODE].nres, 2);
	snprintf(
	    c.route[EDGE_RULE_FROM_NODE], sizeof(c.route[0]), "reply 403");
	assert_int_equal(edge_rules_load(&c, rules), 0);
	assert_int_equal(rules[EDGE_RULE_FROM_NODE].kind, RULE_REPLY);
	assert_int_equal(rules[EDGE_RULE_FROM_NODE].code, 403);
	/* a node's request is never selected */
	snprintf(
	    c.route[EDGE_RULE_FROM_NODE], sizeof(c.route[0]), "lb 1 pstn");
	assert_int_equal(edge_rules_load(&c, rules), EINVAL);
	snprintf(c.route[EDGE_RULE_FROM_NODE], sizeof(c.route[0]),
	    "ds 1 round-robin");
	assert_int_equal(edge_rules_load(&c, rules), EINVAL);
	snprintf(c.route[EDGE_RULE_FROM_NODE], sizeof(c.route[0]),
	    "relay pstn extra");
	assert_int_equal(edge_rules_load(&c, rules), EINVAL);
	/* and nobody else's is relayed: the edge is no open relay */
	snprintf(c.route[EDGE_RULE_FROM_NODE], sizeof(c.route[0]), "relay");
	snprintf(c.route[EDGE_RULE_INVITE], sizeof(c.route[0]), "relay pstn");
	assert_int_equal(edge_rules_load(&c, rules), EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_only_route_from_node_relays_and_it_never_selects),
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_invite_from_a_node_goes_to_the_phone_unselected_and_counts_on_it),
		T(test_node_hangs_up_a_relayed_call_and_the_bye_reaches_the_phone),
		T(test_node_without_our_route_is_relayed_to_the_request_uri),
		T(test_node_invite_addressed_to_the_edge_gets_404_not_a_loop),
		T(test_outsider_with_our_route_is_selected_never_relayed),
		T(test_node_on_tcp_from_its_own_port_is_known_by_its_via),
		T(test_relayed_dialog_has_a_key_of_its_own_beside_the_callers),
		T(test_busy_phone_ends_the_relayed_dialog_and_the_node_hears_it),
		cmocka_unit_test_setup_teardown(
		    test_route_from_node_reply_403_refuses_what_nodes_send,
		    setup_refuse, teardown),
	};

	return cmocka_run_group_tests_name("edge_relay", tests, NULL, NULL);
}
