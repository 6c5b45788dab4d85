/* Races ax's read of a connect's sockaddr (time of check to time of use), for the functional tests of
 * docs/interception.md ("Time of check to time of use").
 *
 *   toctou VIP_A VIP_B PORT N
 *
 * A second thread rewrites the address of one shared sockaddr between VIP_A and VIP_B as fast as it can, while the main
 * thread makes N connects with it, each on a new socket. After a connect that succeeds it sends "who" and reads the
 * echo server's "<name>:who", so it learns which backend it reached. Prints one line per backend name reached with
 * its count ("reached NAME COUNT"), then "refused COUNT" and "other COUNT" (any other failure).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_in shared;
static in_addr_t a, b;
static volatile int done;

static void *flip(void *unused) {
    (void)unused;
    while (!done) {
        __atomic_store_n(&shared.sin_addr.s_addr, a, __ATOMIC_RELAXED);
        __atomic_store_n(&shared.sin_addr.s_addr, b, __ATOMIC_RELAXED);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5) return 2;
    a = inet_addr(argv[1]);
    b = inet_addr(argv[2]);
    shared.sin_family = AF_INET;
    shared.sin_port = htons(atoi(argv[3]));
    shared.sin_addr.s_addr = a;
    int n = atoi(argv[4]);
    char names[8][64] = {{0}};
    int counts[8] = {0}, kinds = 0, refused = 0, other = 0;
    pthread_t flipper;
    pthread_create(&flipper, NULL, flip, NULL);
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&shared, sizeof shared) != 0) {
            if (errno == ECONNREFUSED) refused++; else other++;
            close(fd);
            continue;
        }
        char reply[128];
        ssize_t got = 0;
        if (write(fd, "who\n", 4) == 4) {
            ssize_t r;
            while (got < (ssize_t)sizeof reply - 1 && (r = read(fd, reply + got, sizeof reply - 1 - got)) > 0) {
                got += r;
                if (reply[got - 1] == '\n') break;
            }
        }
        close(fd);
        reply[got > 0 ? got : 0] = 0;
        char *colon = strchr(reply, ':');
        if (!colon) { other++; continue; }
        *colon = 0;
        int k = 0;
        while (k < kinds && strcmp(names[k], reply) != 0) k++;
        if (k == kinds && kinds < 8) { snprintf(names[kinds], sizeof names[kinds], "%s", reply); kinds++; }
        if (k < 8) counts[k]++;
    }
    done = 1;
    pthread_join(flipper, NULL);
    for (int k = 0; k < kinds; k++) printf("reached %s %d\n", names[k], counts[k]);
    printf("refused %d\nother %d\n", refused, other);
    return 0;
}
