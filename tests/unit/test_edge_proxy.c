/*
 * The proxy core with real sockets and the real loop: a "phone" and two
 * "nodes" are UDP (and TCP) sockets of this test on 127.0.0.1; what the
 * edge sends them is read back and checked line by line.  No scheduler
 * runs, so the edge selects from the node table the test gives it.
 */
#include <event2/event.h>
#include <poll.h>
#include <unistd.h>

#include "edge.h"
#include <nng/protocol/reqrep0/rep.h>
#include "unit.h"
#include "reply.h"

struct fx {
	struct edge *e;
	int port; /* the edge's UDP and TCP port */
	int phone, phone2, node1, node2;
	int pphone, pphone2, pnode1, pnode2;
	bool have_sched;
	nng_socket sched; /* a fake scheduler's REP (setup_sched) */
	char buf[65536];
};

static int seq;

static void
add_node(struct lb_table *t, uint32_t id, int port)
{
	char uri[64];

	snprintf(uri, sizeof(uri), "sip:127.0.0.1:%d", port);
	unit_add_node(t, id, uri, 1, 1, "pstn=10");
}

static int
setup_with(void **state, const char *auth_header, int sched_ms)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct lb_table t;

	f->e = calloc(1, sizeof(*f->e));
	assert_int_equal(edge_cfg_load(&f->e->cfg, NULL), 0);
	seq++;
	f->port = 31000 + (getpid() % 500) * 20 + seq;
	snprintf(f->e->cfg.listen, sizeof(f->e->cfg.listen),
	    "udp:127.0.0.1:%d, tcp:127.0.0.1:%d", f->port, f->port);
	snprintf(f->e->cfg.scheduler, sizeof(f->e->cfg.scheduler),
	    "inproc://%ssched%d", sched_ms ? "" : "no", seq);
	if (sched_ms) {
		/* listening before the edge dials it */
		assert_int_equal(nng_rep0_open(&f->sched), 0);
		assert_int_equal(
		    nng_listen(f->sched, f->e->cfg.scheduler, NULL, 0), 0);
		f->have_sched = true;
	}
	f->e->cfg.scheduler_pub[0] = '\0';
	f->e->cfg.dialogd[0] = '\0';
	snprintf(f->e->cfg.pub, sizeof(f->e->cfg.pub), "inproc://pub%d", seq);
	snprintf(f->e->cfg.rep, sizeof(f->e->cfg.rep), "inproc://rep%d", seq);
	f->e->cfg.sched_timeout_ms = sched_ms ? sched_ms : 10;
	snprintf(f->e->cfg.auth_ip_header, sizeof(f->e->cfg.auth_ip_header),
	    "%s", auth_header ? auth_header : "");
	assert_int_equal(edge_init(f->e), 0);
	f->phone = unit_udp_sock(&f->pphone);
	f->phone2 = unit_udp_sock(&f->pphone2);
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

static int
setup(void **state)
{
	return setup_with(state, NULL, 0);
}
static int
setup_auth(void **state)
{
	return setup_with(state, "X-AUTH-IP", 0);
}
/* with a fake scheduler that the test answers, or not, within 300 ms */
static int
setup_sched(void **state)
{
	return setup_with(state, NULL, 300);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	edge_close(f->e);
	free(f->e);
	if (f->have_sched)
		nng_close(f->sched);
	close(f->phone);
	close(f->phone2);
	close(f->node1);
	close(f->node2);
	free(f);
	return 0;
}

static void
send_to(struct fx *f, int fd, int port, const char *msg)
{
	(void)f;
	unit_send_to(fd, port, msg);
}

/* Run the edge's loop until fd has a datagram (or ms pass); read it. */
static const char *
recv_on(struct fx *f, int fd, int ms)
{
	return unit_loop_recv(
	    f->e->base, NULL, NULL, fd, f->buf, sizeof(f->buf), ms);
}

/* The first node socket that gets something, or -1. */
static int
recv_node(struct fx *f, int ms)
{
	uint64_t end = slb_now_us() + (uint64_t)ms * 1000u;

	while (slb_now_us() < end) {
		if (recv_on(f, f->node1, 1))
			return 1;
		if (recv_on(f, f->node2, 1))
			return 2;
	}
	return -1;
}

static char invite[2048];

static const char *
make_invite(
    struct fx *f, const char *branch, int phone_port, const char *extra)
{
	snprintf(invite, sizeof(invite),
	    "INVITE sip:1003@example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
	    "From: <sip:1000@example.com>;tag=f104f441\r\n"
	    "To: <sip:1003@example.com>\r\n"
	    "Call-ID: %s@test\r\n"
	    "CSeq: 2 INVITE\r\n"
	    "Contact: <sip:1000@127.0.0.1:%d>\r\n"
	    "Max-Forwards: 70\r\n"
	    "%s"
	    "Content-Length: 0\r\n\r\n",
	    phone_port, branch, branch, phone_port, extra ? extra : "");
	(void)f;
	return invite;
}

