/*
 * siplbctl top: the node table and the edge's counters, refreshed every
 * --interval seconds (what `opensips-cli -x mi lb_list` in a `watch` and
 * kamcmd's dispatcher.list were, with rates as top(1) shows them).
 *
 * On a terminal: the alternate screen, drawn with ANSI escapes (no
 * curses), q or Ctrl-C to quit, sized to the window (TIOCGWINSZ, redrawn
 * on SIGWINCH); the terminal is given back as it was on q, on --count, and
 * on SIGINT, SIGTERM or SIGHUP.  What the calls complain about on stderr
 * is caught meanwhile and shown at the bottom of the frame.  Elsewhere
 * (a pipe, a file): plain text frames, one per interval, no escapes.
 *
 * Calls/s is the change of a node's `selected` counter between two
 * refreshes over the time between them; requests/s, failovers and drops
 * come from the edge's requests_received, failovers and dropped (every
 * reason) counters.  The first frame has no rates ("-").
 */
#define SLB_LOG_MODULE "ctl"
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "ctl.h"
#include "msg.h"

#define TOP_LINE 1024
#define BAR_MAX 40

struct top_prev {
	uint32_t id;
	uint64_t selected;
};

/* the edge's counters top shows */
struct top_edge {
	uint64_t req, failovers, drops, dialogs, transactions, tcp;
};

struct top {
	const struct ctl_top_io *io;
	double interval;
	long count;
	int tty; /* full screen on stdout */
	int keys; /* keys from stdin */
	int cols, rows;
	sigset_t waitmask; /* the mask ppoll waits with */
	/* the last answers, NULL when the service did not answer */
	Siplb__V1__SchedReply *nodes;
	int nodes_rc;
	Siplb__V1__StatsAnswer *edge;
	int edge_rc;
	double *rate; /* calls/s of each node of `nodes`; < 0: unknown */
	struct top_prev *prev; /* the sample before */
	size_t nprev;
	double t_prev, t_now; /* CLOCK_MONOTONIC s of the two samples */
	struct top_edge e, e_prev; /* this edge sample, the one before */
	int have_e, have_e_prev;
	double e_time, e_prev_time;
	char msg[256]; /* last line the calls wrote on stderr */
	char when[16]; /* wall-clock time of the sample */
	/* the frame being drawn */
	FILE *f;
	int lines;
};

static volatile sig_atomic_t got_quit, got_winch;

/* what restore() gives back; static for atexit */
static struct termios saved_tio;
static int tio_saved, screen_on, saved_err = -1, err_fd = -1;

static void
on_signal(int sig)
{
	if (sig == SIGWINCH)
		got_winch = 1;
	else
		got_quit = 1;
}

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* The terminal as it was: cursor, main screen, line mode, stderr. */
static void
restore(void)
{
	static const char leave[] = "\033[0m\033[?25h\033[?1049l";

	if (screen_on) {
		write_all(STDOUT_FILENO, leave, sizeof(leave) - 1);
		screen_on = 0;
	}
	if (tio_saved) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
		tio_saved = 0;
	}
	if (saved_err >= 0) {
		dup2(saved_err, STDERR_FILENO);
		close(saved_err);
		saved_err = -1;
	}
	if (err_fd >= 0) {
		close(err_fd);
		err_fd = -1;
	}
}

static void
term_size(struct top *t)
{
	struct winsize ws;
	const char *c = getenv("COLUMNS");

	t->cols = 100;
	t->rows = 0; /* no limit */
	if (!t->tty && c != NULL && atoi(c) >= 40 && atoi(c) <= TOP_LINE - 1)
		t->cols = atoi(c);
	if (t->tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
	    ws.ws_col > 0 && ws.ws_row > 0) {
		t->cols = ws.ws_col < TOP_LINE ? ws.ws_col : TOP_LINE - 1;
		t->rows = ws.ws_row;
	}
	if (t->tty && t->rows == 0) {
		t->cols = 80;
		t->rows = 24;
	}
}

/* Alternate screen, no cursor, keys without Enter or echo (Ctrl-C still
 * signals), stderr into a memory file; restore() undoes it all. */
static void
screen_enter(struct top *t)
{
	static const char enter[] = "\033[?1049h\033[?25l\033[H\033[2J";
	struct termios tio;

	atexit(restore);
	if (t->keys && tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
		tio = saved_tio;
		tio.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		tio.c_cc[VMIN] = 0;
		tio.c_cc[VTIME] = 0;
		if (tcsetattr(STDIN_FILENO, TCSANOW, &tio) == 0)
			tio_saved = 1;
	}
	err_fd = memfd_create("siplbctl-top-stderr", MFD_CLOEXEC);
	if (err_fd >= 0 && (saved_err = dup(STDERR_FILENO)) >= 0)
		dup2(err_fd, STDERR_FILENO);
	write_all(STDOUT_FILENO, enter, sizeof(enter) - 1);
	screen_on = 1;
}

