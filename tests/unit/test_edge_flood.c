/*
 * The flood limit in front of the proxy (flood.h), with the real edge,
 * sockets and loop: a phone on 127.0.0.5 and a node on 127.0.0.1 (the
 * node table's address).  Requests over pike_requests are answered 503
 * with Retry-After (never an ACK), dropped, or block the phone; responses
 * are never counted, and the node is never limited.
 */
#include <errno.h>
#include <event2/event.h>
#include <poll.h>
#include <unistd.h>

#include "edge.h"
#include "unit.h"

struct fx {
	struct edge *e;
	int port;
	int phone, node;
	int pphone, pnode;
	char buf[65536];
};

static int seq;

/* A UDP socket on addr, any port. */
static int
sock_on(const char *addr, int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(inet_pton(AF_INET, addr, &a.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static int
setup_with(void **state, const char *reaction)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct lb_table t;
	char uri[64];

	f->e = calloc(1, sizeof(*f->e));
	assert_int_equal(edge_cfg_load(&f->e->cfg, NULL), 0);
	seq++;
	f->port = 41000 + (getpid() % 500) * 20 + seq;
	snprintf(f->e->cfg.listen, sizeof(f->e->cfg.listen),
	    "udp:127.0.0.1:%d", f->port);
	snprintf(f->e->cfg.scheduler, sizeof(f->e->cfg.scheduler),
	    "inproc://nofloodsched%d", seq);
	f->e->cfg.scheduler_pub[0] = '\0';
	f->e->cfg.dialogd[0] = '\0';
	snprintf(
	    f->e->cfg.pub, sizeof(f->e->cfg.pub), "inproc://floodpub%d", seq);
	snprintf(
	    f->e->cfg.rep, sizeof(f->e->cfg.rep), "inproc://floodrep%d", seq);
	f->e->cfg.sched_timeout_ms = 10;
	f->e->cfg.pike_requests = 3;
	f->e->cfg.pike_window_ms = 2500;
	snprintf(f->e->cfg.pike_reaction, sizeof(f->e->cfg.pike_reaction),
	    "%s", reaction);
	assert_int_equal(edge_init(f->e), 0);
	f->phone = sock_on("127.0.0.5", &f->pphone);
	f->node = sock_on("127.0.0.1", &f->pnode);
	lb_table_init(&t, 1);
	snprintf(uri, sizeof(uri), "sip:127.0.0.1:%d", f->pnode);
	unit_add_node(&t, 1, uri, 1, 1, "pstn=100");
	assert_int_equal(edge_set_table(f->e, &t), 0);
	lb_table_free(&t);
	*state = f;
	return 0;
}

static int
setup_503(void **state)
{
	return setup_with(state, "503");
}
static int
setup_drop(void **state)
{
	return setup_with(state, "drop");
}
static int
setup_block(void **state)
{
	return setup_with(state, "block");
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	edge_close(f->e);
	free(f->e);
	close(f->phone);
	close(f->node);
	free(f);
	return 0;
}

/* Run the edge's loop until fd has a datagram (or ms pass); read it. */
static const char *
recv_on(struct fx *f, int fd, int ms)
{
	return unit_loop_recv(
	    f->e->base, NULL, NULL, fd, f->buf, sizeof(f->buf), ms);
}

/* Everything waiting on fd, read and thrown away (the loop run first). */
static int
drain(struct fx *f, int fd)
{
	int n = 0;

	while (recv_on(f, fd, 30) != NULL)
		n++;
	return n;
}

static const char *
request(const char *method, int i, int from_port, const char *to_tag)
{
	static char m[1024];

	snprintf(m, sizeof(m),
	    "%s sip:1003@example.com SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.5:%d;branch=z9hG4bKfl%d;rport\r\n"
	    "From: <sip:1000@example.com>;tag=ft%d\r\n"
	    "To: <sip:1003@example.com>%s\r\n"
	    "Call-ID: flood%d@test\r\n"
	    "CSeq: 1 %s\r\n"
	    "Contact: <sip:1000@127.0.0.5:%d>\r\n"
	    "Max-Forwards: 70\r\n"
	    "Content-Length: 0\r\n\r\n",
	    method, from_port, i, i, to_tag ? to_tag : "", i, method,
	    from_port);
	return m;
}

static void
phone_sends(struct fx *f, const char *msg)
{
	struct sockaddr_in a = { .sin_family = AF_INET };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)f->port);
	assert_int_equal(sendto(f->phone, msg, strlen(msg), 0,
			     (struct sockaddr *)&a, sizeof(a)),
	    (ssize_t)strlen(msg));
}

