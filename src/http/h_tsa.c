/*
 * h_tsa: the time-stamp authority over HTTP (RFC 3161 on /tsa, legacy
 * Authenticode on /tsa/authenticode) and its two operator actions. Bodies
 * are untrusted; their parsing and every RFC 3161 refusal live in tsa.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "http/handlers.h"

static int
type_is(const char *ct, const char *want)
{
    size_t n = strlen(want);

    return ct != NULL && strncasecmp(ct, want, n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';');
}

/* Anonymous writes are the first refused when the disk runs low: every
 * token is a durable record (store.h, sn_store_space). */
static int
no_room(const struct sn_deps *deps, struct sn_resp *resp)
{
    if (sn_store_space(deps->store) == SN_SPACE_OK)
        return 0;
    sn_resp_error(resp, API_UNAVAILABLE,
                  "the TSA is refusing for now: storage is low");
    sn_resp_header(resp, "Retry-After", "60");
    return 1;
}

void
sn_h_tsa(const struct sn_deps *deps, struct sn_req *req, struct sn_resp *resp)
{
    if (no_room(deps, resp))
        return;
    if (!type_is(req->content_type, "application/timestamp-query")) {
        sn_resp_error(resp, API_MEDIA_TYPE,
                      "time-stamp requests are application/timestamp-query");
        return;
    }
    if (req->body_len == 0) {
        sn_resp_error(resp, API_BAD_REQUEST, "empty time-stamp request");
        return;
    }
    if (sn_tsa_respond(deps->tsa, req->body, req->body_len, &resp->raw,
                       &resp->raw_len, &resp->tsa) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "the TSA is unavailable");
        return;
    }
    /* The token leaves once its record is durable, or not at all. */
    resp->audit_fail_message = "the TSA is unavailable";
    resp->code = API_OK;
    resp->raw_type = "application/timestamp-reply";
}

void
sn_h_tsa_authenticode(const struct sn_deps *deps, struct sn_req *req,
                      struct sn_resp *resp)
{
    char *b64 = NULL;
    sn_err r;

    if (no_room(deps, resp))
        return;
    if (req->body_len == 0) {
        sn_resp_error(resp, API_BAD_REQUEST, "empty time-stamp request");
        return;
    }
    r = sn_tsa_authenticode(deps->tsa, req->body, req->body_len, &b64,
                            &resp->tsa);
    if (r == SN_ERR_INVALID || r == SN_ERR_LIMIT) {
        sn_resp_error(resp, API_BAD_REQUEST,
                      "not a base64 Authenticode time-stamp request");
        return;
    }
    if (r == SN_ERR_STATE) {
        sn_resp_error(resp, API_UNAVAILABLE,
                      "the TSA is refusing: its certificate is revoked or "
                      "expired, its key is past its usage period, or its "
                      "clock went back (see the log)");
        return;
    }
    if (r != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "the TSA is unavailable");
        return;
    }
    resp->audit_fail_message = "the TSA is unavailable";
    resp->code = API_OK;
    resp->raw = (uint8_t *)b64;
    resp->raw_len = strlen(b64);
    resp->raw_type = "application/octet-stream";
}

static void
tsa_audit(const struct sn_deps *deps, struct sn_req *req, const char *action,
          const char *detail)
{
    struct sn_audit a;

    sn_audit_init(&a, req, "", "", action);
    snprintf(a.detail, sizeof(a.detail), "%s", detail);
    if (sn_store_audit_add(deps->store, &a) != SN_OK)
        sn_error("audit: cannot record %s", action);
}

void
sn_h_tsa_rotate(const struct sn_deps *deps, struct sn_req *req,
                struct sn_resp *resp)
{
    char detail[128], id[64];

    if (sn_allowed(deps, req, resp, SN_ACT_TSA_ROTATE, NULL) != 0)
        return;
    if (sn_tsa_rotate(deps->tsa, id, sizeof(id)) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "TSA key rotation failed");
        return;
    }
    snprintf(detail, sizeof(detail), "new TSA key %s; old key destroyed", id);
    tsa_audit(deps, req, "tsa_rotate", detail);
    sn_resp_json(resp, API_OK, json_pack("{s:s}", "key_id", id));
}

void
sn_h_tsa_clock_ok(const struct sn_deps *deps, struct sn_req *req,
                  struct sn_resp *resp)
{
    if (sn_allowed(deps, req, resp, SN_ACT_TSA_CLOCK_OK, NULL) != 0)
        return;
    sn_tsa_clock_ok(deps->tsa);
    tsa_audit(deps, req, "tsa_clock_ok", "operator confirmed the clock");
    sn_resp_json(resp, API_OK, json_pack("{s:s}", "status", "ok"));
}
