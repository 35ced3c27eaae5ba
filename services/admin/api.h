#ifndef SIPLB_ADMIN_API_H
#define SIPLB_ADMIN_API_H

#include <stddef.h>
#include <stdint.h>

#include "admin.h"

/*
 * Shared between api.c (the routing) and api_nodes.c (the node table's
 * endpoints) only.  Each fills rp, {"error": ...} on a refusal; body
 * (NULL when there is none) and len are the request's, and stay the
 * caller's.
 */

/* GET /api/v1/nodes, GET /api/v1/nodes/ID */
void adm_api_nodes_list(struct adm *a, struct adm_reply *rp);
void adm_api_node_get(struct adm *a, uint32_t id, struct adm_reply *rp);
/* POST /api/v1/nodes, PATCH and DELETE /api/v1/nodes/ID */
void adm_api_node_add(
    struct adm *a, const char *body, size_t len, struct adm_reply *rp);
void adm_api_node_patch(struct adm *a, uint32_t id, const char *body,
    size_t len, struct adm_reply *rp);
void adm_api_node_delete(struct adm *a, uint32_t id, struct adm_reply *rp);
/* POST /api/v1/reload */
void adm_api_reload(
    struct adm *a, const char *body, size_t len, struct adm_reply *rp);

#endif
