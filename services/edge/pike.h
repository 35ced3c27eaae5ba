#ifndef SIPLB_EDGE_PIKE_H
#define SIPLB_EDGE_PIKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * Floods from one source (what Kamailio's pike and OpenSIPS's ratelimit
 * do): requests per source address per window, the sources that went
 * over the limit and are blocked for a while, the addresses that are
 * never limited (the node table's and an allow list of addresses and
 * CIDRs), and TCP connections per source address.  Decided on the
 * address alone, before a message is parsed.
 *
 * A plain value with no edge context, so it can be tested alone (flood.c
 * and transport.c use it for the edge).  Memory is bounded: at most
 * max_sources addresses are tracked; a new one pushes out the one that
 * was quiet the longest (a blocked one only when nothing else is left
 * near the head), and edge_pike_expire forgets quiet ones and ends
 * blocks.  Logs one line per block started and per block ended.  Owns its
 * tables.
 *
 * The rate is a sliding window: the current window's count plus the
 * previous window's, weighted by how much of it still overlaps.
 */

#define EDGE_PIKE_MAX_ALLOW 64

enum edge_pike_reaction { PIKE_REACT_DROP, PIKE_REACT_503, PIKE_REACT_BLOCK };

struct edge_pike_cfg {
	int requests; /* per window; 0 = no limit */
	int window_ms;
	enum edge_pike_reaction reaction;
	int block_s; /* PIKE_REACT_BLOCK: how long */
	int max_sources; /* addresses tracked at most (0: 65536) */
	int conns_per_source; /* TCP connections per address; 0 = no limit */
};

enum edge_pike_verdict {
	PIKE_PASS, /* allowed, under the limit, or no limit */
	PIKE_OVER, /* over the limit: drop or 503 (reaction) */
	PIKE_BLOCKED, /* the source is blocked (or just got so) */
};

/* An address as a key: family and 16 bytes (IPv4 in the first 4; an
 * IPv4-mapped IPv6 address counts as its IPv4 one). */
struct edge_pike_addr {
	uint8_t fam; /* AF_INET, AF_INET6, 0 = none */
	uint8_t pad[3];
	uint8_t a[16];
};

struct edge_pike_cidr {
	struct edge_pike_addr net;
	int bits;
};

struct edge_pike_stats {
	uint64_t over; /* requests over the limit (drop, 503) */
	uint64_t blocked_drops; /* messages from blocked sources dropped */
	uint64_t blocks_started, blocks_ended;
	uint64_t evicted; /* sources pushed out of a full table */
	uint64_t conns_refused; /* TCP connections over conns_per_source */
};

struct edge_pike_src;
struct edge_pike_conns;

struct edge_pike {
	struct edge_pike_cfg cfg;
	struct edge_pike_cidr allow[EDGE_PIKE_MAX_ALLOW];
	int nallow;
	struct edge_pike_addr *nodes; /* sorted */
	size_t nnodes;
	struct edge_pike_src *srcs; /* by address, quietest first */
	size_t nsrcs, nblocked;
	struct edge_pike_conns *conns; /* TCP connections, by address */
	struct edge_pike_stats st;
};

/* The reaction named s ("drop", "503", "block"); EINVAL otherwise. */
int edge_pike_reaction_parse(const char *s, enum edge_pike_reaction *r);
/* Set p up (a zeroed struct is a pike with no limit); allow is a comma-
 * separated list of addresses and ADDR/BITS (NULL or "": none).  EINVAL
 * with err filled when an item does not parse. */
int edge_pike_init(struct edge_pike *p, const struct edge_pike_cfg *c,
    const char *allow, char *err, size_t errlen);
void edge_pike_free(struct edge_pike *p);
/* The node table's addresses (always allowed), replacing the last ones. */
int edge_pike_set_nodes(
    struct edge_pike *p, const struct sockaddr_storage *ss, size_t n);

/* ss as a key (port ignored); false for a family other than IPv4/IPv6. */
bool
edge_pike_addr_of(const struct sockaddr_storage *ss, struct edge_pike_addr *a);
/* A node's address or in the allow list: never limited. */
bool edge_pike_allowed(
    const struct edge_pike *p, const struct sockaddr_storage *ss);
/* One request from ss at now_us: counted, and the verdict. */
enum edge_pike_verdict edge_pike_request(
    struct edge_pike *p, const struct sockaddr_storage *ss, uint64_t now_us);
/* Anything else from ss (a response, a TCP connection): true when the
 * source is blocked (then counted as a blocked drop). */
bool edge_pike_blocked(
    struct edge_pike *p, const struct sockaddr_storage *ss, uint64_t now_us);
/* Once a second or so: end the blocks whose time is up, forget sources
 * quiet for two windows.  Returns how many sources were forgotten. */
size_t edge_pike_expire(struct edge_pike *p, uint64_t now_us);

/* An accepted TCP connection from ss: false (counted as refused) when
 * the address has conns_per_source already.  *counted tells whether it
 * now counts for the address (not for an allowed one, nor with no
 * limit): then edge_pike_conn_close it when it closes. */
bool edge_pike_conn_open(
    struct edge_pike *p, const struct sockaddr_storage *ss, bool *counted);
void
edge_pike_conn_close(struct edge_pike *p, const struct sockaddr_storage *ss);
/* TCP connections counted for ss. */
int edge_pike_conns_of(
    const struct edge_pike *p, const struct sockaddr_storage *ss);

#endif
