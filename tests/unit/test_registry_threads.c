/* test_registry_threads.c -- one registry client shared by threads while
 * the registry challenges for Basic auth: every thread's requests end in
 * 200 with the credentials, and (built with clang -fsanitize=thread by
 * tests/cli/registry_threads_tsan.sh) no data race is reported on the
 * client's shared state: the auth scheme, the token cache, the handle
 * pool, the counters, the http/https switch.
 *
 * The registry is a minimal HTTP/1.1 server in this process on 127.0.0.1
 * (keep-alive, GET and HEAD): without "Authorization: Basic dTpw" (u:p)
 * it answers 401 with `WWW-Authenticate: Basic realm="test"`, as
 * docker-registry with an htpasswd file does; with it, 200. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "registry.h"

#define ROUNDS 12
#define THREADS 6
#define CALLS 4

static int listen_fd;
static int served_ok, served_401;
static pthread_mutex_t served_mu = PTHREAD_MUTEX_INITIALIZER;

static void *serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[8192];
    size_t have = 0;

    for (;;) {
        char *end;
        ssize_t n;
        while ((end = memmem(buf, have, "\r\n\r\n", 4)) == NULL) {
            if (have == sizeof(buf) || (n = read(fd, buf + have, sizeof(buf) - have)) <= 0) {
                close(fd);
                return NULL;
            }
            have += (size_t)n;
        }
        {
            size_t used = (size_t)(end + 4 - buf);
            int authed = memmem(buf, used, "\r\nAuthorization: Basic dTpw\r\n", 29) != NULL;
            int is_head = strncmp(buf, "HEAD ", 5) == 0;
            char out[256];
            int k;
            if (authed)
                k = snprintf(out, sizeof(out),
                             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n%s",
                             is_head ? "" : "{}");
            else
                k = snprintf(out, sizeof(out),
                             "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"test\"\r\n"
                             "Content-Length: 0\r\n\r\n");
            pthread_mutex_lock(&served_mu);
            if (authed)
                served_ok++;
            else
                served_401++;
            pthread_mutex_unlock(&served_mu);
            if (write(fd, out, (size_t)k) != k) {
                close(fd);
                return NULL;
            }
            memmove(buf, buf + used, have - used);
            have -= used;
        }
    }
}

static void *accept_loop(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_t t;
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0)
            return NULL;
        if (pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)fd) != 0) {
            close(fd);
            continue;
        }
        pthread_detach(t);
    }
}

struct worker {
    struct reg_client *c;
    int failures;
    char first_error[ERROR_MSG_MAX];
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct error err;
    int i, found;
    int64_t size;

    for (i = 0; i < CALLS; i++) {
        int rc = (i % 2 == 0) ? reg_ping(w->c, &err)
                              : reg_blob_head(w->c, "repo", "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                                              &size, &found, &err);
        if (rc != 0 && w->failures++ == 0)
            memcpy(w->first_error, err.msg, sizeof(w->first_error));
    }
    return NULL;
}

int main(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);
    pthread_t server;
    char host[64];
    int round;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(listen_fd, 64) != 0 ||
        getsockname(listen_fd, (struct sockaddr *)&a, &alen) != 0) {
        perror("listen on 127.0.0.1");
        return 1;
    }
    snprintf(host, sizeof(host), "127.0.0.1:%d", ntohs(a.sin_port));
    pthread_create(&server, NULL, accept_loop, NULL);

    /* a fresh client each round, so the threads meet the challenge together */
    for (round = 0; round < ROUNDS; round++) {
        struct reg_opts o = {.plain_http = 1, .user = "u", .password = "p"};
        struct worker w[THREADS];
        pthread_t t[THREADS];
        struct reg_stats st;
        struct error err;
        int i;
        memset(w, 0, sizeof(w));
        w[0].c = reg_client_new(host, &o, &err);
        CHECK_MSG(w[0].c != NULL, "reg_client_new: %s", err.msg);
        if (w[0].c == NULL)
            break;
        for (i = 0; i < THREADS; i++) {
            w[i].c = w[0].c;
            pthread_create(&t[i], NULL, work, &w[i]);
        }
        for (i = 0; i < THREADS; i++) {
            pthread_join(t[i], NULL);
            CHECK_MSG(w[i].failures == 0, "round %d thread %d: %d failed calls: %s", round, i, w[i].failures,
                      w[i].first_error);
        }
        reg_client_stats(w[0].c, &st);
        CHECK_MSG(st.requests >= THREADS * CALLS, "round %d: %ld requests", round, st.requests);
        reg_client_free(w[0].c);
    }
    pthread_mutex_lock(&served_mu);
    CHECK_MSG(served_ok == ROUNDS * THREADS * CALLS, "%d authenticated answers", served_ok);
    CHECK_MSG(served_401 >= ROUNDS, "%d challenges", served_401);
    pthread_mutex_unlock(&served_mu);
    shutdown(listen_fd, SHUT_RDWR);
    close(listen_fd);
    pthread_join(server, NULL);
    return check_exit();
}