static int
reply_from_node(struct fx *f, int node, const char *req, int code,
    const char *reason, const char *totag)
{
	char resp[4096];
	int n =
	    snprintf(resp, sizeof(resp), "SIP/2.0 %d %s\r\n", code, reason);
	const char *p = strstr(req, "\r\n") + 2;

	/* copy Via, From, To, Call-ID, CSeq, Record-Route as a UAS does */
	while (*p && strncmp(p, "\r\n", 2) != 0) {
		const char *e = strstr(p, "\r\n");
		size_t len = (size_t)(e - p);

		if (!strncasecmp(p, "Via:", 4) ||
		    !strncasecmp(p, "From:", 5) ||
		    !strncasecmp(p, "Call-ID:", 8) ||
		    !strncasecmp(p, "CSeq:", 5) ||
		    !strncasecmp(p, "Record-Route:", 13))
			n += snprintf(resp + n, sizeof(resp) - (size_t)n,
			    "%.*s\r\n", (int)len, p);
		else if (!strncasecmp(p, "To:", 3))
			n += snprintf(resp + n, sizeof(resp) - (size_t)n,
			    "%.*s%s%s\r\n", (int)len, p, totag ? ";tag=" : "",
			    totag ? totag : "");
		p = e + 2;
	}
	snprintf(resp + n, sizeof(resp) - (size_t)n,
	    "Contact: <sip:127.0.0.1:%d>\r\nContent-Length: 0\r\n\r\n",
	    node == 1 ? f->pnode1 : f->pnode2);
	send_to(f, node == 1 ? f->node1 : f->node2, f->port, resp);
	return 0;
}

/* ------------------------------------------------------------ tests */

