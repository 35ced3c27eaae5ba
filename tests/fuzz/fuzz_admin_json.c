/*
 * libFuzzer target: the admin API's request bodies (node add, node patch,
 * reload) through adm_api_handle, as libmicrohttpd hands them over.  The
 * first byte picks the endpoint.  No scheduler is configured, so a body
 * the API accepts ends in 503 "no scheduler answered" and one it refuses
 * in 400: every answer must be a JSON object {"error": "..."} with one of
 * those statuses, anything else aborts (a crash for the fuzzer).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "log.h"

static struct adm A;

static const struct {
	const char *method, *path;
} ends[] = {
	{ "POST", "/api/v1/nodes" },
	{ "PATCH", "/api/v1/nodes/1" },
	{ "POST", "/api/v1/reload" },
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	slb_log_init("fuzz-admin");
	slb_log_configure("crit", "local0", 0);
	A.nsched = 0;
	A.nedge = 0;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct adm_reply rp = { 0 };
	json_t *err;
	unsigned i;

	if (size < 1)
		return 0;
	i = data[0] % (sizeof(ends) / sizeof(ends[0]));
	adm_api_handle(&A, ends[i].method, ends[i].path,
	    (const char *)data + 1, size - 1, NULL, &rp);
	if (rp.status != 400 && rp.status != 404 && rp.status != 503) {
		fprintf(stderr, "unexpected status %u: %s\n", rp.status,
		    rp.json ? json_dumps(rp.json, 0) : "(no JSON)");
		abort();
	}
	err = json_object_get(rp.json, "error");
	if (!json_is_object(rp.json) || !json_is_string(err) ||
	    *json_string_value(err) == '\0')
		abort();
	json_decref(rp.json);
	free(rp.text);
	return 0;
}
