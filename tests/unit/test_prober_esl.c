
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esl.h"
#include "unit.h"

/*
 * FreeSWITCH event-socket framing and parsers (services/prober/esl.c),
 * fed what mod_event_socket writes (whole, split byte by byte) and
 * garbage, which must be refused and never crash.
 */

static const char HEARTBEAT_BODY[] =
    "Event-Name: HEARTBEAT\n"
    "Core-UUID: 7c1a8d7c-0d5b-4b1a-9a7e-1f0e0c1a2b3c\n"
    "FreeSWITCH-Hostname: fs%2D1.example\n"
    "FreeSWITCH-Switchname: fs1\n"
    "FreeSWITCH-IPv4: 10.0.0.10\n"
    "Event-Date-Local: 2026-12-03%2008%3A30%3A00\n"
    "Event-Calling-File: switch_core.c\n"
    "Event-Calling-Function: send_heartbeat\n"
    "Event-Info: System%20Ready\n"
    "Up-Time: 0%20years,%200%20days,%201%20hour\n"
    "FreeSWITCH-Version: 1.10.12-release\n"
    "Uptime-msec: 3600000\n"
    "Session-Count: 48\n"
    "Max-Sessions: 50\n"
    "Session-Per-Sec: 27\n"
    "Session-Per-Sec-Last: 3\n"
    "Session-Per-Sec-Max: 9\n"
    "Session-Per-Sec-FiveMin: 4\n"
    "Session-Since-Startup: 1234\n"
    "Session-Peak-Max: 50\n"
    "Session-Peak-FiveMin: 49\n"
    "Idle-CPU: 98.733333\n\n";

static char *
event_msg(const char *body, size_t *len)
{
	static char buf[8192];

	*len = (size_t)snprintf(buf, sizeof(buf),
	    "Content-Length: %zu\nContent-Type: text/event-plain\n\n%s",
	    strlen(body), body);
	return buf;
}

static void
test_session_start_auth_command_reply_and_api_response_frame(void **st)
{
	struct esl_parser p;
	struct esl_msg m;
	const char *in =
	    "Content-Type: auth/request\n\n"
	    "Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
	    "Content-Type: api/response\nContent-Length: 5\n\n+OK\n\n";

	(void)st;
	esl_parser_init(&p);
	assert_int_equal(esl_feed(&p, in, strlen(in)), 0);
	assert_int_equal(esl_next(&p, &m), 1);
	assert_string_equal(esl_get(&m, "content-type"), "auth/request");
	esl_msg_free(&m);
	assert_int_equal(esl_next(&p, &m), 1);
	assert_string_equal(esl_get(&m, "Content-Type"), "command/reply");
	assert_string_equal(esl_get(&m, "Reply-Text"), "+OK accepted");
	esl_msg_free(&m);
	assert_int_equal(esl_next(&p, &m), 1);
	assert_string_equal(esl_get(&m, "Content-Type"), "api/response");
	assert_int_equal(m.body_len, 5);
	assert_memory_equal(m.body, "+OK\n\n", 5);
	esl_msg_free(&m);
	assert_int_equal(esl_next(&p, &m), 0);
	esl_parser_free(&p);
}

static void
test_event_split_byte_by_byte_waits_then_decodes(void **st)
{
	struct esl_parser p;
	struct esl_msg m;
	struct esl_heartbeat hb;
	size_t len;
	const char *in = event_msg(HEARTBEAT_BODY, &len);

	(void)st;
	esl_parser_init(&p);
	for (size_t i = 0; i + 1 < len; i++) {
		assert_int_equal(esl_feed(&p, in + i, 1), 0);
		assert_int_equal(esl_next(&p, &m), 0);
	}
	assert_int_equal(esl_feed(&p, in + len - 1, 1), 0);
	assert_int_equal(esl_next(&p, &m), 1);
	assert_string_equal(esl_get(&m, "Content-Type"), "text/event-plain");
	assert_int_equal(esl_heartbeat_parse(m.body, m.body_len, &hb), 0);
	assert_int_equal(hb.sessions, 48);
	assert_int_equal(hb.max_sessions, 50);
	assert_int_equal(hb.sps_left, 27);
	assert_int_equal(hb.idle_milli, 98733);
	assert_string_equal(hb.hostname, "fs-1.example");
	esl_msg_free(&m);
	esl_parser_free(&p);
}

