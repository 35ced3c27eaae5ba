/*
 * libFuzzer target: the edge's whole message path (edge_on_message) with
 * the real loop and real sockets, as in tests/unit/test_edge_proxy.c.
 * The first input byte says who sent the rest: even = a phone on
 * 127.0.0.1, odd = node 1 (so responses and node-originated requests are
 * reached too); bit 1 picks TCP instead of UDP as the transport it came
 * over.  Whatever the edge sends goes to sockets nobody reads (drained
 * now and then), so a run is bounded by the input alone.
 */
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edge.h"
#include "proxy.h"
#include "log.h"

static struct edge *E;
static int node_fd, phone_fd;
static struct edge_peer phone, node;

static int
udp_sock(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		abort();
	getsockname(fd, (struct sockaddr *)&a, &l);
	*port = ntohs(a.sin_port);
	return fd;
}

static void
peer_at(struct edge_peer *p, int port)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&p->ss;

	memset(p, 0, sizeof(*p));
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	in->sin_port = htons((uint16_t)port);
	p->sslen = sizeof(*in);
	p->proto = EP_UDP;
}

static void
add_node(struct lb_table *t, uint32_t id, int port)
{
	struct lb_node n;
	char err[128];

	lb_node_defaults(&n);
	n.id = id;
	n.group = 1;
	n.set = 1;
	snprintf(n.uri, sizeof(n.uri), "sip:127.0.0.1:%d", port);
	if (lb_res_parse("pstn=100000", n.res, &n.nres, err, sizeof(err)) ||
	    lb_table_add(t, &n, NULL, err, sizeof(err)))
		abort();
}

static void
drain(int fd)
{
	char buf[65536];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static void
done(void)
{
	edge_close(E);
	free(E);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct lb_table t;
	int pnode, pnode2, pphone, pedge, node2_fd;

	(void)argc;
	(void)argv;
	slb_log_init("fuzz-edge");
	slb_log_configure("crit", "local0", 0);
	E = calloc(1, sizeof(*E));
	if (E == NULL || edge_cfg_load(&E->cfg, NULL) != 0)
		abort();
	/* a port the kernel just handed out, free again */
	close(udp_sock(&pedge));
	snprintf(
	    E->cfg.listen, sizeof(E->cfg.listen), "udp:127.0.0.1:%d", pedge);
	snprintf(E->cfg.scheduler, sizeof(E->cfg.scheduler),
	    "inproc://fuzz-nosched");
	E->cfg.scheduler_pub[0] = '\0';
	E->cfg.dialogd[0] = '\0';
	snprintf(E->cfg.pub, sizeof(E->cfg.pub), "inproc://fuzz-pub");
	snprintf(E->cfg.rep, sizeof(E->cfg.rep), "inproc://fuzz-rep");
	E->cfg.sched_timeout_ms = 1;
	if (edge_init(E) != 0)
		abort();
	node_fd = udp_sock(&pnode);
	node2_fd = udp_sock(&pnode2);
	phone_fd = udp_sock(&pphone);
	(void)node2_fd;
	lb_table_init(&t, 1);
	add_node(&t, 1, pnode);
	add_node(&t, 2, pnode2);
	if (edge_set_table(E, &t) != 0)
		abort();
	lb_table_free(&t);
	peer_at(&phone, pphone);
	peer_at(&node, pnode);
	atexit(done);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned n;
	struct edge_peer src;
	char *buf;

	if (size < 1 || size > 65536)
		return 0;
	src = (data[0] & 1) ? node : phone;
	if (data[0] & 2) {
		src.proto = EP_TCP;
		src.conn = 0;
	}
	/* the edge edits messages in place and may read one byte past */
	buf = malloc(size);
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	edge_on_message(E, buf, size - 1, &src);
	free(buf);
	event_base_loop(E->base, EVLOOP_NONBLOCK);
	if (++n % 64 == 0) {
		drain(node_fd);
		drain(phone_fd);
	}
	return 0;
}
