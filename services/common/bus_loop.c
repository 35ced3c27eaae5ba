#define SLB_LOG_MODULE "bus"
#include "bus.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "bus_priv.h"
#include "log.h"

/* ------------------------------------------------------------ the loop */

static void
on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	(void)what;
	slb_log_notice("%s received, stopping", strsignal((int)sig));
	event_base_loopbreak(base);
}

/* The signal events live as long as the base; kept here to free them. */
static struct event *sig_ev[2];

int
slb_loop_new(struct event_base **basep)
{
	struct event_base *base = event_base_new();

	if (base == NULL)
		return ENOMEM;
	signal(SIGPIPE, SIG_IGN);
	sig_ev[0] = evsignal_new(base, SIGTERM, on_stop_signal, base);
	sig_ev[1] = evsignal_new(base, SIGINT, on_stop_signal, base);
	if (sig_ev[0] == NULL || sig_ev[1] == NULL ||
	    evsignal_add(sig_ev[0], NULL) != 0 ||
	    evsignal_add(sig_ev[1], NULL) != 0) {
		slb_loop_free(base);
		return ENOMEM;
	}
	*basep = base;
	return 0;
}

int
slb_loop_run(struct event_base *base)
{
	return event_base_dispatch(base) < 0 ? EIO : 0;
}

void
slb_loop_free(struct event_base *base)
{
	for (int i = 0; i < 2; i++) {
		if (sig_ev[i] != NULL)
			event_free(sig_ev[i]);
		sig_ev[i] = NULL;
	}
	if (base != NULL)
		event_base_free(base);
}

uint64_t
slb_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t
slb_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ------------------------------------------------- closing off the loop */

static int closers; /* closes still running (atomic) */

static void *
closer(void *arg)
{
	nng_socket s = *(nng_socket *)arg;

	free(arg);
	nng_close(s);
	__atomic_sub_fetch(&closers, 1, __ATOMIC_RELAXED);
	return NULL;
}

/*
 * nng 1.5 can hang in nng_close (nanomsg/nng#1543, #1813: a socket closed
 * while a connection is being set up or torn down), and a loop that waits
 * for it answers nothing again: seen once when an edge resumed after being
 * stopped and dialed its node table publisher again.  Sockets a running
 * loop replaces are closed on a thread of their own; a close that hangs
 * costs that thread, not the process.
 */
void
slb_nng_close_off_loop(nng_socket s)
{
	pthread_attr_t a;
	pthread_t t;
	nng_socket *p = malloc(sizeof(*p));

	if (p != NULL && pthread_attr_init(&a) == 0) {
		int n = __atomic_add_fetch(&closers, 1, __ATOMIC_RELAXED);

		*p = s;
		if (n > 1 && (n & (n - 1)) == 0) /* 2, 4, 8, ...: say so */
			slb_log_warn("%d nng sockets still closing: nng_close "
				     "hangs (nng 1.5)",
			    n - 1);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &a, closer, p) == 0) {
			pthread_attr_destroy(&a);
			return;
		}
		__atomic_sub_fetch(&closers, 1, __ATOMIC_RELAXED);
		pthread_attr_destroy(&a);
	}
	free(p);
	nng_close(s);
}

/* ------------------------------------------------- nng thread -> loop */

struct bridge_item {
	struct bridge_item *next;
	slb_bridge_h fn;
	void *arg;
	void *data;
	int err;
};

struct slb_bridge {
	pthread_mutex_t mtx;
	struct bridge_item *head, *tail;
	int efd;
	struct event *ev;
};

static void
bridge_run(evutil_socket_t fd, short what, void *arg)
{
	struct slb_bridge *b = arg;
	struct bridge_item *it;
	uint64_t n;

	(void)what;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		slb_log_warn_errno(errno, "bridge: read");
	pthread_mutex_lock(&b->mtx);
	it = b->head;
	b->head = b->tail = NULL;
	pthread_mutex_unlock(&b->mtx);
	while (it != NULL) {
		struct bridge_item *next = it->next;

		it->fn(it->arg, it->data, it->err);
		free(it);
		it = next;
	}
}

int
slb_bridge_new(struct slb_bridge **bp, struct event_base *base)
{
	struct slb_bridge *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return ENOMEM;
	pthread_mutex_init(&b->mtx, NULL);
	b->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (b->efd < 0) {
		int err = errno;
		pthread_mutex_destroy(&b->mtx);
		free(b);
		return err;
	}
	b->ev = event_new(base, b->efd, EV_READ | EV_PERSIST, bridge_run, b);
	if (b->ev == NULL || event_add(b->ev, NULL) != 0) {
		slb_bridge_free(b);
		return ENOMEM;
	}
	*bp = b;
	return 0;
}

void
slb_bridge_post(
    struct slb_bridge *b, slb_bridge_h fn, void *arg, void *data, int err)
{
	struct bridge_item *it = calloc(1, sizeof(*it));
	uint64_t one = 1;

	if (it == NULL) {
		/* Cannot queue: run the completion with the error at once
		 * is not allowed off the loop, so this is a hard failure. */
		slb_log_err("bridge: out of memory, aborting");
		abort();
	}
	it->fn = fn;
	it->arg = arg;
	it->data = data;
	it->err = err;
	pthread_mutex_lock(&b->mtx);
	if (b->tail)
		b->tail->next = it;
	else
		b->head = it;
	b->tail = it;
	pthread_mutex_unlock(&b->mtx);
	if (write(b->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		slb_log_warn_errno(errno, "bridge: write");
}

void
slb_bridge_free(struct slb_bridge *b)
{
	struct bridge_item *it;

	if (b == NULL)
		return;
	if (b->ev)
		event_free(b->ev);
	if (b->efd >= 0)
		close(b->efd);
	/* completions still queued run now (cancelled requests free what
	 * they hold); nothing posts any more once every socket is closed */
	for (it = b->head; it != NULL;) {
		struct bridge_item *next = it->next;

		it->fn(it->arg, it->data, it->err);
		free(it);
		it = next;
	}
	pthread_mutex_destroy(&b->mtx);
	free(b);
}

/* ------------------------------------------------------------ helpers */

int
slb_bus_recv_fd_event(nng_socket s, struct event_base *base,
    event_callback_fn fn, void *arg, struct event **evp)
{
	int fd, rv;

	rv = nng_socket_get_int(s, NNG_OPT_RECVFD, &fd);
	if (rv != 0)
		return slb_nng_errno(rv);
	*evp = event_new(base, fd, EV_READ | EV_PERSIST, fn, arg);
	if (*evp == NULL || event_add(*evp, NULL) != 0)
		return ENOMEM;
	return 0;
}

/* Give ipc:// files to the group too so a client in the same group can
 * connect; nng creates them with the umask. */
int
slb_bus_listen(nng_socket s, const char *url)
{
	int rv = nng_listen(s, url, NULL, 0);

	if (rv != 0) {
		slb_log_err("cannot listen on %s: %s", url, nng_strerror(rv));
		return slb_nng_errno(rv);
	}
	return 0;
}