/* Three INVITEs from the phone (the limit) reach the node. */
static void
three_pass(struct fx *f)
{
	for (int i = 1; i <= 3; i++) {
		phone_sends(f, request("INVITE", i, f->pphone, NULL));
		assert_non_null(recv_on(f, f->node, 1000));
		assert_non_null(strstr(f->buf, "INVITE sip:1003@example.com"));
	}
	drain(f, f->phone); /* the 100 Trying */
}

static void
over_the_limit_gets_503_with_retry_after(void **state)
{
	struct fx *f = *state;
	const char *r;
	char via[256];

	three_pass(f);
	phone_sends(f, request("INVITE", 4, f->pphone, NULL));
	r = recv_on(f, f->phone, 1000);
	assert_non_null(r);
	assert_int_equal(
	    strncmp(r, "SIP/2.0 503 Service Unavailable\r\n", 33), 0);
	snprintf(via, sizeof(via),
	    "Via: SIP/2.0/UDP 127.0.0.5:%d;branch="
	    "z9hG4bKfl4;rport",
	    f->pphone);
	assert_string_equal(unit_header(r, "Via", 0), via);
	assert_string_equal(
	    unit_header(r, "Call-ID", 0), "Call-ID: flood4@test");
	assert_string_equal(unit_header(r, "CSeq", 0), "CSeq: 1 INVITE");
	assert_string_equal(
	    unit_header(r, "From", 0), "From: <sip:1000@example.com>;tag=ft4");
	assert_non_null(strstr(
	    unit_header(r, "To", 0), "To: <sip:1003@example.com>;tag=slb"));
	/* pike_window 2500 ms: come back in 3 s */
	assert_string_equal(
	    unit_header(r, "Retry-After", 0), "Retry-After: 3");
	assert_null(recv_on(f, f->node, 50));
	/* an ACK over the limit is dropped, never answered */
	phone_sends(f, request("ACK", 4, f->pphone, ";tag=x"));
	assert_null(recv_on(f, f->phone, 100));
	assert_null(recv_on(f, f->node, 10));
	assert_int_equal(f->e->st.flood_503, 1);
	assert_int_equal(f->e->st.flood_dropped, 1);
	assert_int_equal(f->e->pike.st.blocks_started, 0);
}

static void
responses_and_the_node_are_never_limited(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in a = { .sin_family = AF_INET };
	char resp[1024];

	three_pass(f);
	/* responses from the phone (say, to a BYE from the node): not
	 * counted, and they reach the proxy (a stray one is dropped there) */
	for (int i = 0; i < 20; i++) {
		snprintf(resp, sizeof(resp),
		    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch="
		    "z9hG4bKnone%d\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;"
		    "tag=2\r\nCall-ID: r%d\r\nCSeq: 1 BYE\r\nContent-Length: "
		    "0\r\n\r\n",
		    f->port, i, i);
		phone_sends(f, resp);
	}
	drain(f, f->phone);
	assert_int_equal(f->e->st.rx_responses, 20);
	assert_int_equal(f->e->st.flood_503 + f->e->st.flood_dropped, 0);
	/* the node's requests are not counted at all */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)f->port);
	for (int i = 0; i < 20; i++) {
		/* OPTIONS to the edge itself: answered 200 */
		snprintf(resp, sizeof(resp),
		    "OPTIONS sip:127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP "
		    "127.0.0.1:%d;branch=z9hG4bKo%d;rport\r\nFrom: <sip:n@x>;"
		    "tag=o%d\r\nTo: <sip:127.0.0.1>\r\nCall-ID: o%d@test\r\n"
		    "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: "
		    "0\r\n\r\n",
		    f->port, f->pnode, i, i, i);
		assert_int_equal(sendto(f->node, resp, strlen(resp), 0,
				     (struct sockaddr *)&a, sizeof(a)),
		    (ssize_t)strlen(resp));
		assert_non_null(recv_on(f, f->node, 1000));
		assert_int_equal(strncmp(f->buf, "SIP/2.0 200", 11), 0);
	}
	assert_int_equal(f->e->st.flood_503 + f->e->st.flood_dropped, 0);
	/* the phone is still over its limit */
	phone_sends(f, request("INVITE", 5, f->pphone, NULL));
	assert_non_null(recv_on(f, f->phone, 1000));
	assert_int_equal(strncmp(f->buf, "SIP/2.0 503", 11), 0);
}