static void
test_other_events_are_not_heartbeats(void **st)
{
	struct esl_heartbeat hb;
	const char *b = "Event-Name: CHANNEL_CREATE\nSession-Count: 3\n\n";

	(void)st;
	assert_int_equal(esl_heartbeat_parse(b, strlen(b), &hb), ENOENT);
	b = "Event-Name: HEARTBEAT\nMax-Sessions: 3\n\n";
	assert_int_equal(esl_heartbeat_parse(b, strlen(b), &hb), EBADMSG);
	b = "Event-Name: HEARTBEAT\nSession-Count: -3\n\n";
	assert_int_equal(esl_heartbeat_parse(b, strlen(b), &hb), EBADMSG);
	b = "Event-Name: HEARTBEAT\nSession-Count: 3\nIdle-CPU: 101.5\n\n";
	assert_int_equal(esl_heartbeat_parse(b, strlen(b), &hb), EBADMSG);
	b = "Event-Name: HEARTBEAT\nSession-Count: 99999999999\n\n";
	assert_int_equal(esl_heartbeat_parse(b, strlen(b), &hb), EBADMSG);
	b = "no colon here\n\n";
	assert_int_equal(esl_heartbeat_parse(b, strlen(b), &hb), EBADMSG);
}

static void
test_garbage_is_refused(void **st)
{
	static const char *bad[] = {
		"this is not a header\n\n",
		"Content-Type: api/response\nContent-Length: abc\n\n",
		"Content-Type: api/response\nContent-Length: -1\n\n",
		"Content-Type: api/response\nContent-Length: 99999999999\n\n",
		"Content-Type: api/response\nContent-Length: 300000\n\n",
		": no name\n\n",
		"Bad Name: x\n\n",
	};
	struct esl_parser p;
	struct esl_msg m;

	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		esl_parser_init(&p);
		assert_int_equal(esl_feed(&p, bad[i], strlen(bad[i])), 0);
		assert_int_equal(esl_next(&p, &m), -1);
		assert_int_equal(p.refused, 1);
		esl_parser_free(&p);
	}
	/* a NUL byte */
	esl_parser_init(&p);
	assert_int_equal(esl_feed(&p, "Content-Type: a\0b\n\n", 19), 0);
	assert_int_equal(esl_next(&p, &m), -1);
	esl_parser_free(&p);
}

static void
test_endless_header_block_and_flood_are_bounded(void **st)
{
	struct esl_parser p;
	struct esl_msg m;
	char line[1024];
	int rc = 0;

	(void)st;
	memset(line, 'a', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	esl_parser_init(&p);
	for (int i = 0; i < 20 && rc == 0; i++) {
		assert_int_equal(esl_feed(&p, "X: ", 3), 0);
		assert_int_equal(esl_feed(&p, line, sizeof(line)), 0);
		rc = esl_next(&p, &m);
	}
	assert_int_equal(rc, -1); /* a header block over 8 KiB */
	esl_parser_free(&p);
	/* more than ESL_MAX_MSG waiting is refused by feed */
	esl_parser_init(&p);
	{
		char *big = malloc(ESL_MAX_MSG + 1);

		memset(big, 'x', ESL_MAX_MSG + 1);
		assert_int_equal(esl_feed(&p, big, ESL_MAX_MSG + 1), ENOBUFS);
		free(big);
	}
	esl_parser_free(&p);
}

static void
test_random_bytes_never_crash(void **st)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	static const char alphabet[] = "ab:\n\n 0123456789%Content-Length: \r";

	(void)st;
	for (int round = 0; round < 2000; round++) {
		struct esl_parser p;
		struct esl_msg m;
		char buf[512];
		size_t n;
		int rc;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = x % sizeof(buf);
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = (round & 1)
			    ? (char)(x & 0xff)
			    : alphabet[x % (sizeof(alphabet) - 1)];
		}
		esl_parser_init(&p);
		if (esl_feed(&p, buf, n) == 0) {
			while ((rc = esl_next(&p, &m)) == 1) {
				struct esl_heartbeat hb;
				struct esl_status sst;

				esl_heartbeat_parse(m.body, m.body_len, &hb);
				esl_status_parse(m.body, m.body_len, &sst);
				esl_msg_free(&m);
			}
			assert_true(rc == 0 || rc == -1);
		}
		esl_parser_free(&p);
	}
}

