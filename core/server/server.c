#include "core/server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/obs/log.h"
#include "core/server/h2guard.h"
#include "core/server/pipeline.h"
#include "core/server/request.h"
#include "core/server/stream.h"
#include "core/util/thread.h"

typedef struct krc_listener {
    char *label; /* "127.0.0.1:8080" */
    int port;    /* bound port */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    SSL_CTX *ssl;
    int *fds; /* one per loop thread */
} krc_listener;

struct krc_server {
    krc_app *app;
    h2o_globalconf_t globalconf;
    h2o_hostconf_t *hostconf;
    krc_listener *listeners;
    size_t nlisteners;
    krc_loop *loops;
    int nloops;
    int started;
    /* loop_main reports the end of its loop_init under these */
    pthread_mutex_t init_mu;
    pthread_cond_t init_cv;
};

typedef struct krc_h2o_handler {
    h2o_handler_t super;
    krc_server *server;
} krc_h2o_handler;

static __thread krc_loop *current_loop;

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    return krc_pipeline_on_req(current_loop, req);
}

static int open_socket(krc_listener *l, char *err, size_t errlen)
{
    int fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", l->label, strerror(errno));
        return -1;
    }
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    if (l->addr.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)&l->addr, l->addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", l->label, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static SSL_CTX *make_ssl(const krc_listen *lc, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        snprintf(err, errlen, "TLS: cannot create a context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, lc->tls_cert) != 1) {
        snprintf(err, errlen, "TLS: cannot load certificate %s: %s", lc->tls_cert,
                 ERR_reason_error_string(ERR_get_error()));
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, lc->tls_key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "TLS: cannot load key %s for %s: %s", lc->tls_key, lc->tls_cert,
                 ERR_reason_error_string(ERR_get_error()));
        goto fail;
    }
    /* h2 and http/1.1: h2o_http2_alpn_protocols would lock out HTTP/1.1
     * clients over TLS. */
    h2o_ssl_register_alpn_protocols(ctx, h2o_alpn_protocols);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static int resolve(const krc_listen *lc, krc_listener *l, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%d", lc->port);
    int rc = getaddrinfo(lc->host, port, &hints, &res);
    if (rc != 0 || res == NULL) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", lc->host, lc->port, gai_strerror(rc));
        return -1;
    }
    memcpy(&l->addr, res->ai_addr, res->ai_addrlen);
    l->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void set_port(krc_listener *l, int port)
{
    if (l->addr.ss_family == AF_INET)
        ((struct sockaddr_in *)&l->addr)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&l->addr)->sin6_port = htons((uint16_t)port);
}

krc_server *krc_server_new(krc_app *app, char *err, size_t errlen)
{
    krc_config *cfg = app->cfg;
    krc_server *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->app = app;
    s->nloops = cfg->server.threads;
    pthread_mutex_init(&s->init_mu, NULL);
    pthread_cond_init(&s->init_cv, NULL);
    h2o_config_init(&s->globalconf);
    s->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("kirana"));
    /* h2o answers bodies above its own limit with a plain 413 before any
     * handler runs; keep it well above max_body so the pipeline's
     * problem+json 413 is what clients normally see. */
    s->globalconf.max_request_entity_size = cfg->server.max_body * 2 + 65536;
    s->globalconf.http1.req_timeout = (uint64_t)cfg->server.request_timeout_ms;
    s->globalconf.http2.idle_timeout = (uint64_t)cfg->server.request_timeout_ms;
    /* h2o advertises 100 concurrent streams but by default runs only 16 of
     * them at once; long-lived SSE streams would starve the rest. */
    s->globalconf.http2.max_concurrent_requests_per_connection = 100;
    s->hostconf = h2o_config_register_host(&s->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(s->hostconf, "/", 0);
    krc_h2o_handler *h = (krc_h2o_handler *)h2o_create_handler(pc, sizeof(*h));
    h->super.on_req = on_req;
    h->server = s;

    s->nlisteners = cfg->server.n_listen;
    s->listeners = calloc(s->nlisteners, sizeof(krc_listener));
    for (size_t i = 0; i < s->nlisteners; i++) {
        const krc_listen *lc = &cfg->server.listen[i];
        krc_listener *l = &s->listeners[i];
        l->fds = malloc(sizeof(int) * (size_t)s->nloops);
        for (int t = 0; t < s->nloops; t++)
            l->fds[t] = -1;
        if (resolve(lc, l, err, errlen) < 0)
            goto fail;
        char label[300];
        snprintf(label, sizeof(label), "%s:%d", lc->host, lc->port);
        l->label = strdup(label);
        if (lc->tls_cert != NULL && (l->ssl = make_ssl(lc, err, errlen)) == NULL)
            goto fail;
        /* The first socket resolves port 0; the others share its port. */
        for (int t = 0; t < s->nloops; t++) {
            if ((l->fds[t] = open_socket(l, err, errlen)) < 0)
                goto fail;
            if (t == 0) {
                struct sockaddr_storage ss;
                socklen_t sl = sizeof(ss);
                getsockname(l->fds[0], (struct sockaddr *)&ss, &sl);
                l->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                        : ((struct sockaddr_in6 *)&ss)->sin6_port);
                set_port(l, l->port);
            }
        }
    }
    return s;
