#ifndef SIPLB_TESTS_UNIT_H
#define SIPLB_TESTS_UNIT_H

/*
 * What the unit tests share: cmocka's includes in the order it needs, a
 * fixture allocator, loopback UDP sockets, SIP header lookup and, for
 * tests that include lb.h first, a node added to a table in one line.
 * Everything is static inline: each test is one translation unit and
 * uses what it needs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* A setup that gives each test a zeroed struct TYPE in *state. */
#define UNIT_CALLOC_SETUP(name, type) \
	static int name(void **state) \
	{ \
		type *f_ = calloc(1, sizeof(*f_)); \
		if (f_ == NULL) \
			return -1; \
		*state = f_; \
		return 0; \
	}

/* A UDP socket on 127.0.0.1, any port; *port gets it. */
static inline int
unit_udp_sock(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* msg from fd to 127.0.0.1:port, whole. */
static inline void
unit_send_to(int fd, int port, const char *msg)
{
	struct sockaddr_in a = { .sin_family = AF_INET };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	assert_int_equal(
	    sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&a, sizeof(a)),
	    (ssize_t)strlen(msg));
}

/* The nth (from 0) header line called name in SIP text, whole ("Via:
 * ..."), in a static buffer; NULL when there is none. */
static inline const char *
unit_header(const char *msg, const char *name, int nth)
{
	static char line[1024];
	const char *p = msg;
	size_t nl = strlen(name);

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':' &&
		    nth-- == 0) {
			const char *e = strstr(p, "\r\n");
			size_t n = e ? (size_t)(e - p) : strlen(p);

			if (n >= sizeof(line))
				n = sizeof(line) - 1;
			memcpy(line, p, n);
			line[n] = '\0';
			return line;
		}
	}
	return NULL;
}

#ifdef EVENT2_EVENT_H_INCLUDED_
#include <poll.h>
#include <time.h>

/* Run base's loop in turns of 2 ms (or call turn(arg) for each, when not
 * NULL) until fd has a datagram or ms pass; read it into buf, NUL-ended.
 * The edge tests' "what did the edge send this socket". */
static inline const char *
unit_loop_recv(struct event_base *base, void (*turn)(void *), void *arg,
    int fd, char *buf, size_t len, int ms)
{
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct timeval tv = { 0, 2000 };

		if (poll(&p, 1, 0) == 1) {
			ssize_t n = recv(fd, buf, len - 1, 0);

			if (n > 0) {
				buf[n] = '\0';
				return buf;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000 +
			(now.tv_nsec - t0.tv_nsec) / 1000000 >=
		    ms)
			return NULL;
		if (turn != NULL) {
			turn(arg);
		} else {
			event_base_loopexit(base, &tv);
			event_base_dispatch(base);
		}
	}
}
#endif

#ifdef SIPLB_LB_LB_H
/* Add node id (uri, group, set, resources "pstn=10;vm=5") to t. */
static inline void
unit_add_node(struct lb_table *t, uint32_t id, const char *uri, uint32_t group,
    uint32_t set, const char *res)
{
	struct lb_node n;
	char err[256];

	lb_node_defaults(&n);
	n.id = id;
	n.group = group;
	n.set = set;
	snprintf(n.uri, sizeof(n.uri), "%s", uri);
	assert_int_equal(
	    lb_res_parse(res, n.res, &n.nres, err, sizeof(err)), 0);
	assert_int_equal(lb_table_add(t, &n, NULL, err, sizeof(err)), 0);
}
#endif

#endif