static void
test_invite_relayed_with_our_via_rr_and_one_less_max_forwards(void **state)
{
	struct fx *f = *state;
	char via0[256], rr[1024];
	const char *got;
	int node;

	send_to(f, f->phone, f->port,
	    make_invite(f, "z9hG4bKa1", f->pphone, NULL));
	got = recv_on(f, f->phone, 1000);
	assert_non_null(got);
	assert_true(strncmp(got, "SIP/2.0 100 Trying\r\n", 20) == 0);
	node = recv_node(f, 1000);
	assert_true(node == 1 || node == 2);
	got = f->buf;
	assert_true(
	    strncmp(got, "INVITE sip:1003@example.com SIP/2.0\r\n", 37) == 0);
	snprintf(rr, sizeof(rr), "%s", unit_header(got, "Record-Route", 0));
	snprintf(via0, sizeof(via0),
	    "Record-Route: <sip:127.0.0.1:%d;lr;ftag=f104f441;nid=%d;dk=",
	    f->port, node);
	assert_true(strncmp(rr, via0, strlen(via0)) == 0);
	assert_null(
	    unit_header(got, "Record-Route", 1)); /* same socket: one */
	snprintf(via0, sizeof(via0),
	    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKslb", f->port);
	assert_true(
	    strncmp(unit_header(got, "Via", 0), via0, strlen(via0)) == 0);
	snprintf(via0, sizeof(via0),
	    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKa1;rport=%d",
	    f->pphone, f->pphone);
	assert_string_equal(unit_header(got, "Via", 1), via0); /* RFC 3581 */
	assert_string_equal(
	    unit_header(got, "Max-Forwards", 0), "Max-Forwards: 69");
	/* the Record-Route comes before our Via, body untouched */
	assert_true(strstr(got, "Record-Route:") < strstr(got, "Via:"));
	assert_non_null(strstr(got, "\r\nContent-Length: 0\r\n\r\n"));
}

static void
test_response_goes_back_without_our_via(void **state)
{
	struct fx *f = *state;
	char req[65536];
	const char *got;
	int node;

	send_to(f, f->phone, f->port,
	    make_invite(f, "z9hG4bKa2", f->pphone, NULL));
	assert_non_null(recv_on(f, f->phone, 1000)); /* 100 */
	node = recv_node(f, 1000);
	assert_true(node > 0);
	snprintf(req, sizeof(req), "%s", f->buf);
	reply_from_node(f, node, req, 180, "Ringing", "n1");
	got = recv_on(f, f->phone, 1000);
	assert_non_null(got);
	assert_true(strncmp(got, "SIP/2.0 180 Ringing\r\n", 21) == 0);
	assert_non_null(
	    strstr(unit_header(got, "Via", 0), "branch=z9hG4bKa2"));
	assert_null(unit_header(got, "Via", 1));
	assert_non_null(strstr(unit_header(got, "Record-Route", 0), ";lr"));
}

static void
test_retransmitted_invite_is_absorbed_and_gets_last_response(void **state)
{
	struct fx *f = *state;
	char req[65536];
	const char *got;
	int node;

	send_to(f, f->phone, f->port,
	    make_invite(f, "z9hG4bKa3", f->pphone, NULL));
	assert_non_null(recv_on(f, f->phone, 1000));
	node = recv_node(f, 1000);
	snprintf(req, sizeof(req), "%s", f->buf);
	reply_from_node(f, node, req, 180, "Ringing", "n1");
	assert_non_null(recv_on(f, f->phone, 1000));
	/* the phone did not hear the 180 and retransmits */
	send_to(f, f->phone, f->port,
	    make_invite(f, "z9hG4bKa3", f->pphone, NULL));
	got = recv_on(f, f->phone, 300);
	assert_non_null(got);
	assert_true(strncmp(got, "SIP/2.0 180 Ringing", 19) == 0);
	assert_int_equal(recv_node(f, 150), -1); /* not relayed again */
}

static void
test_same_branch_from_another_sent_by_is_another_transaction(void **state)
{
	struct fx *f = *state;

	send_to(f, f->phone, f->port,
	    make_invite(f, "z9hG4bKsame", f->pphone, NULL));
	assert_true(recv_node(f, 1000) > 0);
	/* RFC 3261 §17.2.3: branch AND sent-by identify the transaction */
	send_to(f, f->phone2, f->port,
	    make_invite(f, "z9hG4bKsame", f->pphone2, NULL));
	assert_true(recv_node(f, 1000) > 0);
	assert_int_equal(f->e->ntx, 2);
}

static void
test_non2xx_final_is_acked_hop_by_hop_and_the_callers_ack_absorbed(
    void **state)
{
	struct fx *f = *state;
	char req[65536], ack[1024];
	const char *got;
	int node;

	send_to(f, f->phone, f->port,
	    make_invite(f, "z9hG4bKa5", f->pphone, NULL));
	assert_non_null(recv_on(f, f->phone, 1000));
	node = recv_node(f, 1000);
	snprintf(req, sizeof(req), "%s", f->buf);
	reply_from_node(f, node, req, 486, "Busy Here", "busy");
	got = recv_on(f, node == 1 ? f->node1 : f->node2, 1000);
	assert_non_null(got);
	assert_true(
	    strncmp(got, "ACK sip:1003@example.com SIP/2.0\r\n", 34) == 0);
	assert_string_equal(unit_header(got, "CSeq", 0), "CSeq: 2 ACK");
	assert_non_null(strstr(unit_header(got, "To", 0), ";tag=busy"));
	/* same branch as the INVITE we sent (§17.1.1.3) */
	assert_string_equal(
	    unit_header(got, "Via", 0), unit_header(req, "Via", 0));
	got = recv_on(f, f->phone, 1000);
	assert_non_null(got);
	assert_true(strncmp(got, "SIP/2.0 486 Busy Here", 21) == 0);
	snprintf(ack, sizeof(ack),
	    "ACK sip:1003@example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKa5;rport\r\n"
	    "From: <sip:1000@example.com>;tag=f104f441\r\n"
	    "To: <sip:1003@example.com>;tag=busy\r\n"
	    "Call-ID: z9hG4bKa5@test\r\nCSeq: 2 ACK\r\nMax-Forwards: 70\r\n"
	    "Content-Length: 0\r\n\r\n",
	    f->pphone);
	send_to(f, f->phone, f->port, ack);
	assert_int_equal(recv_node(f, 200), -1); /* absorbed */
}

static void
test_in_dialog_request_pops_our_route_and_goes_to_the_node(void **state)
{
	struct fx *f = *state;
	char bye[1024];
	const char *got;

	snprintf(bye, sizeof(bye),
	    "BYE sip:fs@127.0.0.1:%d SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKb1;rport\r\n"
	    "Route: <sip:127.0.0.1:%d;lr;ftag=f104f441;nid=1;dk=abc>\r\n"
	    "From: <sip:1000@example.com>;tag=f104f441\r\n"
	    "To: <sip:1003@example.com>;tag=n1\r\n"
	    "Call-ID: d1@test\r\nCSeq: 3 BYE\r\nMax-Forwards: 70\r\n"
	    "Content-Length: 0\r\n\r\n",
	    f->pnode1, f->pphone, f->port);
	send_to(f, f->phone, f->port, bye);
	got = recv_on(f, f->node1, 1000);
	assert_non_null(got);
	assert_true(strncmp(got, "BYE sip:fs@127.0.0.1:", 21) == 0);
	assert_null(unit_header(got, "Route", 0));
	assert_null(unit_header(got, "Record-Route", 0)); /* not initial */
	assert_non_null(
	    strstr(unit_header(got, "Via", 0), "branch=z9hG4bKslb"));
}

static void
test_route_with_two_elements_keeps_the_foreign_one(void **state)
{
	struct fx *f = *state;
	char bye[1024];
	const char *got;

	snprintf(bye, sizeof(bye),
	    "BYE sip:phone@127.0.0.1:%d SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKb2\r\n"
	    "Route: <sip:127.0.0.1:%d;lr;nid=1>, <sip:127.0.0.1:%d;lr>\r\n"
	    "From: <sip:1003@example.com>;tag=n1\r\n"
	    "To: <sip:1000@example.com>;tag=f104f441\r\n"
	    "Call-ID: d2@test\r\nCSeq: 1 BYE\r\nMax-Forwards: 70\r\n"
	    "Content-Length: 0\r\n\r\n",
	    f->pphone, f->pnode1, f->port, f->pnode2);
	send_to(f, f->node1, f->port, bye);
	/* loose routing: the next hop is the remaining Route (node 2) */
	got = recv_on(f, f->node2, 1000);
	assert_non_null(got);
	{
		char want[128];

		snprintf(want, sizeof(want), "Route: <sip:127.0.0.1:%d;lr>",
		    f->pnode2);
		assert_string_equal(unit_header(got, "Route", 0), want);
	}
}

static void
test_double_record_route_when_the_sockets_differ(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0), node;
	char msg[2048], want[128];
	const char *got;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)f->port);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	snprintf(
	    msg, sizeof(msg), "%s", make_invite(f, "z9hG4bKt1", 5999, NULL));
	/* a TCP phone: Via says TCP */
	memcpy(strstr(msg, "SIP/2.0/UDP"), "SIP/2.0/TCP", 11);
	assert_int_equal(write(fd, msg, strlen(msg)), (ssize_t)strlen(msg));
	node = recv_node(f, 1000);
	assert_true(node > 0);
	got = f->buf;
	snprintf(want, sizeof(want), "Record-Route: <sip:127.0.0.1:%d;lr;",
	    f->port);
	assert_true(strncmp(unit_header(got, "Record-Route", 0), want,
			strlen(want)) == 0);
	snprintf(want, sizeof(want),
	    "Record-Route: <sip:127.0.0.1:%d;transport=tcp;lr;", f->port);
	assert_true(strncmp(unit_header(got, "Record-Route", 1), want,
			strlen(want)) == 0);
	close(fd);
}