fail:
    krc_server_free(s);
    return NULL;
}

int krc_server_port(const krc_server *s, size_t listener)
{
    return listener < s->nlisteners ? s->listeners[listener].port : -1;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    h2o_accept_ctx_t *actx = listener->data;
    for (int i = 0; i < 32; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            break;
        h2o_accept(actx, sock);
    }
}

static void close_listeners(krc_loop *L)
{
    if (L->closed_listeners)
        return;
    L->closed_listeners = 1;
    for (size_t i = 0; i < L->nlisteners; i++) {
        if (L->listeners[i] != NULL) {
            h2o_socket_read_stop(L->listeners[i]);
            h2o_socket_close(L->listeners[i]);
            L->listeners[i] = NULL;
        }
    }
    /* GOAWAY to HTTP/2 clients so they open new streams elsewhere. */
    if (L->ctx.globalconf->http2.callbacks.request_shutdown != NULL)
        L->ctx.globalconf->http2.callbacks.request_shutdown(&L->ctx);
    if (L->ctx.globalconf->http1.callbacks.request_shutdown != NULL)
        L->ctx.globalconf->http1.callbacks.request_shutdown(&L->ctx);
}

/* Everything of a loop that libh2o allocates from its per-thread caches
 * (socket buffers, memory pools) must be created on the loop's own thread:
 * libh2o 2.2.5 returns such memory to the cache of the thread that created
 * the object, so a queue or socket made on the main thread and read by two
 * loops has both of them use the main thread's cache at once (heap
 * corruption under load with server.threads > 1). Loops are initialised one
 * at a time, each on its thread, the main thread waiting in between. */