/* The last line written on the caught stderr since the last look. */
static void
take_stderr(struct top *t)
{
	char buf[2048], *e, *b;
	ssize_t n;

	if (err_fd < 0 || saved_err < 0)
		return;
	n = pread(err_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if (ftruncate(err_fd, 0) != 0)
		return;
	lseek(STDERR_FILENO, 0, SEEK_SET);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	e = buf + n;
	b = e;
	while (b > buf && b[-1] != '\n')
		b--;
	if (b < e)
		snprintf(t->msg, sizeof(t->msg), "%.*s",
		    (int)sizeof(t->msg) - 1, b);
}

/* ------------------------------------------------------------ samples */

static uint64_t
counter(const Siplb__V1__StatsAnswer *a, const char *name)
{
	uint64_t v = 0;

	for (size_t i = 0; i < a->stats->n_counters; i++)
		if (strcmp(a->stats->counters[i]->name, name) == 0)
			v += a->stats->counters[i]->value;
	return v;
}

static Siplb__V1__Node **
table(const struct top *t, size_t *n)
{
	*n = 0;
	if (t->nodes == NULL || t->nodes->admin == NULL ||
	    t->nodes->admin->table == NULL)
		return NULL;
	*n = t->nodes->admin->table->n_nodes;
	return t->nodes->admin->table->nodes;
}

/* Calls/s of every node from the sample before, then this sample becomes
 * the one before. */
static void
node_rates(struct top *t)
{
	Siplb__V1__Node **nd;
	size_t n;
	double dt = t->t_now - t->t_prev;

	nd = table(t, &n);
	free(t->rate);
	t->rate = calloc(n + 1, sizeof(*t->rate));
	for (size_t i = 0; i < n && t->rate; i++) {
		t->rate[i] = -1;
		for (size_t k = 0; k < t->nprev && dt > 0; k++)
			if (t->prev[k].id == nd[i]->id &&
			    nd[i]->selected >= t->prev[k].selected)
				t->rate[i] = (double)(nd[i]->selected -
						 t->prev[k].selected) /
				    dt;
	}
	if (nd == NULL)
		return; /* keep the old sample for the next answer */
	free(t->prev);
	t->nprev = 0;
	t->prev = calloc(n + 1, sizeof(*t->prev));
	for (size_t i = 0; i < n && t->prev; i++) {
		t->prev[i].id = nd[i]->id;
		t->prev[i].selected = nd[i]->selected;
		t->nprev++;
	}
	t->t_prev = t->t_now;
}

static void
sample(struct top *t)
{
	Siplb__V1__SchedRequest q = SIPLB__V1__SCHED_REQUEST__INIT;
	Siplb__V1__AdminRequest a = SIPLB__V1__ADMIN_REQUEST__INIT;
	Siplb__V1__EdgeRequest eq = SIPLB__V1__EDGE_REQUEST__INIT;
	time_t now = time(NULL);
	struct tm tm;

	slb_msg_free(t->nodes ? &t->nodes->base : NULL);
	t->nodes = NULL;
	a.op = SIPLB__V1__ADMIN_REQUEST__OP__OP_LIST;
	q.body_case = SIPLB__V1__SCHED_REQUEST__BODY_ADMIN;
	q.admin = &a;
	t->nodes_rc = t->io->sched(&q, &t->nodes);
	if (t->nodes_rc == 0 &&
	    t->nodes->body_case != SIPLB__V1__SCHED_REPLY__BODY_ADMIN) {
		slb_msg_free(&t->nodes->base);
		t->nodes = NULL;
		t->nodes_rc = 1;
	}
	t->t_now = mono();
	node_rates(t);

	slb_msg_free(t->edge ? &t->edge->base : NULL);
	t->edge = NULL;
	eq.body_case = SIPLB__V1__EDGE_REQUEST__BODY_STATS;
	eq.stats = 1;
	t->edge_rc =
	    t->io->stats("the edge", t->io->edge_rep, &eq.base, &t->edge);
	if (t->edge_rc == 0) {
		t->have_e_prev = t->have_e;
		t->e_prev = t->e;
		t->e_prev_time = t->e_time;
		t->e.req = counter(t->edge, "requests_received");
		t->e.failovers = counter(t->edge, "failovers");
		t->e.drops = counter(t->edge, "dropped");
		t->e.dialogs = counter(t->edge, "dialogs");
		t->e.transactions = counter(t->edge, "transactions");
		t->e.tcp = counter(t->edge, "tcp_connections");
		t->e_time = mono();
		t->have_e = 1;
	} else {
		t->have_e = t->have_e_prev = 0;
	}
	localtime_r(&now, &tm);
	strftime(t->when, sizeof(t->when), "%H:%M:%S", &tm);
	take_stderr(t);
}

/* ------------------------------------------------------------ drawing */

/* One line of the frame, cut to the width (one column short of it on a
 * terminal, where writing the last column would wrap); `hi` is reverse
 * video on a terminal.  Past the height only a count is kept. */
static void __attribute__((format(printf, 3, 4)))
line(struct top *t, int hi, const char *fmt, ...)
{
	char buf[TOP_LINE];
	int max = t->tty ? t->cols - 1 : t->cols;
	va_list ap;

	t->lines++;
	if (t->rows > 0 && t->lines > t->rows - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (max >= 0 && (int)strlen(buf) > max)
		buf[max] = '\0';
	if (!t->tty) {
		fprintf(t->f, "%s\n", buf);
		return;
	}
	if (hi)
		fprintf(t->f, "\033[7m%-*s\033[0m\033[K\r\n", max, buf);
	else
		fprintf(t->f, "%s\033[K\r\n", buf);
}

/* up, down, or what keeps new calls away from an up node */
static const char *
health(const Siplb__V1__Node *n)
{
	if (!n->enabled)
		return "disabled";
	if (!n->up)
		return "down";
	if (n->draining)
		return "draining";
	if (n->backoff_ms)
		return "backoff";
	if (n->feedback && (n->feedback->stale || !n->feedback->linked))
		return "stale";
	return "up";
}

/* "[####      ]" of `w` columns inside the brackets */
static void
bar(char *out, size_t len, int w, int32_t load, int32_t cap)
{
	int fill = 0;

	if (w > BAR_MAX)
		w = BAR_MAX;
	if (cap > 0 && load > 0) {
		fill = (int)(((long long)load * w + cap / 2) / cap);
		if (fill == 0)
			fill = 1;
		if (fill > w)
			fill = w;
	}
	snprintf(out, len, "[%.*s%*s]", fill,
	    "########################################", w - fill, "");
}

static void
fmt_rate(char *out, size_t len, double r)
{
	if (r < 0)
		snprintf(out, len, "-");
	else
		snprintf(out, len, "%.1f", r);
}

struct node_cols {
	int uri, name, num, bar;
};

static struct node_cols
node_cols(const struct top *t, Siplb__V1__Node **nd, size_t n)
{
	struct node_cols c = { 3, 4, 3, 0 };
	char num[48];
	int left;

	for (size_t i = 0; i < n; i++) {
		if ((int)strlen(nd[i]->uri) > c.uri)
			c.uri = (int)strlen(nd[i]->uri);
		for (size_t r = 0; r < nd[i]->n_resources; r++) {
			const Siplb__V1__Resource *rs = nd[i]->resources[r];

			if ((int)strlen(rs->name) > c.name)
				c.name = (int)strlen(rs->name);
			snprintf(
			    num, sizeof(num), "%d/%d", rs->load, rs->capacity);
			if ((int)strlen(num) > c.num)
				c.num = (int)strlen(num);
		}
	}
	if (c.uri > 40)
		c.uri = 40;
	/* ID URI HEALTH RTT CALLS/S DIALOGS = uri + 42, then the resource */
	left = t->cols - 1 - (c.uri + 42) - c.name - 1 - c.num - 3;
	c.bar = left >= 4 ? left : 0; /* narrow: no bars, then lines cut */
	if (c.bar > BAR_MAX)
		c.bar = BAR_MAX;
	return c;
}

static void
draw_node(struct top *t, const Siplb__V1__Node *n, double rate,
    const struct node_cols *c)
{
	char rtt[32], rt[32], res[TOP_LINE / 2], b[BAR_MAX + 4], num[48];
	char head[TOP_LINE / 2];

	if (n->rtt_us)
		snprintf(rtt, sizeof(rtt), "%.1fms", n->rtt_us / 1000.0);
	else
		snprintf(rtt, sizeof(rtt), "-");
	fmt_rate(rt, sizeof(rt), rate);
	snprintf(head, sizeof(head), "%4u %-*.*s %-9s %8s %8s %7u", n->id,
	    c->uri, c->uri, n->uri, health(n), rtt, rt, n->dialogs);
	if (n->n_resources == 0)
		line(t, 0, "%s", head);
	for (size_t r = 0; r < n->n_resources; r++) {
		const Siplb__V1__Resource *rs = n->resources[r];

		b[0] = '\0';
		if (c->bar > 0)
			bar(b, sizeof(b), c->bar, rs->load, rs->capacity);
		snprintf(num, sizeof(num), "%d/%d", rs->load, rs->capacity);
		snprintf(res, sizeof(res), "%-*s %s%s%*s", c->name, rs->name,
		    b, c->bar > 0 ? " " : "", c->num, num);
		line(t, 0, "%-*s  %s", (int)strlen(head), r == 0 ? head : "",
		    res);
	}
}

static void
draw_nodes(struct top *t)
{
	Siplb__V1__Node **nd;
	size_t n;
	struct node_cols c;

	nd = table(t, &n);
	if (nd == NULL && t->nodes_rc != 0) {
		line(t, 0, "scheduler %s: no answer (%s)", t->io->sched_rep,
		    t->nodes_rc == 69 ? "unreachable" : "refused");
		return;
	}
	c = node_cols(t, nd, n);
	line(t, 1, "%4s %-*s %-9s %8s %8s %7s  %s", "ID", c.uri, "URI",
	    "HEALTH", "RTT", "CALLS/S", "DIALOGS", "RESOURCE LOAD/CAP");
	for (size_t i = 0; i < n; i++)
		draw_node(t, nd[i], t->rate ? t->rate[i] : -1, &c);
	if (n == 0)
		line(t, 0, "(no nodes)");
}

static double
edge_rate(const struct top *t, uint64_t now, uint64_t before)
{
	double dt = t->e_time - t->e_prev_time;

	if (!t->have_e_prev || dt <= 0 || now < before)
		return -1; /* no sample before, or the edge restarted */
	return (double)(now - before) / dt;
}

static void
draw_edge(struct top *t)
{
	char req[32], fo[32], dr[32];
	const struct top_edge *e = &t->e;
	int w = (int)strlen(t->io->edge_rep);

	if (w < 4)
		w = 4;
	if (w > 40)
		w = 40;
	line(t, 1, "%-*s %9s %16s %16s %7s %6s %5s", w, "EDGE", "REQ/S",
	    "FAILOVERS(/S)", "DROPS(/S)", "DIALOGS", "TRANS", "TCP");
	if (!t->have_e) {
		line(t, 0, "%-*.*s no answer", w, w, t->io->edge_rep);
		return;
	}
	fmt_rate(req, sizeof(req), edge_rate(t, e->req, t->e_prev.req));
	fmt_rate(dr, sizeof(dr), edge_rate(t, e->drops, t->e_prev.drops));
	fmt_rate(
	    fo, sizeof(fo), edge_rate(t, e->failovers, t->e_prev.failovers));
	{
		char fos[48], drs[48];

		snprintf(fos, sizeof(fos), "%llu (%s)",
		    (unsigned long long)e->failovers, fo);
		snprintf(drs, sizeof(drs), "%llu (%s)",
		    (unsigned long long)e->drops, dr);
		line(t, 0, "%-*.*s %9s %16s %16s %7llu %6llu %5llu", w, w,
		    t->io->edge_rep, req, fos, drs,
		    (unsigned long long)e->dialogs,
		    (unsigned long long)e->transactions,
		    (unsigned long long)e->tcp);
	}
}

/* The frame, written at once: home, each line over the old one, then
 * the rest of the screen cleared (no flicker). */
static void
draw(struct top *t)
{
	char *buf = NULL;
	size_t len = 0;
	size_t n;

	t->f = open_memstream(&buf, &len);
	if (t->f == NULL)
		return;
	t->lines = 0;
	if (t->tty)
		fputs("\033[H", t->f);
	if (table(t, &n) != NULL)
		line(t, 0,
		    "siplbctl top - %s, every %gs; scheduler %s: %zu "
		    "nodes%s",
		    t->when, t->interval, t->io->sched_rep, n,
		    t->tty ? "; q quits" : "");
	else
		line(t, 0, "siplbctl top - %s, every %gs%s", t->when,
		    t->interval, t->tty ? "; q quits" : "");
	line(t, 0, "%s", "");
	draw_nodes(t);
	line(t, 0, "%s", "");
	draw_edge(t);
	if (t->msg[0]) {
		line(t, 0, "%s", "");
		line(t, 0, "last error: %s", t->msg);
	}
	if (t->rows > 0 && t->lines > t->rows - 1)
		fprintf(t->f, "%.*s", t->cols - 1,
		    "(more lines than the "
		    "window is high)");
	if (t->tty)
		fputs("\033[J", t->f);
	else
		fputs("\n", t->f);
	fclose(t->f);
	t->f = NULL;
	write_all(STDOUT_FILENO, buf, len);
	free(buf);
}

/* ------------------------------------------------------------ the loop */

/* Until `deadline` (CLOCK_MONOTONIC s): 1 to quit (q, a signal), 0 for
 * the next refresh (the time came, or another key). */
static int
wait_next(struct top *t, double deadline)
{
	for (;;) {
		struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
		struct timespec ts;
		double left;
		char k[64];
		ssize_t n;

		if (got_quit)
			return 1;
		if (got_winch) {
			got_winch = 0;
			term_size(t);
			draw(t);
		}
		left = deadline - mono();
		if (left <= 0)
			return 0;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		if (ppoll(&pfd, t->keys ? 1 : 0, &ts, &t->waitmask) <= 0)
			continue; /* a signal, or the time */
		if (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)) {
			t->keys = 0;
			continue;
		}
		n = read(STDIN_FILENO, k, sizeof(k));
		if (n == 0)
			t->keys = 0;
		for (ssize_t i = 0; i < n; i++)
			if (k[i] == 'q' || k[i] == 'Q')
				return 1;
		if (n > 0)
			return 0;
	}
}

static int
top_usage(const char *why, const char *arg)
{
	fprintf(stderr,
	    "siplbctl: top: %s%s\n"
	    "usage: siplbctl top [--interval S] [--count N]\n"
	    "  --interval S   seconds between refreshes, 0.1..3600 (default 1)\n"
	    "  --count N      refreshes, then exit; 0 = until q (default 0)\n",
	    why, arg);
	return SLB_EXIT_USAGE;
}

static int
top_opts(struct top *t, int argc, char **argv)
{
	char *end;

	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];

		if (i + 1 >= argc &&
		    (strcmp(o, "--interval") == 0 ||
			strcmp(o, "--count") == 0))
			return top_usage(o, " needs a value");
		if (strcmp(o, "--interval") == 0) {
			t->interval = strtod(argv[++i], &end);
			if (*end != '\0' || end == argv[i] ||
			    !(t->interval >= 0.1 && t->interval <= 3600))
				return top_usage("--interval: give 0.1..3600 "
						 "seconds, not ",
				    argv[i]);
		} else if (strcmp(o, "--count") == 0) {
			t->count = strtol(argv[++i], &end, 10);
			if (*end != '\0' || end == argv[i] || t->count < 0)
				return top_usage("--count: give 0 or more, "
						 "not ",
				    argv[i]);
		} else {
			return top_usage("unknown argument ", o);
		}
	}
	return 0;
}

