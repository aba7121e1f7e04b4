#include "core/server/h2guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "core/obs/log.h"
#include "core/obs/metrics.h"

#define WINDOW_MS 10000u

typedef struct guard {
    uint64_t max_resets;
    h2o_timeout_t answer_timeout;
    h2o_linklist_t conns; /* conn_state of every hooked socket */
    krc_counter *c_flood, *c_stalled;
} guard;

/* Lives as long as the socket: freed from its on_close hook. */
typedef struct conn_state {
    h2o_linklist_t link;
    h2o_socket_t *sock;
    void (*prev_cb)(void *);
    void *prev_data;
    uint64_t window_start; /* ms on the loop clock */
    uint64_t prev_resets;  /* in the window before window_start */
    uint64_t resets;       /* since window_start */
    bool closed;
} conn_state;

/* One per answer, in the request's pool: h2o frees it when it disposes the
 * request, which is when the answer has left (or the connection is gone). */
typedef struct watch {
    h2o_timeout_entry_t entry;
    h2o_conn_t *conn;
} watch;

/* Set on the main thread by the first attach, before any loop runs. */
static size_t storage_key = SIZE_MAX;

static void on_sock_close(void *p)
{
    conn_state *cs = p;
    void (*cb)(void *) = cs->prev_cb;
    void *data = cs->prev_data;
    h2o_linklist_unlink(&cs->link);
    free(cs);
    if (cb != NULL)
        cb(data);
}

static void guard_dispose(void *p)
{
    guard *g = p;
    if (g == NULL)
        return;
    while (!h2o_linklist_is_empty(&g->conns)) {
        conn_state *cs = H2O_STRUCT_FROM_MEMBER(conn_state, link, g->conns.next);
        cs->sock->on_close.cb = cs->prev_cb;
        cs->sock->on_close.data = cs->prev_data;
        h2o_linklist_unlink(&cs->link);
        free(cs);
    }
    /* Watches of requests still alive stay in their pools; unlinked, their
     * dispose is a no-op. */
    while (!h2o_linklist_is_empty(&g->answer_timeout._entries))
        h2o_timeout_unlink(H2O_STRUCT_FROM_MEMBER(h2o_timeout_entry_t, _link, g->answer_timeout._entries.next));
    free(g);
}

static guard *guard_of(h2o_context_t *ctx)
{
    return storage_key == SIZE_MAX ? NULL : *h2o_context_get_storage(ctx, &storage_key, guard_dispose);
}

int krc_h2guard_attach(h2o_context_t *ctx, int max_resets_per_10s, int answer_timeout_ms)
{
    guard *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return -1;
    g->max_resets = (uint64_t)max_resets_per_10s;
    h2o_linklist_init_anchor(&g->conns);
    h2o_timeout_init(ctx->loop, &g->answer_timeout, (uint64_t)answer_timeout_ms);
    g->c_flood =
        krc_metrics_counter("kirana_http2_reset_flood_total",
                            "HTTP/2 connections closed for resetting more streams than h2_max_resets_per_10s", NULL);
    g->c_stalled =
        krc_metrics_counter("kirana_http_stalled_answer_closed_total",
                            "Connections closed because an answer was not taken within request_timeout_ms", NULL);
    *h2o_context_get_storage(ctx, &storage_key, guard_dispose) = g;
    return 0;
}

static conn_state *state_of(guard *g, h2o_conn_t *conn, bool create)
{
    h2o_socket_t *sock = conn->callbacks->get_socket != NULL ? conn->callbacks->get_socket(conn) : NULL;
    if (sock == NULL)
        return NULL;
    if (sock->on_close.cb == on_sock_close)
        return sock->on_close.data;
    if (!create)
        return NULL;
    conn_state *cs = calloc(1, sizeof(*cs));
    if (cs == NULL)
        return NULL;
    cs->sock = sock;
    cs->window_start = h2o_now(conn->ctx->loop);
    /* h2o leaves on_close unset on accepted sockets; chain whatever is there
     * so a future user of the hook keeps working. */
    cs->prev_cb = sock->on_close.cb;
    cs->prev_data = sock->on_close.data;
    sock->on_close.cb = on_sock_close;
    sock->on_close.data = cs;
    h2o_linklist_insert(&g->conns, &cs->link);
    return cs;
}

static void peer_ip(h2o_conn_t *conn, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = conn->callbacks->get_peername(conn, (struct sockaddr *)&ss);
    buf[0] = '\0';
    if (sl > 0 && ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, buf, (socklen_t)len);
    else if (sl > 0 && ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, buf, (socklen_t)len);
}

/* Both ways, so h2o sees EOF if it is reading and an error if it is
 * writing, whichever it is waiting for. The fd stays open: h2o closes it. */
