/* Tries to reach HOST:PORT with a TCP connect that the seccomp filter of `ax run` would have to miss: through another
 * syscall ABI than x86_64's. For the functional tests of docs/interception.md ("Architectures").
 *
 *   archbypass native HOST PORT   connect(2) as built: with -m32, i386's connect (socketcall or nr 362) from a 32-bit binary
 *   archbypass int80 HOST PORT    (64-bit build) i386's socketcall(SYS_SOCKET/SYS_CONNECT) through `int $0x80`
 *   archbypass x32 HOST PORT      (64-bit build) connect with the x32 bit set in the syscall number
 *
 * Prints "connected", or "failed ERRNO-NAME", and exits 0; a process the filter kills never prints.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef __x86_64__
#include <sys/syscall.h>
static long int80(long nr, long a, long b) {
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b) : "memory");
    return ret;
}
#endif

static void report(long result, int err) {
    if (result == 0) {
        printf("connected\n");
    } else {
        printf("failed %s\n", strerror(err));
    }
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: archbypass native|int80|x32 HOST PORT\n");
        return 2;
    }
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = htons(atoi(argv[3]));
    if (inet_pton(AF_INET, argv[2], &to.sin_addr) != 1) return 2;

    if (strcmp(argv[1], "native") == 0) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) { perror("socket"); return 1; }
        long r = connect(fd, (struct sockaddr *)&to, sizeof to);
        report(r, errno);
        return 0;
    }
#ifdef __x86_64__
    /* The memory passed to int $0x80 must be addressable with 32 bits: the stack of a 64-bit process is not. */
    static unsigned int args[3];
    static struct sockaddr_in low;
    if (strcmp(argv[1], "int80") == 0) {
        args[0] = AF_INET; args[1] = SOCK_STREAM; args[2] = 0;
        long fd = int80(102 /* i386 socketcall */, 1 /* SYS_SOCKET */, (long)(unsigned long)args);
        if (fd < 0) { report(-1, (int)-fd); return 0; }
        low = to;
        args[0] = (unsigned int)fd; args[1] = (unsigned int)(unsigned long)&low; args[2] = sizeof low;
        long r = int80(102, 3 /* SYS_CONNECT */, (long)(unsigned long)args);
        report(r < 0 ? -1 : 0, (int)-r);
        return 0;
    }
    if (strcmp(argv[1], "x32") == 0) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) { perror("socket"); return 1; }
        long r = syscall(0x40000000L | SYS_connect, fd, &to, sizeof to);
        report(r, errno);
        return 0;
    }
#endif
    return 2;
}
