/*
 * siplb-bench-client: drives a siplb-scheduler with SelectRequests over
 * nng req/rep, CONCURRENCY requests in flight, for SECONDS after a
 * one-second warm-up; prints rate and latency percentiles.
 *
 * One thread and a raw REQ socket: the client numbers its own requests (the
 * request-id header nng's REQ would add), keeps CONCURRENCY of them
 * outstanding and matches replies by id.  This is how siplb-edge talks to
 * the scheduler too, and it keeps the client's own cost small, so the
 * figures are the scheduler's.
 *
 *   siplb-bench-client -u ipc:///run/siplb/scheduler.rep -c 8 -d 5 \
 *       -g 1 -r pstn [-a least-load]
 *
 * -S URL runs a bare nng echo server instead, and -E makes the client send
 * an empty request to it: the floor that nng itself puts under any
 * req/rep exchange on this machine.
 */
#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "msg.h"

#define MAX_CONC 1024
#define MAX_SAMPLES (16u << 20)

static uint64_t sent_at[MAX_CONC];

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
send_req(nng_socket s, nng_msg *tmpl, uint32_t slot, uint32_t gen)
{
	nng_msg *m;
	/* high bit set marks the last (here: only) hop of the backtrace;
	 * the slot is in the low bits, a generation above it */
	uint32_t id = 0x80000000u | (gen << 10) | slot;

	if (nng_msg_dup(&m, tmpl) != 0)
		return ENOMEM;
	nng_msg_header_clear(m);
	nng_msg_header_append_u32(m, id);
	sent_at[slot] = now_ns();
	if (nng_sendmsg(s, m, 0) != 0) {
		nng_msg_free(m);
		return EIO;
	}
	return 0;
}

static int
echo_server(const char *url)
{
	nng_socket s;
	nng_msg *m;

	if (nng_rep0_open_raw(&s) != 0 || nng_listen(s, url, NULL, 0) != 0) {
		fprintf(stderr, "cannot listen on %s\n", url);
		return 1;
	}
	while (nng_recvmsg(s, &m, 0) == 0)
		if (nng_sendmsg(s, m, 0) != 0)
			nng_msg_free(m);
	return 0;
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
	uint32_t *samples, gen = 1;
	size_t n = 0;
	uint64_t t0, tend, twarm, errors = 0, bad = 0;
	int measuring = 0, echo = 0;

	while ((c = getopt(argc, argv, "u:c:d:g:r:a:S:E")) != -1) {
		switch (c) {
		case 'S': return echo_server(optarg);
		case 'E': echo = 1; break;
		case 'u': url = optarg; break;
		case 'c': conc = atoi(optarg); break;
		case 'd': secs = atoi(optarg); break;
		case 'g': group = atoi(optarg); break;
		case 'r': res = optarg; break;
		case 'a': alg = optarg; break;
		default:
			fprintf(stderr,
			    "usage: %s [-u URL] [-c CONC] [-d SECS] "
			    "[-g GROUP] [-r RES] [-a ALG]\n",
			    argv[0]);
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
	if (echo)
		nng_msg_clear(tmpl);
	if (nng_req0_open_raw(&s) != 0 || nng_dial(s, url, NULL, 0) != 0) {
		fprintf(stderr, "cannot dial %s\n", url);
		return 69;
	}
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 2000);
	nng_socket_set_int(s, NNG_OPT_SENDBUF, 1024);
	nng_socket_set_int(s, NNG_OPT_RECVBUF, 1024);
	for (int i = 0; i < conc; i++)
		if (send_req(s, tmpl, (uint32_t)i, gen) != 0)
			return 1;
	twarm = now_ns() + 1000000000ull;
	t0 = tend = 0;
	for (;;) {
		uint64_t now;
		nng_msg *m;
		uint32_t id, slot;
		ProtobufCMessage *pm;
		int rv = nng_recvmsg(s, &m, 0);

		if (rv == NNG_ETIMEDOUT) {
			/* lost: start every slot again under a new generation */
			errors++;
			gen = (gen + 1) & 0x1fffff;
			for (int i = 0; i < conc; i++)
				send_req(s, tmpl, (uint32_t)i, gen);
			continue;
		}
		if (rv != 0) {
			fprintf(stderr, "receive: %s\n", nng_strerror(rv));
			return 1;
		}
		now = now_ns();
		if (nng_msg_header_len(m) < 4 ||
		    nng_msg_header_trim_u32(m, &id) != 0 ||
		    ((id >> 10) & 0x1fffff) != gen ||
		    (slot = id & 0x3ff) >= (uint32_t)conc) {
			nng_msg_free(m);
			continue; /* a stale generation */
		}
		if (echo) {
			/* nothing to check */
		} else if (slb_msg_unpack(&siplb__v1__sched_reply__descriptor,
			       m, SLB_MSG_MAX, &pm) == 0) {
			Siplb__V1__SchedReply *r = (Siplb__V1__SchedReply *)pm;

			if (r->status != SIPLB__V1__STATUS__STATUS_OK ||
			    r->select == NULL || r->select->n_choices == 0)
				bad++;
			slb_msg_free(pm);
		} else {
			bad++;
		}
		nng_msg_free(m);
		if (measuring && n < MAX_SAMPLES)
			samples[n++] = (uint32_t)((now - sent_at[slot]) / 100);
		if (!measuring && tend == 0 && now >= twarm) {
			measuring = 1;
			t0 = now;
			tend = now + (uint64_t)secs * 1000000000ull;
		}
		if (measuring && now >= tend)
			break;
		send_req(s, tmpl, slot, gen);
	}
	tend = now_ns();
	if (n == 0) {
		fprintf(stderr, "no replies (errors %llu)\n",
		    (unsigned long long)errors);
		return 1;
	}
	qsort(samples, n, sizeof(*samples), cmp_u32);
	printf("concurrency=%d selections=%zu seconds=%.2f rate=%.0f/s "
	       "p50_us=%.1f p99_us=%.1f p999_us=%.1f timeouts=%llu "
	       "not_ok=%llu\n",
	    conc, n, (tend - t0) / 1e9, n / ((tend - t0) / 1e9),
	    samples[n / 2] / 10.0, samples[(size_t)(n * 0.99)] / 10.0,
	    samples[(size_t)(n * 0.999)] / 10.0, (unsigned long long)errors,
	    (unsigned long long)bad);
	nng_close(s);
	nng_msg_free(tmpl);
	free(samples);
	return bad ? 1 : 0;
}