static void
drop_is_silent(void **state)
{
	struct fx *f = *state;

	three_pass(f);
	for (int i = 4; i < 10; i++)
		phone_sends(f, request("INVITE", i, f->pphone, NULL));
	assert_null(recv_on(f, f->phone, 100));
	assert_null(recv_on(f, f->node, 10));
	assert_int_equal(f->e->st.flood_dropped, 6);
	assert_int_equal(f->e->st.flood_503, 0);
}

static void
block_drops_everything_from_the_source(void **state)
{
	struct fx *f = *state;
	uint64_t rx;

	three_pass(f);
	phone_sends(f, request("INVITE", 4, f->pphone, NULL));
	assert_null(recv_on(f, f->phone, 100));
	assert_int_equal(f->e->pike.st.blocks_started, 1);
	assert_int_equal(f->e->pike.nblocked, 1);
	/* a response from it is dropped too now, before the proxy */
	rx = f->e->st.rx_responses;
	phone_sends(f,
	    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch="
	    "z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2"
	    "\r\nCall-ID: r\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n"
	    "\r\n");
	phone_sends(f, request("BYE", 1, f->pphone, ";tag=x"));
	assert_null(recv_on(f, f->phone, 100));
	assert_null(recv_on(f, f->node, 10));
	assert_int_equal(f->e->st.rx_responses, rx);
	assert_int_equal(f->e->pike.st.blocked_drops, 3);
	assert_int_equal(f->e->st.flood_503 + f->e->st.flood_dropped, 0);
}

static void
bad_flood_keys_are_refused_at_load(void **state)
{
	char path[] = "/tmp/siplb-flood-cfg.XXXXXX";
	struct edge_cfg c;
	FILE *fp;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	fputs("[edge]\npike_reaction = reject\n", fp);
	fclose(fp);
	assert_int_equal(edge_cfg_load(&c, path), EINVAL);
	fp = fopen(path, "w");
	fputs("[edge]\npike_allow = 10.0.0.0/8, trunk.example.com\n", fp);
	fclose(fp);
	assert_int_equal(edge_cfg_load(&c, path), EINVAL);
	fp = fopen(path, "w");
	fputs("[edge]\npike_requests = 30\npike_reaction = 503\n"
	      "pike_allow = 10.0.0.0/8, 2001:db8::/32\n",
	    fp);
	fclose(fp);
	assert_int_equal(edge_cfg_load(&c, path), 0);
	assert_int_equal(c.pike_requests, 30);
	assert_int_equal(c.pike_window_ms, 2000);
	assert_int_equal(c.pike_block_s, 60);
	assert_int_equal(c.tcp_msg_timeout_ms, 4000);
	assert_int_equal(c.tcp_max_conns_per_source, 0);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_flood_keys_are_refused_at_load),
		cmocka_unit_test_setup_teardown(
		    over_the_limit_gets_503_with_retry_after, setup_503,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    responses_and_the_node_are_never_limited, setup_503,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    drop_is_silent, setup_drop, teardown),
		cmocka_unit_test_setup_teardown(
		    block_drops_everything_from_the_source, setup_block,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
