
#include <errno.h>
#include <osipparser2/osip_parser.h>
#include <string.h>

#include "sipaddr.h"
#include "unit.h"

/*
 * SIP URI -> host, port, transport (services/common/sipaddr.c, on
 * osip_uri_parse), as the prober and the edge read node and Route URIs.
 */

static struct slb_sip_addr
parse_ok(const char *uri)
{
	struct slb_sip_addr a;

	assert_int_equal(slb_sip_addr_parse(uri, strlen(uri), &a), 0);
	return a;
}

static void
test_host_and_default_ports_by_scheme(void **state)
{
	struct slb_sip_addr a;
	char buf[64];

	(void)state;
	a = parse_ok("sip:10.0.0.1");
	assert_string_equal(a.host, "10.0.0.1");
	assert_int_equal(a.port, 0);
	assert_int_equal(slb_sip_addr_port(&a), 5060);
	a = parse_ok("sips:node.example");
	assert_true(a.sips);
	assert_int_equal(slb_sip_addr_port(&a), 5061);
	assert_int_equal(slb_sip_addr_format(&a, buf, sizeof(buf), true), 0);
	assert_string_equal(buf, "node.example:5061");
}

static void
test_user_port_transport_and_params(void **state)
{
	struct slb_sip_addr a;
	char buf[64];

	(void)state;
	a = parse_ok("sip:fs1@10.0.0.2:5070;transport=TCP;lr?x=y");
	assert_string_equal(a.host, "10.0.0.2");
	assert_int_equal(a.port, 5070);
	assert_string_equal(a.transport, "tcp");
	assert_int_equal(slb_sip_addr_format(&a, buf, sizeof(buf), true), 0);
	assert_string_equal(buf, "10.0.0.2:5070:tcp");
	assert_int_equal(slb_sip_addr_format(&a, buf, sizeof(buf), false), 0);
	assert_string_equal(buf, "10.0.0.2:5070");
}

static void
test_ipv6_host_loses_and_regains_brackets(void **state)
{
	struct slb_sip_addr a;
	char buf[64];

	(void)state;
	a = parse_ok("sip:[2001:db8::1]:5080;lr");
	assert_string_equal(a.host, "2001:db8::1");
	assert_int_equal(a.port, 5080);
	assert_int_equal(slb_sip_addr_format(&a, buf, sizeof(buf), false), 0);
	assert_string_equal(buf, "[2001:db8::1]:5080");
}

static void
test_name_addr_brackets_and_length_bound(void **state)
{
	const char *route = "<sip:10.0.0.3:5090;lr>, <sip:other>";
	struct slb_sip_addr a;

	(void)state;
	/* only the first 22 bytes are the URI's, no NUL after them */
	assert_int_equal(slb_sip_addr_parse(route, 22, &a), 0);
	assert_string_equal(a.host, "10.0.0.3");
	assert_int_equal(a.port, 5090);
	assert_int_equal(
	    slb_sip_addr_parse(route, 13, &a), 0); /* "<sip:10.0.0.3" */
	assert_string_equal(a.host, "10.0.0.3");
	assert_int_equal(a.port, 0);
}

static void
test_refuses_other_schemes_bad_ports_and_no_host(void **state)
{
	static const char *bad[] = {
		"tel:+123",
		"http://h",
		"sip:",
		"sip:h:",
		"sip:h:0",
		"sip:h:65536",
		"sip:h:5o60",
		"",
		"<>",
	};
	char longuri[SLB_SIP_URI_MAX + 16];
	struct slb_sip_addr a;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		    slb_sip_addr_parse(bad[i], strlen(bad[i]), &a), EINVAL);
	memset(longuri, 'a', sizeof(longuri));
	memcpy(longuri, "sip:", 4);
	assert_int_equal(
	    slb_sip_addr_parse(longuri, sizeof(longuri), &a), EINVAL);
	assert_int_equal(slb_sip_addr_parse("sip:a\0b", 7, &a), EINVAL);
}

static int
setup_group(void **state)
{
	(void)state;
	parser_init();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_and_default_ports_by_scheme),
		cmocka_unit_test(test_user_port_transport_and_params),
		cmocka_unit_test(test_ipv6_host_loses_and_regains_brackets),
		cmocka_unit_test(test_name_addr_brackets_and_length_bound),
		cmocka_unit_test(
		    test_refuses_other_schemes_bad_ports_and_no_host),
	};

	return cmocka_run_group_tests_name(
	    "common_sipaddr", tests, setup_group, NULL);
}