static void
test_cancel_without_a_transaction_gets_481(void **state)
{
	struct fx *f = *state;
	char c[1024];
	const char *got;

	snprintf(c, sizeof(c),
	    "CANCEL sip:1003@example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKnone\r\n"
	    "From: <sip:1000@example.com>;tag=1\r\nTo: <sip:1003@example.com>\r\n"
	    "Call-ID: c1@test\r\nCSeq: 1 CANCEL\r\nMax-Forwards: 70\r\n"
	    "Content-Length: 0\r\n\r\n",
	    f->pphone);
	send_to(f, f->phone, f->port, c);
	got = recv_on(f, f->phone, 1000);
	assert_non_null(got);
	assert_true(strncmp(got, "SIP/2.0 481 ", 12) == 0);
}

static void
test_cancel_matches_the_invite_and_reaches_the_node(void **state)
{
	struct fx *f = *state;
	char req[65536], c[1024];
	const char *got;
	int node;

	send_to(f, f->phone, f->port,
	    make_invite(f, "z9hG4bKc2", f->pphone, NULL));
	assert_non_null(recv_on(f, f->phone, 1000));
	node = recv_node(f, 1000);
	snprintf(req, sizeof(req), "%s", f->buf);
	reply_from_node(f, node, req, 180, "Ringing", "n1");
	assert_non_null(recv_on(f, f->phone, 1000));
	snprintf(c, sizeof(c),
	    "CANCEL sip:1003@example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKc2;rport\r\n"
	    "From: <sip:1000@example.com>;tag=f104f441\r\nTo: <sip:1003@example.com>\r\n"
	    "Call-ID: z9hG4bKc2@test\r\nCSeq: 2 CANCEL\r\nMax-Forwards: 70\r\n"
	    "Content-Length: 0\r\n\r\n",
	    f->pphone);
	send_to(f, f->phone, f->port, c);
	got = recv_on(f, f->phone, 1000);
	assert_non_null(got);
	assert_true(strncmp(got, "SIP/2.0 200 OK", 14) == 0);
	got = recv_on(f, node == 1 ? f->node1 : f->node2, 1000);
	assert_non_null(got);
	assert_true(
	    strncmp(got, "CANCEL sip:1003@example.com SIP/2.0", 35) == 0);
	assert_string_equal(
	    unit_header(got, "Via", 0), unit_header(req, "Via", 0));
	assert_string_equal(unit_header(got, "CSeq", 0), "CSeq: 2 CANCEL");
}

