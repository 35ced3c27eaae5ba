#include "bus.h"

/* ------------------------------------------------------------ counters */

void
slb_counters_init(struct slb_counters *k, Siplb__V1__Counter *c,
    Siplb__V1__Counter **cp, size_t cap)
{
	siplb__v1__stats_reply__init(&k->sr);
	k->sr.counters = cp;
	k->c = c;
	k->cp = cp;
	k->cap = cap;
}

void
slb_counter_add(
    struct slb_counters *k, const char *name, const char *label, uint64_t v)
{
	Siplb__V1__Counter *c;

	if (k->sr.n_counters >= k->cap)
		return;
	c = &k->c[k->sr.n_counters];
	siplb__v1__counter__init(c);
	c->name = (char *)name;
	c->label = (char *)label;
	c->value = v;
	k->cp[k->sr.n_counters++] = c;
}

void
slb_counters_add_sub(
    struct slb_counters *k, const struct slb_sub *s, const char *label)
{
	struct slb_sub_stats st;

	slb_sub_get_stats(s, &st);
	slb_counter_add(k, "bus_received", label, st.received);
	slb_counter_add(k, "bus_gaps", label, st.gaps);
	slb_counter_add(k, "bus_restarts", label, st.restarts);
	slb_counter_add(k, "bus_resyncs", label, st.resyncs);
	slb_counter_add(k, "bus_dropped", label, st.dropped);
	slb_counter_add(k, "bus_replayed", label, st.replayed);
	slb_counter_add(k, "bus_history_lost", label, st.history_lost);
}
