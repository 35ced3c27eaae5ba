#ifndef SIPLB_COMMON_PBJSON_H
#define SIPLB_COMMON_PBJSON_H

#include <jansson.h>

#include "msg.h"

/*
 * The bus messages the operators see as JSON, one shape for siplb-admin's
 * API and `siplbctl --json` alike.
 */

/* {id, group, set, uri, enabled, up, weight, priority, probe_mode, rtt_us,
 *  last_code, description, attrs, socket, selected, failed_over,
 *  resources: {NAME: {capacity, load}}} */
json_t *slb_node_json(const Siplb__V1__Node *n);
/* {key, state, node_id, group, resources: [..], edge, call_id, from_tag,
 *  to_tag, created_us, updated_us, reason}; state by slb_dialog_state_name
 *  (dialog.h) */
json_t *slb_dialog_json(const Siplb__V1__DialogEvent *d);

#endif