static void
test_max_forwards_zero_gets_483(void **state)
{
	struct fx *f = *state;
	char m[2048];
	const char *got;

	snprintf(
	    m, sizeof(m), "%s", make_invite(f, "z9hG4bKmf", f->pphone, NULL));
	memcpy(strstr(m, "Max-Forwards: 70"), "Max-Forwards: 00", 16);
	send_to(f, f->phone, f->port, m);
	got = recv_on(f, f->phone, 1000);
	assert_non_null(got);
	assert_true(strncmp(got, "SIP/2.0 483 Too Many Hops", 25) == 0);
	assert_int_equal(recv_node(f, 100), -1);
}

static void
test_missing_max_forwards_gets_70(void **state)
{
	struct fx *f = *state;
	char m[2048];

	snprintf(m, sizeof(m), "%s",
	    make_invite(f, "z9hG4bKnomf", f->pphone, NULL));
	memmove(strstr(m, "Max-Forwards: 70\r\n"),
	    strstr(m, "Max-Forwards: 70\r\n") + 18,
	    strlen(strstr(m, "Max-Forwards: 70\r\n") + 18) + 1);
	assert_null(unit_header(m, "Max-Forwards", 0));
	send_to(f, f->phone, f->port, m);
	assert_true(recv_node(f, 1000) > 0);
	assert_string_equal(
	    unit_header(f->buf, "Max-Forwards", 0), "Max-Forwards: 70");
}

static void
test_register_goes_round_robin_without_record_route(void **state)
{
	struct fx *f = *state;
	char reg[1024];
	int first, second;

	for (int i = 0; i < 2; i++) {
		snprintf(reg, sizeof(reg),
		    "REGISTER sip:127.0.0.1:%d SIP/2.0\r\n"
		    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKr%d\r\n"
		    "From: <sip:1000@example.com>;tag=r%d\r\n"
		    "To: <sip:1000@example.com>\r\nCall-ID: r%d@test\r\n"
		    "CSeq: 1 REGISTER\r\nContact: <sip:1000@127.0.0.1:%d>\r\n"
		    "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		    f->port, f->pphone, i, i, i, f->pphone);
		send_to(f, f->phone, f->port, reg);
		if (i == 0)
			first = recv_node(f, 1000);
		else
			second = recv_node(f, 1000);
		assert_null(unit_header(f->buf, "Record-Route", 0));
	}
	assert_true(first > 0 && second > 0);
	assert_int_not_equal(first, second); /* ds 1 round-robin */
}

static void
test_auth_ip_header_from_outside_is_replaced_by_ours(void **state)
{
	struct fx *f = *state;
	const char *got;

	send_to(f, f->phone, f->port,
	    make_invite(f, "z9hG4bKx1", f->pphone, "X-AUTH-IP: 6.6.6.6\r\n"));
	assert_true(recv_node(f, 1000) > 0);
	got = f->buf;
	assert_string_equal(
	    unit_header(got, "X-AUTH-IP", 0), "X-AUTH-IP: 127.0.0.1");
	assert_null(unit_header(got, "X-AUTH-IP", 1));
}

/* ------------------------------------------------ the selection client */

/* Run the edge's loop until the fake scheduler has a request (or ms
 * pass); the request, or NULL. */
static Siplb__V1__SchedRequest *
sched_recv(struct fx *f, int ms)
{
	uint64_t end = slb_now_us() + (uint64_t)ms * 1000u;

	for (;;) {
		ProtobufCMessage *pm = NULL;
		struct timeval tv = { 0, 2000 };
		nng_msg *m;

		if (nng_recvmsg(f->sched, &m, NNG_FLAG_NONBLOCK) == 0) {
			int rc = slb_msg_unpack(
			    &siplb__v1__sched_request__descriptor, m,
			    SLB_MSG_MAX, &pm);

			nng_msg_free(m);
			assert_int_equal(rc, 0);
			return (Siplb__V1__SchedRequest *)pm;
		}
		if (slb_now_us() >= end)
			return NULL;
		event_base_loopexit(f->e->base, &tv);
		event_base_dispatch(f->e->base);
	}
}

/* Answer the batch: the i-th selection gets node ids[i]. */
static void
sched_answer(struct fx *f, const uint32_t *ids, size_t n)
{
	Siplb__V1__SchedReply r = SIPLB__V1__SCHED_REPLY__INIT;
	Siplb__V1__SelectBatchReply b = SIPLB__V1__SELECT_BATCH_REPLY__INIT;
	Siplb__V1__SelectReply rep[16], *rp[16];
	Siplb__V1__Choice ch[16], *cp[16];
	char uri[16][64];
	nng_msg *m;

	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++) {
		siplb__v1__select_reply__init(&rep[i]);
		siplb__v1__choice__init(&ch[i]);
		snprintf(uri[i], sizeof(uri[i]), "sip:127.0.0.1:%d",
		    ids[i] == 1 ? f->pnode1 : f->pnode2);
		ch[i].node_id = ids[i];
		ch[i].uri = uri[i];
		cp[i] = &ch[i];
		rep[i].status = SIPLB__V1__SELECT_STATUS__SELECT_OK;
		rep[i].choices = &cp[i];
		rep[i].n_choices = 1;
		rp[i] = &rep[i];
	}
	b.replies = rp;
	b.n_replies = n;
	r.status = SIPLB__V1__STATUS__STATUS_OK;
	r.body_case = SIPLB__V1__SCHED_REPLY__BODY_SELECT_BATCH;
	r.select_batch = &b;
	assert_int_equal(slb_msg_pack(&r.base, &m), 0);
	assert_int_equal(nng_sendmsg(f->sched, m, 0), 0);
}

