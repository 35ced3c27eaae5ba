/*
 * fake-edge: stands in for siplb-edge on the bus in integration tests.  It
 * publishes numbered DialogEvents on PUB and answers snapshot requests on
 * REP, driven by lines on stdin:
 *
 *   create KEY NODE RES[,RES]   CREATED
 *   confirm KEY                 CONFIRMED
 *   end KEY                     TERMINATED
 *   lose N                      the next N events are numbered but not sent
 *   restart                     new epoch, numbering from 1 (a restart)
 *   burst N                     N dialogs created and ended at once, in
 *                               batches of 500 events (benchmarks)
 *
 * It prints "ok" after each line so a test can wait for it.
 *
 *   fake-edge PUB_URL REP_URL STREAM
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "msg.h"

#define MAXD 4096

struct dlg {
	char key[128];
	uint32_t node;
	char res[4][32];
	int nres;
	int state;
	int used;
};

static struct dlg dlgs[MAXD];
static struct slb_pub *pub;
static struct slb_rep *rep;
static int lose;
static const char *pub_url, *stream;

static struct dlg *
find(const char *key)
{
	for (int i = 0; i < MAXD; i++)
		if (dlgs[i].used && strcmp(dlgs[i].key, key) == 0)
			return &dlgs[i];
	return NULL;
}

static void
fill(Siplb__V1__DialogEvent *e, char **resp, const struct dlg *d)
{
	siplb__v1__dialog_event__init(e);
	e->key = (char *)d->key;
	e->state = d->state;
	if (d->state == SIPLB__V1__DIALOG_STATE__DIALOG_TERMINATED)
		e->reason = "bye"; /* as a real edge says */
	e->node_id = d->node;
	for (int i = 0; i < d->nres; i++)
		resp[i] = (char *)d->res[i];
	e->resources = resp;
	e->n_resources = (size_t)d->nres;
	e->edge = (char *)stream;
}

static void
send_event(const struct dlg *d)
{
	Siplb__V1__BusMessage m = SIPLB__V1__BUS_MESSAGE__INIT;
	Siplb__V1__DialogEvent e;
	char *res[4];

	fill(&e, res, d);
	m.body_case = SIPLB__V1__BUS_MESSAGE__BODY_DIALOG;
	m.dialog = &e;
	if (lose > 0) {
		/* numbered but never sent: a dropped message, as a
		 * subscriber sees it */
		lose--;
		slb_pub_skip(pub);
		return;
	}
	slb_pub_send(pub, &m);
}

static int burst_seq;

/* n dialogs, each CREATED then TERMINATED, published as DialogBatch
 * messages of 500 events: what a busy edge sends. */
static void
burst(int n)
{
	static Siplb__V1__DialogEvent evs[500];
	static Siplb__V1__DialogEvent *evp[500];
	static char keys[500][32], cids[500][48];
	static char *res[1] = { "pstn" };
	int state = 0;

	for (int done = 0; done < 2 * n;) {
		Siplb__V1__BusMessage m = SIPLB__V1__BUS_MESSAGE__INIT;
		Siplb__V1__DialogBatch b = SIPLB__V1__DIALOG_BATCH__INIT;
		int k = 0;

		for (; k < 500 && done < 2 * n; k++, done++) {
			/* first all CREATED, then all TERMINATED */
			int i = done < n ? done : done - n;

			state = done < n ? 1 : 3;
			siplb__v1__dialog_event__init(&evs[k]);
			snprintf(
			    keys[k], sizeof(keys[k]), "b%d-%d", burst_seq, i);
			snprintf(cids[k], sizeof(cids[k]), "burst-%d-%d@bench",
			    burst_seq, i);
			evs[k].key = keys[k];
			evs[k].state = state;
			evs[k].node_id = 1 + (uint32_t)(i % 2);
			evs[k].resources = res;
			evs[k].n_resources = 1;
			evs[k].edge = (char *)stream;
			evs[k].call_id = cids[k];
			evs[k].from_tag = "f";
			evs[k].to_tag = "t";
			evs[k].created_us = slb_wall_us();
			evs[k].updated_us = evs[k].created_us;
			evp[k] = &evs[k];
		}
		b.events = evp;
		b.n_events = (size_t)k;
		m.body_case = SIPLB__V1__BUS_MESSAGE__BODY_DIALOGS;
		m.dialogs = &b;
		slb_pub_send(pub, &m);
	}
	burst_seq++;
}

