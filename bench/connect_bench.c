// connect_bench: times connect(2) one call at a time, to measure what ax adds to a connect.
//
//   connect_bench server PORT            accept and close connections on 127.0.0.1:PORT until killed
//   connect_bench client HOST PORT N     N blocking connects (socket, connect, close); prints percentiles in µs
//
// Only connect(2) itself is timed, so the numbers are the syscall's cost as the application sees it.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int server(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 4096)) {
        perror("server");
        return 1;
    }
    printf("listening 127.0.0.1:%d\n", port);
    fflush(stdout);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c >= 0) close(c);
    }
}

static int client(const char *host, int port, int n) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        fprintf(stderr, "bad host %s\n", host);
        return 2;
    }
    double *t = malloc(sizeof(double) * n);
    double start = now_us();
    for (int i = 0; i < n; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        // Close with RST: no TIME_WAIT, so thousands of connects do not exhaust the ephemeral ports.
        struct linger l = {1, 0};
        setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        double t0 = now_us();
        if (connect(s, (struct sockaddr *)&a, sizeof a)) {
            perror("connect");
            return 1;
        }
        t[i] = now_us() - t0;
        close(s);
    }
    double total = now_us() - start;
    qsort(t, n, sizeof(double), cmp);
    printf("n=%d p10=%.1f p50=%.1f p90=%.1f p99=%.1f max=%.1f connects_per_s=%.0f\n", n, t[n / 10], t[n / 2],
           t[n * 90 / 100], t[n * 99 / 100], t[n - 1], n / (total / 1e6));
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "server")) return server(atoi(argv[2]));
    if (argc == 5 && !strcmp(argv[1], "client")) return client(argv[2], atoi(argv[3]), atoi(argv[4]));
    fprintf(stderr, "usage: %s server PORT | client HOST PORT N\n", argv[0]);
    return 2;
}