/* SIGINT, SIGTERM, SIGHUP and SIGWINCH are blocked but while ppoll
 * waits, so nng's threads (started later, with this mask) never take
 * them and a wait always wakes for them. */
static void
top_signals(struct top *t)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGWINCH };
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&block, sigs[i]);
	}
	pthread_sigmask(SIG_BLOCK, &block, &t->waitmask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigdelset(&t->waitmask, sigs[i]);
}

int
ctl_top(const struct ctl_top_io *io, int argc, char **argv)
{
	struct top t;
	double next;
	int rc;

	memset(&t, 0, sizeof(t));
	t.io = io;
	t.interval = 1;
	if ((rc = top_opts(&t, argc, argv)) != 0)
		return rc;
	t.tty = isatty(STDOUT_FILENO);
	t.keys = t.tty && isatty(STDIN_FILENO);
	top_signals(&t);
	term_size(&t);
	if (t.tty)
		screen_enter(&t);
	for (long frame = 1;; frame++) {
		next = mono() + t.interval;
		sample(&t);
		if (got_quit)
			break;
		draw(&t);
		if (t.count > 0 && frame >= t.count)
			break;
		if (wait_next(&t, next))
			break;
	}
	restore();
	if (t.msg[0] && t.nodes_rc != 0)
		fprintf(stderr, "siplbctl: %s\n", t.msg);
	rc = t.nodes_rc;
	slb_msg_free(t.nodes ? &t.nodes->base : NULL);
	slb_msg_free(t.edge ? &t.edge->base : NULL);
	free(t.rate);
	free(t.prev);
	return rc;
}