static void
on_request(void *arg, nng_msg *req, nng_msg **replyp)
{
	Siplb__V1__SnapshotAnswer a = SIPLB__V1__SNAPSHOT_ANSWER__INIT;
	Siplb__V1__Snapshot s = SIPLB__V1__SNAPSHOT__INIT;
	Siplb__V1__DialogSnapshot ds = SIPLB__V1__DIALOG_SNAPSHOT__INIT;
	static Siplb__V1__DialogEvent evs[MAXD];
	static Siplb__V1__DialogEvent *evp[MAXD];
	static char *res[MAXD][4];
	size_t n = 0;

	(void)arg;
	(void)req;
	for (int i = 0; i < MAXD; i++) {
		if (!dlgs[i].used)
			continue;
		fill(&evs[n], res[n], &dlgs[i]);
		evp[n] = &evs[n];
		n++;
	}
	ds.dialogs = evp;
	ds.n_dialogs = n;
	s.stream = (char *)slb_pub_stream(pub);
	s.epoch = slb_pub_epoch(pub);
	s.seq = slb_pub_seq(pub);
	s.body_case = SIPLB__V1__SNAPSHOT__BODY_DIALOGS;
	s.dialogs = &ds;
	a.status = SIPLB__V1__STATUS__STATUS_OK;
	a.snapshot = &s;
	slb_msg_pack(&a.base, replyp);
}

static void
on_line(evutil_socket_t fd, short what, void *arg)
{
	struct event_base *base = arg;
	char line[512], key[128], res[128];
	unsigned node;
	int n;

	(void)what;
	if (fgets(line, sizeof(line), stdin) == NULL) {
		event_base_loopbreak(base);
		return;
	}
	(void)fd;
	if (sscanf(line, "create %127s %u %127s", key, &node, res) == 3) {
		struct dlg *d = find(key);
		char *tok, *save;

		for (int i = 0; d == NULL && i < MAXD; i++)
			if (!dlgs[i].used)
				d = &dlgs[i];
		if (d == NULL)
			goto out;
		memset(d, 0, sizeof(*d));
		d->used = 1;
		snprintf(d->key, sizeof(d->key), "%s", key);
		d->node = node;
		d->state = SIPLB__V1__DIALOG_STATE__DIALOG_CREATED;
		for (tok = strtok_r(res, ",", &save); tok && d->nres < 4;
		     tok = strtok_r(NULL, ",", &save))
			snprintf(d->res[d->nres++], 32, "%s", tok);
		send_event(d);
	} else if (sscanf(line, "confirm %127s", key) == 1) {
		struct dlg *d = find(key);

		if (d) {
			d->state = SIPLB__V1__DIALOG_STATE__DIALOG_CONFIRMED;
			send_event(d);
		}
	} else if (sscanf(line, "end %127s", key) == 1) {
		struct dlg *d = find(key);

		if (d) {
			d->state = SIPLB__V1__DIALOG_STATE__DIALOG_TERMINATED;
			send_event(d);
			d->used = 0;
		}
	} else if (sscanf(line, "lose %d", &n) == 1) {
		lose = n;
	} else if (sscanf(line, "burst %d", &n) == 1 && n > 0) {
		burst(n);
	} else if (strncmp(line, "restart", 7) == 0) {
		slb_pub_close(pub);
		usleep(2000); /* a new epoch (microseconds of wall clock) */
		if (slb_pub_open(&pub, pub_url, stream) != 0) {
			fprintf(stderr, "cannot reopen %s\n", pub_url);
			exit(1);
		}
		slb_rep_set_pub(rep, pub);
	}
out:
	printf("ok\n");
	fflush(stdout);
}

static void
on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	slb_pub_heartbeat(pub);
}

int
main(int argc, char **argv)
{
	struct event *hb;
	struct timeval hb_tv = { 0, 200000 };
	struct event_base *base;
	struct event *ev;

	if (argc != 4) {
		fprintf(stderr, "usage: fake-edge PUB_URL REP_URL STREAM\n");
		return 64;
	}
	pub_url = argv[1];
	stream = argv[3];
	setvbuf(stdin, NULL, _IOLBF, 0);
	if (slb_loop_new(&base) != 0 || slb_pub_open(&pub, pub_url, stream) ||
	    slb_rep_open(&rep, base, argv[2], on_request, NULL) != 0)
		return 1;
	slb_rep_set_pub(rep, pub); /* replays, as a real edge */
	ev = event_new(base, 0, EV_READ | EV_PERSIST, on_line, base);
	event_add(ev, NULL);
	hb = event_new(base, -1, EV_PERSIST, on_heartbeat, NULL);
	event_add(hb, &hb_tv);
	printf("ready\n");
	fflush(stdout);
	slb_loop_run(base);
	event_free(ev);
	event_free(hb);
	slb_rep_close(rep);
	slb_pub_close(pub);
	slb_loop_free(base);
	return 0;
}
