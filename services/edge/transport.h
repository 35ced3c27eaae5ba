#ifndef SIPLB_EDGE_TRANSPORT_H
#define SIPLB_EDGE_TRANSPORT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uthash.h>

/*
 * SIP over UDP and TCP (RFC 3261 §18): the listening sockets, TCP
 * connections (framed by Content-Length, CRLF keep-alives), sending, and
 * SIP URIs as addresses.  Every message read is handed to the receive
 * handler given to edge_transport_open; the buffer stays transport's and
 * is valid for the call only.  Accepted connections are limited per
 * source address (tcp_max_conns_per_source, refused from a blocked
 * source: e->pike), and one whose message does not arrive whole within
 * tcp_msg_timeout of its first byte is closed (slowloris).  Owns the
 * sockets and connections.
 */

#define EDGE_MAX_SOCKS 8

struct edge;
struct event;
struct bufferevent;

enum edge_proto { EP_UDP = 1, EP_TCP = 2 };

/* Where a message came from or goes to. */
struct edge_peer {
	enum edge_proto proto;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int sock; /* index of our listening socket it used */
	uint32_t conn; /* TCP connection id, 0 = none/any */
};

struct edge_sock {
	int fd;
	enum edge_proto proto;
	char host[64]; /* bound address */
	int port;
	char adv[160]; /* host[:port] written into Via/Record-Route */
	struct sockaddr_storage adv_ss; /* adv, resolved once */
	struct sockaddr_storage bound_ss;
	struct edge *e;
	int idx;
	struct event *ev;
};

struct edge_conn {
	uint32_t id;
	struct edge *e;
	struct bufferevent *bev;
	struct edge_peer peer;
	uint64_t last_us;
	bool per_source; /* counted for its address (e->pike) */
	struct event *msg_ev; /* tcp_msg_timeout of a partial message */
	UT_hash_handle hh;
};

/* One SIP message read from src (buf NUL-terminated at len, writable). */
typedef void (*edge_recv_h)(
    struct edge *e, char *buf, size_t len, const struct edge_peer *src);

/* Bind every [edge] listen socket; messages go to h. */
int edge_transport_open(struct edge *e, edge_recv_h h);
void edge_transport_close(struct edge *e);
int edge_send(
    struct edge *e, const struct edge_peer *to, const char *buf, size_t len);
/* A SIP URI's host, port and transport as a peer; the host must be an
 * address (the message path never waits for DNS). */
int edge_uri_peer(
    struct edge *e, const char *uri, size_t len, struct edge_peer *p);
/* The same, looking names up (blocking): start and node-table updates. */
int edge_uri_peer_dns(
    struct edge *e, const char *uri, size_t len, struct edge_peer *p);
void edge_peer_str(const struct edge_peer *p, char *buf, size_t len);
/* Same address (and port, when port_too). */
bool edge_same_addr(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b, bool port_too);

#endif