static bool close_conn(conn_state *cs)
{
    if (cs->closed)
        return false;
    cs->closed = true;
    int fd = h2o_socket_get_fd(cs->sock);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
    return true;
}

/* Resets over the last WINDOW_MS, estimated from two fixed windows: the
 * current one plus the previous one weighted by the share of it the sliding
 * window still covers. Exact for a steady rate, never below half the truth
 * for bursts, and two counters per connection. */
static uint64_t window_count(conn_state *cs, uint64_t now)
{
    uint64_t elapsed = now - cs->window_start;
    if (elapsed >= 2 * WINDOW_MS) {
        cs->prev_resets = 0;
        cs->resets = 0;
        cs->window_start = now;
    } else if (elapsed >= WINDOW_MS) {
        cs->prev_resets = cs->resets;
        cs->resets = 0;
        cs->window_start += WINDOW_MS;
    }
    elapsed = now - cs->window_start;
    return cs->resets + cs->prev_resets * (WINDOW_MS - elapsed) / WINDOW_MS;
}

void krc_h2guard_unanswered(h2o_req_t *req)
{
    if (req->version < 0x200)
        return; /* an HTTP/1 client that leaves takes its connection along */
    guard *g = guard_of(req->conn->ctx);
    conn_state *cs = g != NULL ? state_of(g, req->conn, true) : NULL;
    if (cs == NULL || cs->closed)
        return;
    uint64_t now = h2o_now(req->conn->ctx->loop);
    uint64_t n = window_count(cs, now) + 1;
    cs->resets++;
    if (n <= g->max_resets || !close_conn(cs))
        return;
    char ip[INET6_ADDRSTRLEN];
    peer_ip(req->conn, ip, sizeof(ip));
    krc_counter_add(g->c_flood, 1);
    krc_log(KR_LOG_WARN, NULL, NULL,
            "HTTP/2 rapid reset from %s: %llu streams ended unanswered within 10 s (limit %llu); connection closed", ip,
            (unsigned long long)n, (unsigned long long)g->max_resets);
}

static void on_answer_timeout(h2o_timeout_entry_t *entry)
{
    watch *w = H2O_STRUCT_FROM_MEMBER(watch, entry, entry);
    guard *g = guard_of(w->conn->ctx);
    conn_state *cs = g != NULL ? state_of(g, w->conn, true) : NULL;
    if (cs == NULL || !close_conn(cs))
        return;
    char ip[INET6_ADDRSTRLEN];
    peer_ip(w->conn, ip, sizeof(ip));
    krc_counter_add(g->c_stalled, 1);
    krc_log(KR_LOG_WARN, NULL, NULL, "client %s has not taken an answer within %llu ms; connection closed", ip,
            (unsigned long long)g->answer_timeout.timeout);
}

static void on_watch_dispose(void *p)
{
    watch *w = p;
    h2o_timeout_unlink(&w->entry);
}

void krc_h2guard_watch(h2o_req_t *req)
{
    guard *g = guard_of(req->conn->ctx);
    if (g == NULL)
        return;
    watch *w = h2o_mem_alloc_shared(&req->pool, sizeof(*w), on_watch_dispose);
    *w = (watch){.entry = {.cb = on_answer_timeout}, .conn = req->conn};
    h2o_timeout_link(req->conn->ctx->loop, &g->answer_timeout, &w->entry);
}

bool krc_h2guard_refused(h2o_req_t *req)
{
    guard *g = guard_of(req->conn->ctx);
    if (g == NULL)
        return false;
    if (req->version < 0x200 || req->path.len > 0) {
        conn_state *cs = state_of(g, req->conn, false);
        return cs != NULL && cs->closed;
    }
    conn_state *cs = state_of(g, req->conn, true);
    if (cs != NULL && close_conn(cs)) {
        char ip[INET6_ADDRSTRLEN];
        peer_ip(req->conn, ip, sizeof(ip));
        krc_log(KR_LOG_WARN, NULL, NULL, "malformed HTTP/2 request from %s (empty :path); connection closed", ip);
    }
    return true;
}

bool krc_h2guard_headers_fit(const h2o_req_t *req, char *detail, size_t len)
{
    if (req->headers.size > KRC_MAX_HEADERS) {
        snprintf(detail, len, "more than %d request headers", KRC_MAX_HEADERS);
        return false;
    }
    size_t bytes = 0;
    for (size_t i = 0; i < req->headers.size; i++)
        bytes += req->headers.entries[i].name->len + req->headers.entries[i].value.len;
    if (bytes > KRC_MAX_HEADER_BYTES) {
        snprintf(detail, len, "request headers larger than %d bytes", KRC_MAX_HEADER_BYTES);
        return false;
    }
    return true;
}
