/*
 * examples/floor.c: the "lean epoll loop", the reference floor of examples/bench.sh.
 *
 * For the benchmark only: it is not part of telltale and not a scanner anyone should use.
 * It is what the "lean epoll loop" means: the least a connect scanner can do, so that
 * telltale's wall time, CPU and memory can be compared with it.
 *
 *   usage: floor IPV4 PORTS CONCURRENCY TIMEOUT_MS OUTFILE
 *          PORTS: a list like 1025-31024 or 22,80,8000-8010
 *
 * Per port: a non-blocking connect() (SO_LINGER 0, so close() sends a RST and leaves no
 * TIME_WAIT), epoll for writability, SO_ERROR gives the verdict:
 *   0 -> open, ECONNREFUSED -> refused, EHOSTUNREACH/ENETUNREACH/... -> unreachable,
 *   no answer within TIMEOUT_MS -> filtered, anything else -> error-<errno>.
 * CONCURRENCY connects are kept in flight. One line "PORT VERDICT" per port goes to OUTFILE.
 * Every port has the same timeout and ports start in order, so the deadlines are in start
 * order too: the oldest unfinished port is the next to expire (no timer heap needed).
 *
 * Build: gcc -O2 -o floor examples/floor.c   (bench.sh does this into its results dir)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int *fds;             /* per port: socket, -1 when not started or finished */
static int64_t *deadline;    /* per port: ms on the monotonic clock */
static uint16_t *ports;
static int nports, inflight, ep;
static struct sockaddr_in dst;
static FILE *out;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static const char *verdict(int err)
{
    static char buf[32];
    switch (err) {
    case 0: return "open";
    case ECONNREFUSED: return "refused";
    case EHOSTUNREACH: case ENETUNREACH: case EHOSTDOWN: case ENETDOWN: return "unreachable";
    case ETIMEDOUT: return "filtered";
    default: snprintf(buf, sizeof buf, "error-%d", err); return buf;
    }
}

static void finish(int i, int err)
{
    fprintf(out, "%u %s\n", ports[i], verdict(err));
    if (fds[i] >= 0) {
        close(fds[i]);   /* SO_LINGER 0: RST, no TIME_WAIT; close also leaves the epoll set */
        fds[i] = -1;
        inflight--;
    }
}

static void start(int i, int64_t timeout_ms)
{
    static const struct linger lg = { 1, 0 };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) < 0)
        die("setsockopt SO_LINGER");
    dst.sin_port = htons(ports[i]);
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) == 0 || errno == EINPROGRESS) {
        struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = (uint32_t)i };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
            die("epoll_ctl");
        fds[i] = fd;
        deadline[i] = now_ms() + timeout_ms;
        inflight++;
    } else {   /* answered at once (loopback refusals can be synchronous) */
        int err = errno;
        close(fd);
        finish(i, err);
    }
}

/* Parses "a-b,c,..." into ports[]; returns the count. */
static int parse_ports(char *spec)
{
    int n = 0, cap = 1024;
    ports = malloc(cap * sizeof *ports);
    for (char *tok = strtok(spec, ","); tok; tok = strtok(NULL, ",")) {
        long a, b;
        char *end;
        a = b = strtol(tok, &end, 10);
        if (*end == '-')
            b = strtol(end + 1, &end, 10);
        if (*end || a < 1 || b > 65535 || a > b) {
            fprintf(stderr, "bad port range '%s'\n", tok);
            exit(2);
        }
        for (long p = a; p <= b; p++) {
            if (n == cap && !(ports = realloc(ports, (cap *= 2) * sizeof *ports)))
                die("realloc");
            ports[n++] = (uint16_t)p;
        }
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s IPV4 PORTS CONCURRENCY TIMEOUT_MS OUTFILE\n", argv[0]);
        return 2;
    }
    dst.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
        fprintf(stderr, "bad IPv4 address '%s'\n", argv[1]);
        return 2;
    }
    nports = parse_ports(argv[2]);
    int conc = atoi(argv[3]);
    int64_t timeout_ms = atoll(argv[4]);
    if (conc < 1 || timeout_ms < 1) {
        fprintf(stderr, "CONCURRENCY and TIMEOUT_MS must be >= 1\n");
        return 2;
    }
    if (!(out = fopen(argv[5], "w")))
        die(argv[5]);
    fds = malloc(nports * sizeof *fds);
    deadline = malloc(nports * sizeof *deadline);
    if (!ports || !fds || !deadline)
        die("malloc");
    for (int i = 0; i < nports; i++)
        fds[i] = -1;
    if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        die("epoll_create1");

    struct epoll_event evs[256];
    int next = 0, oldest = 0;   /* next port to start; oldest port that may be in flight */
    while (next < nports || inflight > 0) {
        while (inflight < conc && next < nports)
            start(next++, timeout_ms);
        int64_t now = now_ms();
        for (; oldest < next && (fds[oldest] < 0 || deadline[oldest] <= now); oldest++)
            if (fds[oldest] >= 0)
                finish(oldest, ETIMEDOUT);
        if (inflight == 0)
            continue;
        int k = epoll_wait(ep, evs, 256, (int)(deadline[oldest] - now));
        if (k < 0 && errno != EINTR)
            die("epoll_wait");
        for (int j = 0; j < k; j++) {
            int i = (int)evs[j].data.u32, err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                err = errno;
            finish(i, err);
        }
    }
    if (fclose(out) != 0)
        die("fclose");
    return 0;
}