static int loop_init(krc_loop *L, krc_server *s, char *err, size_t errlen)
{
    L->evloop = h2o_evloop_create();
    h2o_context_init(&L->ctx, L->evloop, &s->globalconf);
    if (krc_h2guard_attach(&L->ctx, s->app->cfg->server.h2_max_resets_per_10s,
                           s->app->cfg->server.request_timeout_ms) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    L->mq = h2o_multithread_create_queue(L->evloop);
    h2o_multithread_register_receiver(L->mq, &L->done, krc_pipeline_on_done);
    h2o_multithread_register_receiver(L->mq, &L->flushes, krc_stream_on_flush);
    if (getrandom(&L->rid_prefix, sizeof(L->rid_prefix), 0) != sizeof(L->rid_prefix))
        L->rid_prefix = (uint32_t)getpid() ^ (uint32_t)L->index;
    L->nlisteners = s->nlisteners;
    L->listeners = calloc(s->nlisteners, sizeof(h2o_socket_t *));
    L->accept_ctxs = calloc(s->nlisteners, sizeof(h2o_accept_ctx_t));
    if (s->nlisteners > 0 && (L->listeners == NULL || L->accept_ctxs == NULL)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < s->nlisteners; i++) {
        h2o_accept_ctx_t *a = &L->accept_ctxs[i];
        a->ctx = &L->ctx;
        a->hosts = s->globalconf.hosts;
        a->ssl_ctx = s->listeners[i].ssl;
        h2o_socket_t *sock = h2o_evloop_socket_create(L->evloop, s->listeners[i].fds[L->index], H2O_SOCKET_FLAG_DONT_READ);
        s->listeners[i].fds[L->index] = -1; /* the socket owns it now */
        sock->data = a;
        h2o_socket_read_start(sock, on_accept);
        L->listeners[i] = sock;
    }
    return 0;
}

static void *loop_main(void *arg)
{
    krc_loop *L = arg;
    krc_server *s = L->server;
    krc_app *app = L->app;
    krc_thread_mark_loop();
    current_loop = L;
    char err[256] = "";
    int rc = loop_init(L, s, err, sizeof(err));
    pthread_mutex_lock(&s->init_mu);
    L->init_rc = rc < 0 ? -1 : 1;
    snprintf(L->init_err, sizeof(L->init_err), "%s", err);
    pthread_cond_broadcast(&s->init_cv);
    pthread_mutex_unlock(&s->init_mu);
    if (rc < 0)
        return NULL;
    uint64_t deadline = 0;
    for (;;) {
        h2o_evloop_run(L->evloop, 50);
        krc_loop_flush(L);
        uint64_t now = krc_now_ns();
        if (now >= L->next_tick_ns) {
            krc_stream_tick(L, 0);
            L->next_tick_ns = now + 1000000000u;
        }
        if (!atomic_load(&app->stopping))
            continue;
        if (deadline == 0) {
            close_listeners(L);
            /* streams end so their clients reconnect to another process */
            krc_stream_tick(L, 1);
            deadline = krc_now_ns() + (uint64_t)app->cfg->server.shutdown_timeout_ms * 1000000u;
        }
        if (L->live == 0 || krc_now_ns() > deadline)
            break;
    }
    if (L->live > 0)
        krc_log(KR_LOG_WARN, NULL, NULL, "loop %d: %ld requests still running at the shutdown deadline", L->index,
                L->live);
    return NULL;
}

int krc_server_start(krc_server *s, char *err, size_t errlen)
{
    s->loops = calloc((size_t)s->nloops, sizeof(krc_loop));
    if (s->loops == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    for (int t = 0; rc == 0 && t < s->nloops; t++) {
        krc_loop *L = &s->loops[t];
        L->app = s->app;
        L->server = s;
        L->index = t;
        if (pthread_create(&L->tid, NULL, loop_main, L) != 0) {
            snprintf(err, errlen, "cannot start event-loop thread: %s", strerror(errno));
            rc = -1;
            break;
        }
        s->started++;
        pthread_mutex_lock(&s->init_mu);
        while (L->init_rc == 0)
            pthread_cond_wait(&s->init_cv, &s->init_mu);
        pthread_mutex_unlock(&s->init_mu);
        if (L->init_rc < 0) {
            snprintf(err, errlen, "event-loop thread %d: %s", t, L->init_err);
            rc = -1;
        }
    }
    if (rc < 0) {
        atomic_store(&s->app->stopping, 1);
        for (int j = 0; j < s->started; j++)
            pthread_join(s->loops[j].tid, NULL);
        s->started = 0;
        return -1;
    }
    for (size_t i = 0; i < s->nlisteners; i++)
        krc_log(KR_LOG_INFO, NULL, NULL, "listening on %s://%s:%d (%s)", s->listeners[i].ssl ? "https" : "http",
                s->app->cfg->server.listen[i].host, s->listeners[i].port,
                s->listeners[i].ssl ? "h2, http/1.1 over TLS" : "http/1.1, h2c");
    return 0;
}

void krc_server_stop(krc_server *s)
{
    atomic_store(&s->app->stopping, 1);
    for (int t = 0; t < s->started; t++)
        pthread_join(s->loops[t].tid, NULL);
    s->started = 0;
}

void krc_server_free(krc_server *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nlisteners; i++) {
        krc_listener *l = &s->listeners[i];
        for (int t = 0; l->fds != NULL && t < s->nloops; t++)
            if (l->fds[t] >= 0)
                close(l->fds[t]);
        free(l->fds);
        free(l->label);
        /* SSL_CTX and the loops stay: connections the shutdown deadline cut
         * short may still point at them, and the process is exiting. */
    }
    free(s->listeners);
    s->listeners = NULL;
    s->nlisteners = 0;
}
