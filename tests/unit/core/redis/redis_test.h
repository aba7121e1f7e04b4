/* Helpers for the Redis tests: the shared fixture's URL, and private
 * redis-server processes that a test may kill, stop and restart (the
 * fixture's server is shared by other tests and must never be). */
#ifndef KRC_TEST_REDIS_TEST_H
#define KRC_TEST_REDIS_TEST_H

#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

static inline int64_t rt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void rt_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* KEY's value in the servers fixture's env file; 0 or -1. */
static inline int rt_fixture_env(const char *key, char *out, size_t len)
{
    const char *path = getenv("KIRANA_TEST_SERVERS_ENV");
    FILE *f = path != NULL ? fopen(path, "r") : NULL;
    if (f == NULL) {
        fprintf(stderr, "no servers fixture: run under ctest (KIRANA_TEST_SERVERS_ENV=%s)\n", path ? path : "");
        return -1;
    }
    char line[1024];
    size_t klen = strlen(key);
    int rc = -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
            const char *v = line + klen + 1;
            size_t n = strcspn(v, "\n");
            if (n < len) {
                memcpy(out, v, n);
                out[n] = '\0';
                rc = 0;
            }
            break;
        }
    }
    fclose(f);
    return rc;
}

/* A loopback port nobody listens on (right now). */
static inline int rt_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(fd, (struct sockaddr *)&a, &alen) < 0)
        abort();
    close(fd);
    return ntohs(a.sin_port);
}

typedef struct rt_server {
    pid_t pid; /* 0: not running */
    int port;
    char dir[64];
    const char *password; /* NULL: none */
} rt_server;

/* Any reply (even NOAUTH) means the server is serving. */
static inline int rt_server_answers(int port)
{
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    int ok = 0;
    if (c != NULL && c->err == 0) {
        redisSetTimeout(c, tv);
        redisReply *r = redisCommand(c, "PING");
        ok = r != NULL;
        freeReplyObject(r);
    }
    redisFree(c);
    return ok;
}

/* Starts redis-server on s->port (a free one when 0) with its files in
 * s->dir (created when empty); returns once it answers. 0 or -1. */
static inline int rt_server_start(rt_server *s)
{
    if (s->dir[0] == '\0') {
        snprintf(s->dir, sizeof(s->dir), "/tmp/kr-redis-test-XXXXXX");
        if (mkdtemp(s->dir) == NULL)
            return -1;
    }
    if (s->port == 0)
        s->port = rt_free_port();
    char port[16], log[128];
    snprintf(port, sizeof(port), "%d", s->port);
    snprintf(log, sizeof(log), "%s/redis.log", s->dir);
    const char *argv[20] = {
        "redis-server", "--port", port,   "--bind",    "127.0.0.1", "--save",      "",  "--appendonly",
        "no",           "--dir",  s->dir, "--logfile", log,         "--daemonize", "no"};
    int argc = 15;
    if (s->password != NULL) {
        argv[argc++] = "--requirepass";
        argv[argc++] = s->password;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* The server dies with the test, even when the test crashes. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        execvp(argv[0], (char **)argv);
        _exit(127);
    }
    s->pid = pid;
    for (int i = 0; i < 200; i++) {
        if (rt_server_answers(s->port))
            return 0;
        rt_sleep_ms(25);
    }
    return -1;
}

static inline void rt_server_signal(rt_server *s, int sig)
{
    if (s->pid > 0)
        kill(s->pid, sig);
}

/* kill -9 and reap; the port and directory stay for a restart. */
static inline void rt_server_kill(rt_server *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

static inline void rt_server_remove(rt_server *s)
{
    rt_server_kill(s);
    if (s->dir[0] != '\0') {
        char log[128];
        snprintf(log, sizeof(log), "%s/redis.log", s->dir);
        unlink(log);
        rmdir(s->dir);
        s->dir[0] = '\0';
    }
}

#endif
