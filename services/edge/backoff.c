#define SLB_LOG_MODULE "edge"
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "backoff.h"
#include "edge.h"
#include "log.h"
#include "sipmsg.h"

/*
 * A node's 503 with Retry-After (FreeSWITCH: "503 Maximum Calls In
 * Progress", Retry-After: 300 when it is full, paused or out of CPU):
 * the edge fails over at once as for any 503, and tells the scheduler how
 * long the node asked to be left alone; the scheduler backs it off for
 * that long (bounded) without marking it down.
 */

/* Values above this are refused rather than wrapped. */
#define RETRY_AFTER_MAX 4294967u

int
edge_retry_after_parse(const char *v, size_t len, uint32_t *secs)
{
	uint64_t n = 0;
	size_t i = 0;

	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	if (i == len || !isdigit((unsigned char)v[i]))
		return EINVAL;
	for (; i < len && isdigit((unsigned char)v[i]); i++) {
		n = n * 10 + (uint64_t)(v[i] - '0');
		if (n > RETRY_AFTER_MAX)
			return EINVAL;
	}
	/* what may follow: spaces, a (comment), ;params */
	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	if (i < len && v[i] != '(' && v[i] != ';')
		return EINVAL;
	*secs = (uint32_t)n;
	return 0;
}

uint32_t
edge_retry_after_report(struct edge *e, uint32_t node_id, const char *buf,
    const struct slb_sipscan *sc)
{
	uint32_t secs = 0;

	for (int i = 0; i < sc->nhdrs; i++) {
		const struct slb_sip_hdr *h = &sc->h[i];

		if (h->type != SLB_H_OTHER ||
		    !slb_sip_eq(buf + h->noff, h->nlen, "Retry-After"))
			continue;
		if (edge_retry_after_parse(buf + h->voff, h->vlen, &secs) !=
		    0) {
			slb_log_info("node %u: 503 with a bad Retry-After "
				     "\"%.*s\": ignored",
			    node_id, (int)(h->vlen > 40 ? 40 : h->vlen),
			    buf + h->voff);
			return 0;
		}
		break;
	}
	if (secs == 0 || node_id == 0)
		return 0;
	slb_log_info("node %u: 503 with Retry-After %u s: failing over, the "
		     "scheduler backs it off",
	    node_id, secs);
	edge_sel_report_node(e, node_id, 503, secs);
	return secs;
}