/* The Call-ID of what a node socket got, or "". */
static const char *
call_id_of(const char *msg)
{
	const char *h = msg ? unit_header(msg, "Call-ID", 0) : NULL;

	return h ? h + strlen("Call-ID: ") : "";
}

static void
test_invites_of_one_loop_turn_ask_the_scheduler_once_in_order(void **state)
{
	struct fx *f = *state;
	const uint32_t ids[5] = { 1, 1, 2, 2, 2 };
	Siplb__V1__SchedRequest *q;
	char br[32], seen1[5][1024];
	int got1 = 0, got2 = 0;

	/* five INVITEs in the socket before the loop runs: one read */
	for (int i = 0; i < 5; i++) {
		snprintf(br, sizeof(br), "z9hG4bKbatch%d", i);
		send_to(
		    f, f->phone, f->port, make_invite(f, br, f->pphone, NULL));
	}
	q = sched_recv(f, 1000);
	assert_non_null(q);
	assert_int_equal(
	    q->body_case, SIPLB__V1__SCHED_REQUEST__BODY_SELECT_BATCH);
	assert_int_equal(q->select_batch->n_requests, 5);
	for (size_t i = 0; i < 5; i++) {
		Siplb__V1__SelectRequest *r = q->select_batch->requests[i];

		snprintf(br, sizeof(br), "z9hG4bKbatch%zu@test", i);
		assert_string_equal(r->hash_key, br); /* in arrival order */
		assert_int_equal(r->group, 1); /* lb 1 pstn */
		assert_int_equal(r->n_resources, 1);
		assert_string_equal(r->resources[0], "pstn");
		assert_true(r->reserve);
		assert_true(strlen(r->key) > 0);
		assert_string_equal(r->edge, f->e->stream);
	}
	slb_msg_free(&q->base);
	/* nothing more was asked for them */
	assert_null(sched_recv(f, 50));

	sched_answer(f, ids, 5);
	for (int tries = 0; tries < 200 && got1 + got2 < 5; tries++) {
		if (recv_on(f, f->node1, 5) != NULL)
			snprintf(seen1[got1++ % 5], sizeof(seen1[0]), "%s",
			    call_id_of(f->buf));
		else if (recv_on(f, f->node2, 5) != NULL)
			got2++;
	}
	/* each answer went to the call it was for: the first two to node 1 */
	assert_int_equal(got1, 2);
	assert_int_equal(got2, 3);
	assert_true(strcmp(seen1[0], "z9hG4bKbatch0@test") == 0 ||
	    strcmp(seen1[1], "z9hG4bKbatch0@test") == 0);
	assert_true(strcmp(seen1[0], "z9hG4bKbatch1@test") == 0 ||
	    strcmp(seen1[1], "z9hG4bKbatch1@test") == 0);
	assert_int_equal(f->e->st.sched_fallbacks, 0);
}

static void
test_silent_scheduler_calls_use_the_cached_table_without_waiting_again(
    void **state)
{
	struct fx *f = *state;
	Siplb__V1__SchedRequest *q;
	uint64_t t0;
	int node;

	send_to(f, f->phone, f->port,
	    make_invite(f, "z9hG4bKsil1", f->pphone, NULL));
	q = sched_recv(f, 1000);
	assert_non_null(q); /* asked, never answered */
	slb_msg_free(&q->base);
	t0 = slb_now_us();
	node = recv_node(f, 2000);
	assert_true(node == 1 || node == 2);
	/* after sched_timeout (300 ms), from the cache */
	assert_true(slb_now_us() - t0 >= 200000);
	assert_int_equal(f->e->st.sched_fallbacks, 1);

	/* the next call, within the second, does not wait for it again */
	t0 = slb_now_us();
	send_to(f, f->phone, f->port,
	    make_invite(f, "z9hG4bKsil2", f->pphone, NULL));
	node = recv_node(f, 2000);
	assert_true(node == 1 || node == 2);
	assert_true(slb_now_us() - t0 < 150000);
	assert_int_equal(f->e->st.sched_fallbacks, 2);
	assert_null(sched_recv(f, 50));
}

