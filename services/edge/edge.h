#ifndef SIPLB_EDGE_EDGE_H
#define SIPLB_EDGE_EDGE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uthash.h>

#include "bus.h"
#include "cfg.h"
#include "sched.h"
#include "sipmsg.h"

/*
 * siplb-edge: a transaction-stateful SIP proxy (RFC 3261 §16, §17).
 * Requests and responses are parsed by libosip2 for meaning and relayed by
 * editing the received bytes (sipmsg.c indexes them); replies the edge
 * originates are built with libosip2.
 */

#define EDGE_MAX_SOCKS 8
#define EDGE_MAX_ATTEMPTS 8
#define EDGE_KEY_MAX 200
#define EDGE_BRANCH_MAX 64

struct event;
struct event_base;
struct bufferevent;

enum edge_proto { EP_UDP = 1, EP_TCP = 2 };

/* Where a message came from or goes to. */
struct edge_peer {
	enum edge_proto proto;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int sock;		/* index of our listening socket it used */
	uint32_t conn;		/* TCP connection id, 0 = none/any */
};

/* ------------------------------------------------------------ config */

enum edge_rule_kind { RULE_REPLY, RULE_LB, RULE_DS };

struct edge_rule {
	enum edge_rule_kind kind;
	int code;		/* RULE_REPLY */
	char reason[64];
	uint32_t group;		/* lb group or ds set */
	char res[SCHED_MAX_RES][SCHED_RES_NAME];
	int nres;
	enum sched_alg alg;
	char alg_name[32];
};

struct edge_cfg {
	char run_dir[SLB_CFG_STRLEN];
	char log_level[SLB_CFG_STRLEN];
	char log_facility[SLB_CFG_STRLEN];
	int log_syslog;

	char id[SLB_CFG_STRLEN];
	char listen[SLB_CFG_STRLEN];
	char advertise[SLB_CFG_STRLEN];
	int freebind;
	char scheduler[SLB_CFG_STRLEN];
	char scheduler_pub[SLB_CFG_STRLEN];
	char pub[SLB_CFG_STRLEN];
	char rep[SLB_CFG_STRLEN];
	char dialogd[SLB_CFG_STRLEN];
	int sched_timeout_ms;
	int max_attempts;
	int t1_ms, t2_ms, t4_ms;
	int fr_ms;		/* no provisional above 100 -> failover */
	int timer_c_ms;		/* INVITE after a provisional */
	int tx_linger_ms;	/* a finished transaction absorbs retransmissions */
	int dialog_lifetime_ms;	/* a dialog with no BYE is forgotten */
	int max_message;
	char route_invite[SLB_CFG_STRLEN];
	char route_register[SLB_CFG_STRLEN];
	char route_options[SLB_CFG_STRLEN];
	char route_message[SLB_CFG_STRLEN];
	char route_subscribe[SLB_CFG_STRLEN];
	char route_notify[SLB_CFG_STRLEN];
	char route_refer[SLB_CFG_STRLEN];
	char route_info[SLB_CFG_STRLEN];
	char route_publish[SLB_CFG_STRLEN];
	char route_other[SLB_CFG_STRLEN];
	char auth_ip_header[SLB_CFG_STRLEN];
	char auth_port_header[SLB_CFG_STRLEN];
	int add_path;
	int tcp_idle_ms;
	int tcp_max_conns;
};

/* ------------------------------------------------------------ state */

struct edge_sock {
	int fd;
	enum edge_proto proto;
	char host[64];		/* bound address */
	int port;
	char adv[160];		/* host[:port] written into Via/Record-Route */
	struct sockaddr_storage adv_ss;	/* adv, resolved once */
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
	UT_hash_handle hh;
};

struct edge_tx;
struct node_addr;

/* One attempt towards one next hop (an RFC 3261 client transaction). */
struct edge_branch {
	char key[EDGE_BRANCH_MAX + 16];	/* branch + "|" + method */
	char branch[EDGE_BRANCH_MAX];
	struct edge_tx *tx;		/* NULL once the tx moved on or ended */
	struct edge *e;
	struct edge_peer dst;
	uint32_t node_id;
	bool invite;
	bool cancel;			/* this is a CANCEL we originated */
	int state;			/* BR_CALLING ... */
	int last_code;
	char *out;			/* bytes sent, for retransmission */
	size_t out_len;
	int retx_ms;
	struct event *t_retx;		/* A / E */
	struct event *t_fr;		/* fr (no provisional) / C / B / F */
	struct event *t_end;		/* D / K: absorb retransmissions */
	UT_hash_handle hh;
};

enum { BR_CALLING = 1, BR_PROCEEDING, BR_COMPLETED, BR_TERMINATED };
enum { TX_PROCEEDING = 1, TX_COMPLETED, TX_CONFIRMED, TX_TERMINATED };

/* A server transaction and what the proxy core does with it. */
struct edge_tx {
	char key[EDGE_KEY_MAX];		/* branch|sent-by|method */
	struct edge *e;
	struct edge_peer src;
	char method[16];
	bool invite;
	int state;
	char *req;			/* the request as received (edited Via) */
	size_t req_len;
	char *resp;			/* last response sent upstream */
	size_t resp_len;
	int resp_code;
	struct event *t_retx;		/* G */
	struct event *t_end;		/* H / I / J / linger */
	int retx_ms;

