/*
 * The prober's decisions (services/prober/probe.c) with real sockets: a
 * node is a UDP socket of this test that reads each OPTIONS and answers
 * it with the code a test chooses (or not at all).  Which codes count,
 * the down/up thresholds, timeouts, provisional and stray replies, and
 * which nodes probe_mode and [prober] mode let be probed.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "log.h"
#include "prober.h"
#include "unit.h"

struct fx {
	struct prb p;
	struct prb_node n;
	int node_fd, node_port;
	char req[4096];
};

static int seq;

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sockaddr_in *dst;
	char url[64];

	assert_non_null(f);
	assert_int_equal(prb_cfg_load(&f->p.cfg, NULL), 0);
	f->p.cfg.timeout_ms = 100;
	f->p.cfg.threshold_down = 2;
	f->p.cfg.threshold_up = 2;
	assert_int_equal(slb_loop_new(&f->p.base), 0);
	snprintf(url, sizeof(url), "inproc://prb-probe-%d", ++seq);
	assert_int_equal(slb_pub_open(&f->p.pub, url, "prober:1/1"), 0);
	f->p.fd = unit_udp_sock(&f->p.local_port);
	/* as prober.c opens it: read until EAGAIN */
	assert_int_equal(fcntl(f->p.fd, F_SETFL, O_NONBLOCK), 0);
	f->p.salt = 0x5eed0001u;
	f->p.rng = 42;
	snprintf(f->p.hostname, sizeof(f->p.hostname), "test");
	f->p.sock_ev = event_new(
	    f->p.base, f->p.fd, EV_READ | EV_PERSIST, prb_on_readable, &f->p);
	assert_int_equal(event_add(f->p.sock_ev, NULL), 0);

	f->node_fd = unit_udp_sock(&f->node_port);
	f->n.id = 7;
	f->n.p = &f->p;
	f->n.up = true;
	f->n.enabled = true;
	f->n.probe_mode = 2;
	f->n.addr_ok = true;
	dst = (struct sockaddr_in *)&f->n.dst;
	dst->sin_family = AF_INET;
	dst->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dst->sin_port = htons((uint16_t)f->node_port);
	f->n.dstlen = sizeof(*dst);
	snprintf(f->n.uri, sizeof(f->n.uri), "sip:127.0.0.1:%d", f->node_port);
	snprintf(f->n.hostport, sizeof(f->n.hostport), "127.0.0.1:%d",
	    f->node_port);
	snprintf(f->n.via, sizeof(f->n.via), "127.0.0.1:%d", f->p.local_port);
	f->n.t_probe = evtimer_new(f->p.base, prb_on_probe, &f->n);
	f->n.t_timeout = evtimer_new(f->p.base, prb_on_timeout, &f->n);
	HASH_ADD(hh, f->p.nodes, id, sizeof(f->n.id), &f->n);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	HASH_CLEAR(hh, f->p.nodes);
	event_free(f->n.t_probe);
	event_free(f->n.t_timeout);
	event_free(f->p.sock_ev);
	slb_pub_close(f->p.pub);
	close(f->p.fd);
	close(f->node_fd);
	slb_loop_free(f->p.base);
	free(f);
	return 0;
}

/* Run the loop for up to ms, or until cond(f) holds. */
static void
run(struct fx *f, int ms, bool (*cond)(const struct fx *))
{
	uint64_t end = slb_now_us() + (uint64_t)ms * 1000u;

	while (slb_now_us() < end && (cond == NULL || !cond(f))) {
		struct timeval tv = { 0, 2000 };

		event_base_loopexit(f->p.base, &tv);
		event_base_dispatch(f->p.base);
	}
}

static bool
settled(const struct fx *f)
{
	return !f->n.outstanding;
}

/* The probe timer fires now: is an OPTIONS sent? It is read into f->req. */
static bool
probe(struct fx *f)
{
	struct pollfd pf = { .fd = f->node_fd, .events = POLLIN };
	ssize_t r;

	prb_on_probe(-1, 0, &f->n);
	if (poll(&pf, 1, 200) != 1)
		return false;
	r = recv(f->node_fd, f->req, sizeof(f->req) - 1, 0);
	assert_true(r > 0);
	f->req[r] = '\0';
	return true;
}

/* Answer the last OPTIONS with code, as a UAS does (its Via, From, To,
 * Call-ID, CSeq); via NULL keeps the request's Via. */
static void
answer_via(struct fx *f, int code, const char *via)
{
	char resp[4096];
	const char *h[] = { "From", "To", "Call-ID", "CSeq" };
	int n = snprintf(resp, sizeof(resp), "SIP/2.0 %d Whatever\r\n%s\r\n",
	    code, via ? via : unit_header(f->req, "Via", 0));

	for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++)
		n += snprintf(resp + n, sizeof(resp) - (size_t)n, "%s\r\n",
		    unit_header(f->req, h[i], 0));
	snprintf(
	    resp + n, sizeof(resp) - (size_t)n, "Content-Length: 0\r\n\r\n");
	unit_send_to(f->node_fd, f->p.local_port, resp);
}

static void
answer(struct fx *f, int code)
{
	answer_via(f, code, NULL);
	run(f, 500, settled);
}

/* ------------------------------------------------------------ tests */

static void
test_probe_is_an_options_with_our_from_and_a_branch_of_ours(void **state)
{
	struct fx *f = *state;
	char want[128];

	assert_true(probe(f));
	snprintf(want, sizeof(want), "OPTIONS sip:127.0.0.1:%d SIP/2.0\r\n",
	    f->node_port);
	assert_memory_equal(f->req, want, strlen(want));
	assert_non_null(strstr(
	    unit_header(f->req, "Via", 0), ";branch=z9hG4bKprb5eed0001.7x"));
	assert_non_null(
	    strstr(unit_header(f->req, "From", 0), f->p.cfg.from_hdr));
	assert_true(f->n.outstanding);
	assert_int_equal(f->p.st.sent, 1);
}

