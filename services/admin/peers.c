/*
 * siplb-admin's calls to the other services over req/rep: the
 * scheduler(s), dialogd and the edges, and what their answers mean for
 * the HTTP reply.  Shared by the API (api.c, api_nodes.c) and /metrics
 * (metrics.c); blocking, ADM_CALL_MS each.
 */
#include <errno.h>

#include "admin.h"
#include "bus.h"

int
adm_sched_call(
    const char *url, Siplb__V1__SchedRequest *q, Siplb__V1__SchedReply **rp)
{
	return slb_req_call(url, &q->base, &siplb__v1__sched_reply__descriptor,
	    ADM_CALL_MS, 0, (ProtobufCMessage **)rp);
}

/* Counters of an edge or of dialogd: both answer stats at field 11
 * (StatsAnswer).  *rp is NULL unless 0 is returned. */
static int
adm_stats(const char *url, ProtobufCMessage *req, Siplb__V1__StatsAnswer **rp)
{
	int err;

	*rp = NULL;
	err = slb_req_call(url, req, &siplb__v1__stats_answer__descriptor,
	    ADM_CALL_MS, 0, (ProtobufCMessage **)rp);
	if (err == 0 &&
	    ((*rp)->status != SIPLB__V1__STATUS__STATUS_OK ||
		(*rp)->stats == NULL)) {
		slb_msg_free(&(*rp)->base);
		*rp = NULL;
		return EPROTO;
	}
	return err;
}

int
adm_edge_stats(const char *url, Siplb__V1__StatsAnswer **rp)
{
	Siplb__V1__EdgeRequest q = SIPLB__V1__EDGE_REQUEST__INIT;

	q.body_case = SIPLB__V1__EDGE_REQUEST__BODY_STATS;
	q.stats = 1;
	return adm_stats(url, &q.base, rp);
}

int
adm_dialogd_call(
    struct adm *a, Siplb__V1__DialogQuery *dq, Siplb__V1__DialogdReply **rp)
{
	Siplb__V1__DialogdRequest q = SIPLB__V1__DIALOGD_REQUEST__INIT;

	if (a->cfg.dialogd[0] == '\0')
		return ENOTCONN;
	q.body_case = SIPLB__V1__DIALOGD_REQUEST__BODY_QUERY;
	q.query = dq;
	return slb_req_call(a->cfg.dialogd, &q.base,
	    &siplb__v1__dialogd_reply__descriptor, ADM_CALL_MS, 0,
	    (ProtobufCMessage **)rp);
}

int
adm_dialogd_stats(struct adm *a, Siplb__V1__StatsAnswer **rp)
{
	Siplb__V1__DialogdRequest q = SIPLB__V1__DIALOGD_REQUEST__INIT;

	*rp = NULL;
	if (a->cfg.dialogd[0] == '\0')
		return ENOTCONN;
	q.body_case = SIPLB__V1__DIALOGD_REQUEST__BODY_STATS;
	q.stats = 1;
	return adm_stats(a->cfg.dialogd, &q.base, rp);
}

Siplb__V1__SchedReply *
adm_sched_list(struct adm *a, int *idx)
{
	Siplb__V1__SchedRequest q = SIPLB__V1__SCHED_REQUEST__INIT;
	Siplb__V1__AdminRequest ar = SIPLB__V1__ADMIN_REQUEST__INIT;
	Siplb__V1__SchedReply *r;

	ar.op = SIPLB__V1__ADMIN_REQUEST__OP__OP_LIST;
	q.body_case = SIPLB__V1__SCHED_REQUEST__BODY_ADMIN;
	q.admin = &ar;
	for (int i = 0; i < a->nsched; i++) {
		if (adm_sched_call(a->sched[i], &q, &r) != 0)
			continue;
		if (r->status == SIPLB__V1__STATUS__STATUS_OK && r->admin &&
		    r->admin->table) {
			if (idx)
				*idx = i;
			return r;
		}
		slb_msg_free(&r->base);
	}
	return NULL;
}

unsigned
adm_http_status(Siplb__V1__Status st)
{
	switch (st) {
	case SIPLB__V1__STATUS__STATUS_OK: return 200;
	case SIPLB__V1__STATUS__STATUS_BAD_REQUEST: return 400;
	case SIPLB__V1__STATUS__STATUS_NOT_FOUND: return 404;
	case SIPLB__V1__STATUS__STATUS_CONFLICT: return 409;
	case SIPLB__V1__STATUS__STATUS_UNSUPPORTED_VERSION: return 502;
	default: return 500;
	}
}

void
adm_no_scheduler(struct adm *a, struct adm_reply *rp)
{
	adm_reply_error(rp, 503,
	    "no scheduler answered within %d ms "
	    "(tried %d: %s%s)",
	    ADM_CALL_MS, a->nsched, a->sched[0], a->nsched > 1 ? ", ..." : "");
}