	/* routing */
	const struct edge_rule *rule;
	bool initial;			/* no To tag: selection and RR */
	int drop_routes;		/* our Route elements on top */
	struct edge_peer fixed;		/* in-dialog next hop */
	uint32_t fixed_node;
	uint32_t exclude[EDGE_MAX_ATTEMPTS];
	int nexclude;
	int attempts;
	struct edge_branch *cur;	/* current client transaction */
	bool got_prov;			/* a provisional above 100 came */
	bool cancelled;
	bool answered;			/* a final response went upstream */
	struct sel_wait *sel_wait;	/* the batch this tx waits in */
	size_t sel_slot;
	bool sel_queued;		/* in the next batch, not yet sent */
	char dkey[24];			/* dialog key, "" = no dialog */
	char call_id[128];
	char from_tag[64];
	bool from_node;			/* request came from one of our nodes */
	UT_hash_handle hh;
};

struct edge_dlg {
	char key[24];
	uint32_t node_id;
	uint32_t group;
	int state;			/* Siplb__V1__DialogState */
	char res[SCHED_MAX_RES][SCHED_RES_NAME];
	int nres;
	char call_id[128];
	char from_tag[64];
	char to_tag[64];
	uint64_t created_us, updated_us;
	UT_hash_handle hh;
};

struct edge_stats {
	uint64_t rx_requests, rx_responses;
	uint64_t tx_requests, tx_responses;
	uint64_t resp_class[7];		/* responses relayed or sent, 1xx..6xx */
	uint64_t drop_too_big, drop_parse, drop_no_tx, drop_loop;
	uint64_t replied_400, replied_483, replied_405, replied_403,
	    replied_481, replied_503;
	uint64_t failovers, sched_fallbacks, sched_errors, retransmissions;
	uint64_t send_errors, tcp_accepted, tcp_closed, tcp_refused;
	uint64_t stalls, stale_dialogs;	/* see reconcile_dialogs */
};

struct edge {
	struct edge_cfg cfg;
	struct event_base *base;
	struct slb_bridge *br;
	struct edge_sock socks[EDGE_MAX_SOCKS];
	int nsocks;
	int udp_out;			/* socket used towards nodes */
	struct edge_conn *conns;	/* by id */
	uint32_t next_conn;
	int nconns;

	struct edge_rule rules[10];	/* invite register options message
					 * subscribe notify refer info publish
					 * other */
	struct edge_tx *txs;		/* by key */
	struct edge_branch *branches;	/* by key */
	struct edge_dlg *dlgs;		/* by key */
	size_t ntx, nbranches, ndlgs;
	uint64_t branch_seq;
	uint32_t branch_salt;

	/* scheduler */
	nng_socket sched;		/* raw REQ: many requests in flight */
	struct event *sched_ev;
	uint32_t sel_seq;
	struct sel_wait *sel_waits;
	/* work gathered during one loop turn, sent by one flush */
	struct event *flush_ev;
	struct event *evflush_ev;
	struct edge_tx **selq;
	size_t nselq, capselq;
	struct pending_ev *evq;
	size_t nevq, capevq;
	struct slb_sub *table_sub;
	struct sched_table cache;	/* last node table from the scheduler */
	bool have_cache;
	struct node_addr *node_addrs;	/* the cache's nodes, resolved */
	size_t n_node_addrs;
	bool sched_away;		/* no answer: select from the cache */
	uint64_t sched_next_probe_us;	/* ask the scheduler again then */
	unsigned ticks;
	uint64_t tick_mono_us, tick_wall_us;	/* last tick (stall check) */
	uint64_t stall_since_us;	/* wall clock when the last stall began */
	int rechecks;
	struct event *recheck_ev;

	struct slb_pub *pub;
	struct slb_rep *rep;
	struct event *tick;
	char stream[80];

	struct edge_stats st;
};

/* service.c */
int edge_cfg_load(struct edge_cfg *c, const char *path);
int edge_init(struct edge *e);
void edge_close(struct edge *e);
void edge_dlg_event(struct edge *e, const char *key, int state,
    uint32_t node_id, const struct edge_rule *rule, const char *call_id,
    const char *from_tag, const char *to_tag, const char *reason);
void edge_report_failure(struct edge *e, uint32_t node_id, int code);
/* Drop a pending scheduler request of tx (it is being freed, or the call
 * ended while the scheduler was asked). */
void edge_sel_forget(struct edge *e, struct edge_tx *tx);
/* Ask the scheduler (or the cached table) for the next node of tx. */
void edge_select(struct edge *e, struct edge_tx *tx);
/* Replace the cached node table (what the scheduler publishes; tests). */
int edge_set_table(struct edge *e, const struct sched_table *t);
const struct sched_node *edge_node_by_addr(struct edge *e,
    const struct sockaddr_storage *ss, bool port_too);

/* transport.c */
int edge_transport_open(struct edge *e);
void edge_transport_close(struct edge *e);
int edge_send(struct edge *e, const struct edge_peer *to, const char *buf,
    size_t len);
/* A SIP URI's host, port and transport as a peer; the host must be an
 * address (the message path never waits for DNS). */
int edge_uri_peer(struct edge *e, const char *uri, size_t len,
    struct edge_peer *p);
/* The same, looking names up (blocking): start and node-table updates. */
int edge_uri_peer_dns(struct edge *e, const char *uri, size_t len,
    struct edge_peer *p);
/* Where node id is reached, as resolved when the table arrived. */
int edge_node_peer(struct edge *e, uint32_t id, struct edge_peer *p);
void edge_peer_str(const struct edge_peer *p, char *buf, size_t len);
/* Same address (and port, when port_too). */
bool edge_same_addr(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b, bool port_too);

/* proxy.c */
void edge_on_message(struct edge *e, char *buf, size_t len,
    const struct edge_peer *src);
void edge_route_chosen(struct edge *e, struct edge_tx *tx, uint32_t node_id,
    const char *uri);
void edge_route_failed(struct edge *e, struct edge_tx *tx, int code,
    const char *reason);
void edge_tx_free(struct edge *e, struct edge_tx *tx);
void edge_branch_free(struct edge *e, struct edge_branch *b);

#endif
