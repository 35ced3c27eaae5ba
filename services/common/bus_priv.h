#ifndef SIPLB_COMMON_BUS_PRIV_H
#define SIPLB_COMMON_BUS_PRIV_H

/* Shared between the bus_*.c files only; not part of the bus API. */

#include <event2/event.h>
#include <nng/nng.h>

#include "bus.h"

/* Watch s's NNG_OPT_RECVFD on base (EV_READ | EV_PERSIST); 0 or +errno. */
int slb_bus_recv_fd_event(nng_socket s, struct event_base *base,
    event_callback_fn fn, void *arg, struct event **evp);
/* nng_listen(s, url), logging why it failed; 0 or +errno. */
int slb_bus_listen(nng_socket s, const char *url);

/* From now on p keeps its last messages in its ring (for slb_rep_set_pub). */
void slb_pub_keep_ring(struct slb_pub *p);
/* Answer the ReplayCall req from p's ring; *replyp is the packed
 * ReplayAnswer (the caller's) or NULL on failure. */
int slb_pub_replay(struct slb_pub *p, const nng_msg *req, nng_msg **replyp);

#endif
