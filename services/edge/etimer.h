#ifndef SIPLB_EDGE_ETIMER_H
#define SIPLB_EDGE_ETIMER_H

#include <event2/event.h>

/*
 * One-shot libevent timers the transaction modules keep in their structs:
 * created on first use, re-armed in place, freed with their owner.
 */

static inline void
edge_timer_set(struct event_base *base, struct event **ev,
    event_callback_fn fn, void *arg, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (*ev == NULL)
		*ev = evtimer_new(base, fn, arg);
	if (*ev != NULL)
		evtimer_add(*ev, &tv);
}

static inline void
edge_timer_stop(struct event *ev)
{
	if (ev != NULL)
		evtimer_del(ev);
}

static inline void
edge_timer_free(struct event **ev)
{
	if (*ev != NULL) {
		event_free(*ev);
		*ev = NULL;
	}
}

#endif