static void
test_codes_in_reply_codes_are_answers_and_others_failures(void **state)
{
	struct fx *f = *state;
	char err[128];

	assert_int_equal(
	    prb_codes_parse("200, 404", f->p.cfg.codes, err, sizeof(err)), 0);
	assert_true(probe(f));
	answer(f, 404);
	assert_int_equal(f->n.last_code, 404);
	assert_int_equal(f->n.fails, 0);
	assert_true(f->n.rtt_us > 0);
	assert_true(probe(f));
	answer(f, 503);
	assert_int_equal(f->n.last_code, 503);
	assert_int_equal(f->n.fails, 1);
	assert_true(f->n.up); /* one failure of two */
	assert_int_equal(f->p.st.replies, 2);
}

static void
test_node_goes_down_after_threshold_down_and_up_after_threshold_up(
    void **state)
{
	struct fx *f = *state;

	assert_true(probe(f));
	answer(f, 500);
	assert_true(f->n.up);
	assert_true(probe(f));
	answer(f, 500);
	assert_false(f->n.up); /* 2 consecutive failures */
	assert_int_equal(f->n.fails, 2);

	assert_true(probe(f));
	answer(f, 200);
	assert_false(f->n.up); /* 1 success of 2 */
	assert_true(probe(f));
	answer(f, 500); /* the streak is broken */
	assert_true(probe(f));
	answer(f, 200);
	assert_false(f->n.up);
	assert_true(probe(f));
	answer(f, 200);
	assert_true(f->n.up);
	assert_int_equal(f->n.fails, 0);
}

static void
test_unanswered_probe_counts_as_408_after_timeout(void **state)
{
	struct fx *f = *state;
	uint64_t t0 = slb_now_us();

	assert_true(probe(f));
	run(f, 1000, settled);
	assert_false(f->n.outstanding);
	assert_true(slb_now_us() - t0 >= 90000); /* timeout 100 ms */
	assert_int_equal(f->n.last_code, 408);
	assert_int_equal(f->n.fails, 1);
	assert_int_equal(f->p.st.timeouts, 1);
	/* a reply after its timeout is late: stray, not a success */
	answer_via(f, 200, NULL);
	run(f, 50, NULL);
	assert_int_equal(f->n.fails, 1);
	assert_int_equal(f->p.st.stray, 1);
	assert_int_equal(f->n.last_code, 408);
	assert_int_equal(f->p.st.replies, 0);
}

static void
test_provisional_replies_wait_for_the_final_one(void **state)
{
	struct fx *f = *state;

	assert_true(probe(f));
	answer_via(f, 100, NULL);
	answer_via(f, 180, NULL);
	run(f, 50, NULL);
	assert_true(f->n.outstanding);
	assert_int_equal(f->p.st.ignored_1xx, 2);
	answer(f, 200);
	assert_false(f->n.outstanding);
	assert_int_equal(f->n.last_code, 200);
}

static void
test_replies_to_branches_not_ours_are_stray(void **state)
{
	struct fx *f = *state;

	f->p.cfg.timeout_ms = 2000; /* the strays take a while */
	assert_true(probe(f));
	/* another prober's salt, then a branch of no prober */
	answer_via(f, 200,
	    "Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKprb5eed0002.7x1");
	answer_via(f, 200, "Via: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-phone");
	run(f, 50, NULL);
	assert_true(f->n.outstanding);
	assert_int_equal(f->p.st.stray, 2);
	assert_int_equal(f->p.st.replies, 0);
	/* and a request is no answer at all */
	unit_send_to(f->node_fd, f->p.local_port,
	    "OPTIONS sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n");
	run(f, 50, NULL);
	assert_int_equal(f->p.st.stray, 3);
	answer(f, 200);
	assert_int_equal(f->p.st.replies, 1);
}

static void
test_probe_mode_and_mode_choose_the_nodes_probed(void **state)
{
	struct fx *f = *state;

	f->n.probe_mode = 0; /* never */
	f->n.up = false;
	assert_false(probe(f));
	f->n.probe_mode = 1; /* only while down or disabled */
	f->n.up = true;
	assert_false(probe(f));
	f->n.enabled = false;
	assert_true(probe(f));
	answer(f, 200);
	f->n.enabled = true;
	f->n.up = false;
	assert_true(probe(f));
	answer(f, 200);
	f->n.probe_mode = 2; /* always */
	f->n.up = true;
	assert_true(probe(f));
	answer(f, 200);
	f->p.cfg.mode = PRB_MODE_DOWN_ONLY; /* [prober] mode: down only */
	assert_false(probe(f));
	f->n.up = false;
	assert_true(probe(f));
	answer(f, 200);
	f->n.addr_ok = false; /* an address that did not resolve */
	assert_false(probe(f));
}

int
main(void)
{
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_probe_is_an_options_with_our_from_and_a_branch_of_ours),
		T(test_codes_in_reply_codes_are_answers_and_others_failures),
		T(test_node_goes_down_after_threshold_down_and_up_after_threshold_up),
		T(test_unanswered_probe_counts_as_408_after_timeout),
		T(test_provisional_replies_wait_for_the_final_one),
		T(test_replies_to_branches_not_ours_are_stray),
		T(test_probe_mode_and_mode_choose_the_nodes_probed),
	};
#undef T
	slb_log_configure("warning", "daemon", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
