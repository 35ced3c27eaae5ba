/*
 * siplb-bench-client: drives a siplb-scheduler with SelectRequests over
 * nng req/rep, CONCURRENCY requests in flight (one nng context each), for
 * SECONDS after a one-second warm-up; prints rate and latency percentiles.
 *
 *   siplb-bench-client -u ipc:///run/siplb/scheduler.rep -c 8 -d 5 \
 *       -g 1 -r pstn [-a least-load]
 */
#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "msg.h"

#define MAX_CONC 256
#define MAX_SAMPLES (8u << 20)

struct worker {
	nng_ctx ctx;
	nng_aio *aio;
	int sending;
	uint64_t t0;
	nng_msg *tmpl;
};

static struct worker workers[MAX_CONC];
static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static uint32_t *samples;	/* latency in ns/16 would overflow; use us*10 */
static size_t nsamples;
static volatile int measuring, stopping;
static uint64_t errors, bad;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
send_one(struct worker *w)
{
	nng_msg *m;

	if (stopping)
		return;
	if (nng_msg_dup(&m, w->tmpl) != 0)
		abort();
	w->sending = 1;
	w->t0 = now_ns();
	nng_aio_set_msg(w->aio, m);
	nng_ctx_send(w->ctx, w->aio);
}

static void
on_aio(void *arg)
{
	struct worker *w = arg;
	int rv = nng_aio_result(w->aio);

	if (rv != 0) {
		if (w->sending) {
			nng_msg *m = nng_aio_get_msg(w->aio);
			if (m)
				nng_msg_free(m);
		}
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED || stopping)
			return;
		pthread_mutex_lock(&mtx);
		errors++;
		pthread_mutex_unlock(&mtx);
		send_one(w);
		return;
	}
	if (w->sending) {
		w->sending = 0;
		nng_ctx_recv(w->ctx, w->aio);
		return;
	}
	{
		nng_msg *m = nng_aio_get_msg(w->aio);
		uint64_t dt = now_ns() - w->t0;
		ProtobufCMessage *pm;
		int ok = 0;

		if (slb_msg_unpack(&siplb__v1__sched_reply__descriptor, m,
			SLB_MSG_MAX, &pm) == 0) {
			Siplb__V1__SchedReply *r = (Siplb__V1__SchedReply *)pm;
			ok = r->status == SIPLB__V1__STATUS__STATUS_OK &&
			    r->select && r->select->n_choices > 0;
			slb_msg_free(pm);
		}
		nng_msg_free(m);
		pthread_mutex_lock(&mtx);
		if (!ok)
			bad++;
		if (measuring && nsamples < MAX_SAMPLES)
			samples[nsamples++] = (uint32_t)(dt / 100); /* 0.1 us */
		pthread_mutex_unlock(&mtx);
	}
	send_one(w);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	const char *url = "ipc:///run/siplb/scheduler.rep", *res = "pstn";
	const char *alg = "least-load";
	int conc = 1, secs = 5, group = 1, c;
	Siplb__V1__SchedRequest q = SIPLB__V1__SCHED_REQUEST__INIT;
	Siplb__V1__SelectRequest sel = SIPLB__V1__SELECT_REQUEST__INIT;
	char *resv[1];
	nng_socket s;
	nng_msg *tmpl;
	uint64_t t0, t1;
	size_t n;

	while ((c = getopt(argc, argv, "u:c:d:g:r:a:")) != -1) {
		switch (c) {
		case 'u': url = optarg; break;
		case 'c': conc = atoi(optarg); break;
		case 'd': secs = atoi(optarg); break;
		case 'g': group = atoi(optarg); break;
		case 'r': res = optarg; break;
		case 'a': alg = optarg; break;
		default:
			fprintf(stderr, "usage: %s [-u URL] [-c CONC] [-d SECS] "
			    "[-g GROUP] [-r RES] [-a ALG]\n", argv[0]);
			return 64;
		}
	}
	if (conc < 1 || conc > MAX_CONC || secs < 1) {
		fprintf(stderr, "bad -c or -d\n");
		return 64;
	}
	samples = malloc(MAX_SAMPLES * sizeof(*samples));
	resv[0] = (char *)res;
	sel.algorithm = (char *)alg;
	sel.group = (uint32_t)group;
	if (*res) {
		sel.resources = resv;
		sel.n_resources = 1;
	}
	sel.hash_key = "bench-call-id@host";
	q.body_case = SIPLB__V1__SCHED_REQUEST__BODY_SELECT;
	q.select = &sel;
	if (samples == NULL || slb_msg_pack(&q.base, &tmpl) != 0)
		return 1;
	if (nng_req0_open(&s) != 0 ||
	    nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, 5000) != 0 ||
	    nng_dial(s, url, NULL, 0) != 0) {
		fprintf(stderr, "cannot dial %s\n", url);
		return 69;
	}
	for (int i = 0; i < conc; i++) {
		workers[i].tmpl = tmpl;
		if (nng_ctx_open(&workers[i].ctx, s) != 0 ||
		    nng_aio_alloc(&workers[i].aio, on_aio, &workers[i]) != 0)
			return 1;
		send_one(&workers[i]);
	}
	sleep(1);		/* warm-up */
	pthread_mutex_lock(&mtx);
	measuring = 1;
	nsamples = 0;
	t0 = now_ns();
	pthread_mutex_unlock(&mtx);
	sleep((unsigned)secs);
	pthread_mutex_lock(&mtx);
	measuring = 0;
	t1 = now_ns();
	n = nsamples;
	pthread_mutex_unlock(&mtx);
	stopping = 1;
	for (int i = 0; i < conc; i++)
		nng_aio_stop(workers[i].aio);
	qsort(samples, n, sizeof(*samples), cmp_u32);
	if (n == 0) {
		fprintf(stderr, "no replies (errors %llu)\n",
		    (unsigned long long)errors);
		return 1;
	}
	printf("concurrency=%d selections=%zu seconds=%.2f rate=%.0f/s "
	       "p50_us=%.1f p99_us=%.1f p999_us=%.1f errors=%llu "
	       "not_ok=%llu\n",
	    conc, n, (t1 - t0) / 1e9, n / ((t1 - t0) / 1e9),
	    samples[n / 2] / 10.0, samples[(size_t)(n * 0.99)] / 10.0,
	    samples[(size_t)(n * 0.999)] / 10.0,
	    (unsigned long long)errors, (unsigned long long)bad);
	for (int i = 0; i < conc; i++) {
		nng_aio_free(workers[i].aio);
		nng_ctx_close(workers[i].ctx);
	}
	nng_close(s);
	nng_msg_free(tmpl);
	free(samples);
	return bad ? 1 : 0;
}
