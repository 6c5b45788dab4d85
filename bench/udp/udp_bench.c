/* UDP request/response latency, for bench/udp/run (docs/benchmarks.md, "UDP").
 *
 *   udp_bench server PORT                   echo server on 127.0.0.1:PORT with recvmsg/sendmsg, as dnsmasq and
 *                                           unbound do (never trapped by ax)
 *   udp_bench server-recvfrom PORT          the same with recvfrom/sendto and addresses (trapped by ax, CONTINUEd)
 *   udp_bench connected HOST PORT N         connect once, then N x (send, recv): no address in any call
 *   udp_bench unconnected HOST PORT N       N x (sendto HOST:PORT, recvfrom with a source buffer)
 *   udp_bench unconnected-msg HOST PORT N   N x (sendmsg to HOST:PORT, recvmsg with a source buffer)
 *
 * A client prints the mean round trip in microseconds over N, after 1000 unmeasured warm-up rounds. 32-byte datagrams.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: udp_bench server PORT | connected|unconnected HOST PORT N\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) die("socket");
    char buf[2048];
    if (strncmp(argv[1], "server", 6) == 0) {
        struct sockaddr_in self = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
        inet_pton(AF_INET, "127.0.0.1", &self.sin_addr);
        if (bind(fd, (struct sockaddr *)&self, sizeof self) < 0) die("bind");
        while (strcmp(argv[1], "server") == 0) {
            struct sockaddr_storage peer;
            struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
            struct msghdr msg = {.msg_name = &peer, .msg_namelen = sizeof peer, .msg_iov = &iov, .msg_iovlen = 1};
            ssize_t n = recvmsg(fd, &msg, 0);
            if (n < 0) die("recvmsg");
            iov.iov_len = n;
            if (sendmsg(fd, &msg, 0) < 0) die("sendmsg");
        }
        for (;;) {
            struct sockaddr_storage peer;
            socklen_t len = sizeof peer;
            ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len);
            if (n < 0) die("recvfrom");
            if (sendto(fd, buf, n, 0, (struct sockaddr *)&peer, len) < 0) die("sendto");
        }
    }
    if (argc < 5) die("arguments");
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[3]))};
    if (inet_pton(AF_INET, argv[2], &to.sin_addr) != 1) die("address");
    long n = atol(argv[4]);
    int connected = strcmp(argv[1], "connected") == 0;
    int message = strcmp(argv[1], "unconnected-msg") == 0;
    if (connected && connect(fd, (struct sockaddr *)&to, sizeof to) < 0) die("connect");
    memset(buf, 'x', 32);
    double start = 0;
    for (long i = -1000; i < n; i++) {
        if (i == 0) start = now_us();
        if (connected) {
            if (send(fd, buf, 32, 0) != 32) die("send");
            if (recv(fd, buf, sizeof buf, 0) != 32) die("recv");
        } else {
            struct sockaddr_in from;
            socklen_t len = sizeof from;
            if (message) {
                struct iovec iov = {.iov_base = buf, .iov_len = 32};
                struct msghdr out = {.msg_name = &to, .msg_namelen = sizeof to, .msg_iov = &iov, .msg_iovlen = 1};
                if (sendmsg(fd, &out, 0) != 32) die("sendmsg");
                iov.iov_len = sizeof buf;
                struct msghdr in = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1};
                if (recvmsg(fd, &in, 0) != 32) die("recvmsg");
            } else {
                if (sendto(fd, buf, 32, 0, (struct sockaddr *)&to, sizeof to) != 32) die("sendto");
                if (recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &len) != 32) die("recvfrom");
            }
            if (from.sin_addr.s_addr != to.sin_addr.s_addr || from.sin_port != to.sin_port) {
                fprintf(stderr, "reply from %s:%d, sent to %s\n", inet_ntoa(from.sin_addr), ntohs(from.sin_port), argv[2]);
                return 1;
            }
        }
    }
    printf("%.2f\n", (now_us() - start) / n);
    return 0;
}