static void
test_api_status_figures(void **st)
{
	struct esl_status s;
	const char *b =
	    "UP 0 years, 0 days, 1 hour, 2 minutes, 3 seconds, 4 milliseconds, "
	    "5 microseconds\n"
	    "FreeSWITCH (Version 1.10.12-release git a88d069 2024-08-02 "
	    "21:02:27Z 64bit) is ready\n"
	    "1234 session(s) since startup\n"
	    "17 session(s) - peak 50, last 5min 20 \n"
	    "3 session(s) per Sec out of max 30, peak 9, last 5min 4 \n"
	    "1000 session(s) max\n"
	    "min idle cpu 0.00/97.50\n"
	    "Current Stack Size/Max 240K/8192K\n";

	(void)st;
	assert_int_equal(esl_status_parse(b, strlen(b), &s), 0);
	assert_true(s.ready);
	assert_int_equal(s.sessions, 17);
	assert_int_equal(s.sps_last, 3);
	assert_int_equal(s.sps_max, 30);
	assert_int_equal(s.max_sessions, 1000);
	assert_int_equal(s.idle_milli, 97500);
	/* a max without the last second's count is no figure */
	b = "0 session(s) - peak 0, last 5min 0 \n"
	    "per Sec out of max 30, peak 9, last 5min 4 \n";
	assert_int_equal(esl_status_parse(b, strlen(b), &s), 0);
	assert_false(s.have_sps);
	assert_int_equal(esl_status_parse("-ERR no\n", 8, &s), EBADMSG);
}

static void
test_node_attrs_give_the_event_socket(void **st)
{
	char host[64], pw[64] = "ClueCon";
	int port;
	uint32_t iv = 20;

	(void)st;
	assert_int_equal(esl_attrs_parse("rweight=5;esl=10.0.0.10:8022;"
					 "esl_password=s3cret;esl_interval=5",
			     host, sizeof(host), &port, pw, sizeof(pw), &iv),
	    0);
	assert_string_equal(host, "10.0.0.10");
	assert_int_equal(port, 8022);
	assert_string_equal(pw, "s3cret");
	assert_int_equal(iv, 5);
	strcpy(pw, "ClueCon");
	assert_int_equal(esl_attrs_parse("esl=fs://:pw2@fs1.example", host,
			     sizeof(host), &port, pw, sizeof(pw), &iv),
	    0);
	assert_string_equal(host, "fs1.example");
	assert_int_equal(port, 8021);
	assert_string_equal(pw, "pw2");
	assert_int_equal(esl_attrs_parse("esl=[::1]:8021", host, sizeof(host),
			     &port, pw, sizeof(pw), &iv),
	    0);
	assert_string_equal(host, "::1");
	assert_int_equal(esl_attrs_parse("rweight=3", host, sizeof(host),
			     &port, pw, sizeof(pw), &iv),
	    ENOENT);
	assert_int_equal(esl_attrs_parse("esl=host:99999", host, sizeof(host),
			     &port, pw, sizeof(pw), &iv),
	    EINVAL);
	assert_int_equal(esl_attrs_parse("esl=ho st:1", host, sizeof(host),
			     &port, pw, sizeof(pw), &iv),
	    EINVAL);
	assert_int_equal(esl_attrs_parse("esl=h:1;esl_interval=0", host,
			     sizeof(host), &port, pw, sizeof(pw), &iv),
	    EINVAL);
}

static void
test_percent_parse_rounds_to_thousandths(void **st)
{
	uint32_t v;

	(void)st;
	assert_int_equal(esl_percent_milli("100.000000", &v), 0);
	assert_int_equal(v, 100000);
	assert_int_equal(esl_percent_milli("0.0005", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(esl_percent_milli("42", &v), 0);
	assert_int_equal(v, 42000);
	assert_int_equal(esl_percent_milli("100.5", &v), EINVAL);
	assert_int_equal(esl_percent_milli("nan", &v), EINVAL);
	assert_int_equal(esl_percent_milli("1e3", &v), EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_session_start_auth_command_reply_and_api_response_frame),
		cmocka_unit_test(
		    test_event_split_byte_by_byte_waits_then_decodes),
		cmocka_unit_test(test_other_events_are_not_heartbeats),
		cmocka_unit_test(test_garbage_is_refused),
		cmocka_unit_test(
		    test_endless_header_block_and_flood_are_bounded),
		cmocka_unit_test(test_random_bytes_never_crash),
		cmocka_unit_test(test_api_status_figures),
		cmocka_unit_test(test_node_attrs_give_the_event_socket),
		cmocka_unit_test(test_percent_parse_rounds_to_thousandths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
