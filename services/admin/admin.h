#ifndef SIPLB_ADMIN_ADMIN_H
#define SIPLB_ADMIN_ADMIN_H

#include <jansson.h>
#include <stddef.h>

#include "cfg.h"
#include "msg.h"

/*
 * siplb-admin: the HTTP/JSON admin API, Prometheus /metrics and /healthz.
 * It owns no state: every request is answered from the scheduler(s),
 * dialogd and the edges over req/rep.
 */

#define ADM_MAX_PEERS 16
#define ADM_TOKEN_MAX 1024
/* Per call to another service (blocking, from the HTTP handler). */
#define ADM_CALL_MS 1000

/* [general] + [admin] of the configuration file. */
struct adm_cfg {
	char run_dir[SLB_CFG_STRLEN];
	char log_level[SLB_CFG_STRLEN];
	char log_facility[SLB_CFG_STRLEN];
	int log_syslog;

	char listen[SLB_CFG_STRLEN];
	char token_file[SLB_CFG_STRLEN];
	int metrics_public;
	char schedulers[SLB_CFG_STRLEN];
	char dialogd[SLB_CFG_STRLEN];
	char edges[SLB_CFG_STRLEN];
	int max_body;
};

struct event_base;
struct event;
struct MHD_Daemon;

struct adm {
	struct adm_cfg cfg;
	char token[ADM_TOKEN_MAX];
	size_t token_len;
	char sched[ADM_MAX_PEERS][SLB_CFG_STRLEN];
	int nsched;
	char edge[ADM_MAX_PEERS][SLB_CFG_STRLEN];
	int nedge;

	struct event_base *base;
	struct MHD_Daemon *httpd;
	struct event *http_ev; /* MHD's epoll fd readable */
	struct event *http_tmr; /* MHD_get_timeout */
};

/* An HTTP answer built by the API: status and a JSON body, or a text body
 * (metrics). */
struct adm_reply {
	unsigned status;
	json_t *json; /* owned */
	char *text; /* owned, malloc'd */
	size_t text_len;
	const char *content_type;
	const char *allow; /* for 405 */
};

/* service.c */
/* Parse the config file; 0 or EINVAL (already logged). */
int adm_cfg_load(struct adm *a, const char *path);
/* Read the token, bind the HTTP socket, hook it to the loop. 0, or
 * SLB_EXIT_CONFIG for a missing token / bad address, or another errno. */
int adm_init(struct adm *a);
void adm_close(struct adm *a);

/* http.c: start/stop libmicrohttpd on a.cfg.listen inside the loop. */
int adm_http_start(struct adm *a);
void adm_http_stop(struct adm *a);
struct sockaddr_storage;
/* "ADDR:PORT" or "[V6]:PORT"; 0 or EINVAL. */
int adm_http_parse_listen(const char *s, struct sockaddr_storage *ss);

/* api.c: answer one request; body may be NULL. */
void adm_api_handle(struct adm *a, const char *method, const char *path,
    const char *body, size_t body_len, void *conn, struct adm_reply *rp);

/* A {"error": msg} reply with status. */
void adm_reply_error(struct adm_reply *rp, unsigned status, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/* metrics.c: Prometheus text (format 0.0.4) into rp. */
void adm_metrics(struct adm *a, struct adm_reply *rp);

/* Query-string value of the current request, or NULL (http.c). */
const char *adm_http_arg(void *conn, const char *name);

/* peers.c: the calls to the other services, for api*.c and metrics.c.
 * Send to one scheduler; 0, or ETIMEDOUT/errno.  *rp is owned by the
 * caller (slb_msg_free). */
int adm_sched_call(
    const char *url, Siplb__V1__SchedRequest *q, Siplb__V1__SchedReply **rp);
/* counters of an edge / of dialogd; *rp NULL unless 0 is returned */
int adm_edge_stats(const char *url, Siplb__V1__StatsAnswer **rp);
int adm_dialogd_call(
    struct adm *a, Siplb__V1__DialogQuery *dq, Siplb__V1__DialogdReply **rp);
int adm_dialogd_stats(struct adm *a, Siplb__V1__StatsAnswer **rp);
/* The node table from the first scheduler that answers; NULL when none.
 * *idx gets which one. */
Siplb__V1__SchedReply *adm_sched_list(struct adm *a, int *idx);
/* The HTTP status for a service's refusal with st. */
unsigned adm_http_status(Siplb__V1__Status st);
/* 503: no scheduler answered. */
void adm_no_scheduler(struct adm *a, struct adm_reply *rp);

#endif