/* a MESSAGE whose multipart body is cut short (the phone's datagram ends
 * inside the second part); its first part names its type twice, which
 * makes libosip2 5.3's MIME parser lose 57 bytes */
static const char cut_multipart[] =
    "MESSAGE sip:kumiko@example.org SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKcut;rport\r\n"
    "Max-Forwards: 70\r\n"
    "To: <sip:kumiko@example.org>\r\n"
    "From: <sip:fluffy@example.com>;tag=2fb0dcc9\r\n"
    "Call-ID: cut@test\r\n"
    "CSeq: 1 MESSAGE\r\n"
    "Content-Type: multipart/mixed;boundary=7a9cbec02ceef655\r\n"
    "Content-Length: 200\r\n\r\n"
    "--7a9cbec02ceef655\r\nContent-Type: application/octet-stream\r\n"
    "Content-Type: application/octet-stream\r\n\r\n0123\r\n"
    "--7a9cbec02ceef655\r\nContent-Type: text/pl";

static void
test_replies_parse_the_headers_never_the_body(void **state)
{
	osip_message_t *m = NULL;
	char buf[sizeof(cut_multipart)];

	(void)state;
	/* Content-Length as the cut body has it */
	snprintf(buf, sizeof(buf), "%s", cut_multipart);
	snprintf(strstr(buf, "Content-Length: ") + 16, 4, "%03zu",
	    strlen(strstr(cut_multipart, "\r\n\r\n") + 4));
	buf[strlen(buf)] = '\r'; /* snprintf's NUL back to the CRLF */
	assert_non_null(edge_lazy_parse(&m, buf, strlen(cut_multipart)));
	assert_non_null(m->from);
	assert_non_null(m->call_id);
	assert_non_null(m->cseq);
	assert_int_equal(osip_list_size(&m->vias), 1);
	assert_null(m->content_type); /* libosip2 saw no MIME at all */
	assert_int_equal(osip_list_size(&m->bodies), 0);
	osip_message_free(m);
}

static void
test_cut_multipart_message_gets_405_then_400_when_cut_past_its_length(
    void **state)
{
	struct fx *f = *state;
	char m[sizeof(cut_multipart) + 64];
	const char *got;
	size_t body = strlen(strstr(cut_multipart, "\r\n\r\n") + 4);

	/* Content-Length of what was sent: the MESSAGE rule (reply 405) */
	snprintf(m, sizeof(m), "%s", cut_multipart);
	snprintf(strstr(m, "Content-Length: ") + 16, 4, "%03zu", body);
	m[strlen(m)] = '\r';
	send_to(f, f->phone, f->port, m);
	got = recv_on(f, f->phone, 1000);
	assert_non_null(got);
	assert_true(strncmp(got, "SIP/2.0 405 Method Not Allowed", 30) == 0);
	assert_non_null(unit_header(got, "Allow", 0));
	/* Content-Length 200 past the datagram's end: 400 (RFC 3261 §18.3) */
	send_to(f, f->phone, f->port, cut_multipart);
	got = recv_on(f, f->phone, 1000);
	assert_non_null(got);
	assert_true(
	    strncmp(got, "SIP/2.0 400 Content-Length Past Datagram", 40) == 0);
	assert_int_equal(recv_node(f, 100), -1);
}

static void
test_octets_past_content_length_are_not_relayed(void **state)
{
	struct fx *f = *state;
	char reg[1024];

	/* RFC 4475 3.1.1.8: a second request after Content-Length 0 */
	snprintf(reg, sizeof(reg),
	    "REGISTER sip:127.0.0.1:%d SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKdbl\r\n"
	    "From: <sip:1000@example.com>;tag=d\r\n"
	    "To: <sip:1000@example.com>\r\nCall-ID: dbl@test\r\n"
	    "CSeq: 1 REGISTER\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	    "INVITE sip:joe@example.com SIP/2.0\r\nt: sip:joe@example.com\r\n\r\n",
	    f->port, f->pphone);
	send_to(f, f->phone, f->port, reg);
	assert_true(recv_node(f, 1000) > 0);
	assert_true(strncmp(f->buf, "REGISTER ", 9) == 0);
	assert_null(strstr(f->buf, "INVITE sip:joe"));
	assert_non_null(strstr(f->buf, "Content-Length: 0\r\n\r\n"));
	assert_int_equal(strlen(strstr(f->buf, "\r\n\r\n")), 4);
}

static void
test_long_fields_make_a_hashed_transaction_key(void **state)
{
	struct fx *f = *state;
	char m[4096], tag[400];
	const char *got;

	/* RFC 2543 style (no branch) with a From tag of 300 octets: the
	 * key would not fit EDGE_KEY_MAX; RFC 4475 3.1.1.7 */
	memset(tag, 'x', 300);
	tag[300] = '\0';
	snprintf(m, sizeof(m),
	    "INVITE sip:1003@example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%d\r\n"
	    "From: <sip:1000@example.com>;tag=%s\r\n"
	    "To: <sip:1003@example.com>\r\nCall-ID: long@test\r\n"
	    "CSeq: 2 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
	    f->pphone, tag);
	send_to(f, f->phone, f->port, m);
	got = recv_on(f, f->phone, 1000);
	assert_non_null(got);
	assert_true(strncmp(got, "SIP/2.0 100 Trying", 18) == 0);
	assert_true(recv_node(f, 1000) > 0);
	/* a retransmission is the same transaction: absorbed, 100 again */
	send_to(f, f->phone, f->port, m);
	got = recv_on(f, f->phone, 1000);
	assert_non_null(got);
	assert_true(strncmp(got, "SIP/2.0 100 Trying", 18) == 0);
	assert_int_equal(recv_node(f, 100), -1);
}

static void
test_missing_headers_get_400_without_via_dropped_and_counted(void **state)
{
	struct fx *f = *state;
	char m[1024];
	const char *got;
	uint64_t drops = f->e->st.drop_parse;

	/* no Call-ID, From or To (RFC 4475 3.3.1): 400, with what it has */
	snprintf(m, sizeof(m),
	    "INVITE sip:1003@example.com SIP/2.0\r\n"
	    "CSeq: 193942 INVITE\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKinsuf\r\n"
	    "Content-Length: 0\r\n\r\n",
	    f->pphone);
	send_to(f, f->phone, f->port, m);
	got = recv_on(f, f->phone, 1000);
	assert_non_null(got);
	assert_true(
	    strncmp(got, "SIP/2.0 400 Missing Required Header", 35) == 0);
	assert_string_equal(
	    unit_header(got, "CSeq", 0), "CSeq: 193942 INVITE");
	assert_non_null(unit_header(got, "Via", 0));
	/* no Via: nowhere to answer; dropped and counted */
	snprintf(m, sizeof(m),
	    "OPTIONS sip:1003@example.com SIP/2.0\r\n"
	    "From: <sip:1000@example.com>;tag=nv\r\nTo: <sip:1003@example.com>\r\n"
	    "Call-ID: novia@test\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
	    "Content-Length: 0\r\n\r\n");
	send_to(f, f->phone, f->port, m);
	assert_null(recv_on(f, f->phone, 200));
	assert_int_equal(f->e->st.drop_parse, drops + 1);
	assert_int_equal(recv_node(f, 50), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_invite_relayed_with_our_via_rr_and_one_less_max_forwards),
		T(test_response_goes_back_without_our_via),
		T(test_retransmitted_invite_is_absorbed_and_gets_last_response),
		T(test_same_branch_from_another_sent_by_is_another_transaction),
		T(test_non2xx_final_is_acked_hop_by_hop_and_the_callers_ack_absorbed),
		T(test_in_dialog_request_pops_our_route_and_goes_to_the_node),
		T(test_route_with_two_elements_keeps_the_foreign_one),
		T(test_double_record_route_when_the_sockets_differ),
		T(test_cancel_without_a_transaction_gets_481),
		T(test_cancel_matches_the_invite_and_reaches_the_node),
		T(test_max_forwards_zero_gets_483),
		T(test_missing_max_forwards_gets_70),
		T(test_register_goes_round_robin_without_record_route),
		T(test_replies_parse_the_headers_never_the_body),
		T(test_cut_multipart_message_gets_405_then_400_when_cut_past_its_length),
		T(test_octets_past_content_length_are_not_relayed),
		T(test_long_fields_make_a_hashed_transaction_key),
		T(test_missing_headers_get_400_without_via_dropped_and_counted),
		cmocka_unit_test_setup_teardown(
		    test_auth_ip_header_from_outside_is_replaced_by_ours,
		    setup_auth, teardown),
		cmocka_unit_test_setup_teardown(
		    test_invites_of_one_loop_turn_ask_the_scheduler_once_in_order,
		    setup_sched, teardown),
		cmocka_unit_test_setup_teardown(
		    test_silent_scheduler_calls_use_the_cached_table_without_waiting_again,
		    setup_sched, teardown),
	};

	return cmocka_run_group_tests_name("edge_proxy", tests, NULL, NULL);
}
