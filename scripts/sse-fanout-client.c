// The SSE fan-out client of scripts/bench-streaming (`--sse-client c`): N idle /sse streams on
// one epoll loop, then one POST /publish, and for each stream the time from just before the POST
// until the event reached that client's socket.
//
// "Reached" is the kernel's receive timestamp of the segment that completed the marker
// (SO_TIMESTAMPNS), not the moment this program got round to reading it: with 10,000 sockets on
// one core a client's own read loop adds tens of milliseconds, and the Python client (one
// callback per read) adds more, which would be counted against the server. Both figures are
// printed: `kernel` is the server's fan-out, `user` includes this client's reading.
//
//     gcc -O2 -o /tmp/sse-fanout-client scripts/sse-fanout-client.c
//     /tmp/sse-fanout-client PORT CLIENTS
//
// It prints `ready` once every stream has its response head, then waits for a line on stdin:
// `publish` publishes a marker and prints one result line (`delivered N of M kernel p50 p99 max
// user p50 p99 max publish ANSWER`, times in ms); `close` closes every stream and exits.
// Only 127.0.0.1; every wait is bounded (60 s).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int fd;
    int opened;           // the response head has arrived
    char tail[64];        // the last bytes read, so a marker split over two reads is found
    size_t tail_len;
    int64_t kernel_ns;    // receive timestamp of the read that completed the marker, or 0
    int64_t user_ns;      // when this program read it
} Stream;

static int64_t now_realtime(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

static int connect_to(int port, int nonblocking) {
    int fd = socket(AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS) die("connect");
    return fd;
}

static int compare(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

static double pick(int64_t *sorted, int n, double fraction) {
    int i = (int)(fraction * n);
    if (i >= n) i = n - 1;
    return sorted[i] / 1e6;
}

// Reads what a stream has; returns 0 when it closed or failed.
static int read_stream(Stream *s, const char *marker) {
    char buf[4096];
    char control[CMSG_SPACE(sizeof(struct timespec))];
    for (;;) {
        struct iovec iov = {buf, sizeof buf};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
        ssize_t n = recvmsg(s->fd, &m, 0);
        if (n == 0) return 0;
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
        if (!s->opened) {
            // The head ends with an empty line; the ": hello" comment follows.
            size_t keep = s->tail_len + n < sizeof s->tail ? (size_t)n : sizeof s->tail - 1;
            char joined[sizeof s->tail + sizeof buf];
            memcpy(joined, s->tail, s->tail_len);
            memcpy(joined + s->tail_len, buf, n);
            size_t total = s->tail_len + n;
            joined[total] = 0;
            if (memmem(joined, total, "\r\n\r\n", 4)) {
                s->opened = 1;
                s->tail_len = 0;
            } else {
                memcpy(s->tail, joined + total - keep, keep);
                s->tail_len = keep;
            }
            continue;
        }
        if (!marker || s->kernel_ns) continue;
        char joined[sizeof s->tail + sizeof buf];
        memcpy(joined, s->tail, s->tail_len);
        memcpy(joined + s->tail_len, buf, n);
        size_t total = s->tail_len + n;
        if (memmem(joined, total, marker, strlen(marker))) {
            s->user_ns = now_realtime();
            s->kernel_ns = s->user_ns;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
                    struct timespec t;
                    memcpy(&t, CMSG_DATA(c), sizeof t);
                    s->kernel_ns = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
                }
            }
        } else {
            size_t keep = total < sizeof s->tail ? total : sizeof s->tail;
            memcpy(s->tail, joined + total - keep, keep);
            s->tail_len = keep;
        }
    }
}

// Sends the POST /publish; returns its socket, whose answer is read once the deliveries are
// counted, so that reading it cannot delay them.
static int publish(int port, const char *marker) {
    int fd = connect_to(port, 0);
    char request[256];
    int n = snprintf(request, sizeof request,
                     "POST /publish HTTP/1.1\r\nHost: bench\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     strlen(marker), marker);
    if (write(fd, request, n) != n) die("write");
    return fd;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s PORT CLIENTS\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]), count = atoi(argv[2]);
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);

    Stream *streams = calloc(count, sizeof *streams);
    int ep = epoll_create1(0);
    const char *get = "GET /sse HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n";
    int opened = 0;
    time_t deadline = time(NULL) + 60;
    struct epoll_event events[1024];
    for (int start = 0; start < count; start += 500) {
        int end = start + 500 < count ? start + 500 : count;
        for (int i = start; i < end; i++) {
            Stream *s = &streams[i];
            s->fd = connect_to(port, 0);
            int on = 1;
            setsockopt(s->fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
            if (write(s->fd, get, strlen(get)) != (ssize_t)strlen(get)) die("write");
            fcntl(s->fd, F_SETFL, O_NONBLOCK);
            struct epoll_event e = {.events = EPOLLIN, .data.ptr = s};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &e) < 0) die("epoll_ctl");
        }
        while (opened < end) {
            if (time(NULL) > deadline) {
                fprintf(stderr, "only %d of %d streams opened in 60 s\n", opened, count);
                return 1;
            }
            int n = epoll_wait(ep, events, 1024, 1000);
            for (int i = 0; i < n; i++) {
                Stream *s = events[i].data.ptr;
                int was = s->opened;
                if (!read_stream(s, NULL)) {
                    fprintf(stderr, "a stream closed before its head\n");
                    return 1;
                }
                opened += s->opened && !was;
            }
        }
    }
    printf("ready\n");
    fflush(stdout);

    char line[64];
    while (fgets(line, sizeof line, stdin)) {
        if (strncmp(line, "close", 5) == 0) break;
        if (strncmp(line, "publish", 7) != 0) continue;
        char marker[48];
        snprintf(marker, sizeof marker, "bench-%lld", (long long)now_realtime());
        for (int i = 0; i < count; i++) streams[i].kernel_ns = streams[i].user_ns = 0, streams[i].tail_len = 0;
        // Whatever arrived before (heartbeats) is read first, so it cannot be mistaken for delay.
        for (int i = 0; i < count; i++) read_stream(&streams[i], NULL);
        int64_t began = now_realtime();
        int pfd = publish(port, marker);
        int delivered = 0, closed = 0;
        int64_t until = began + 60 * (int64_t)1000000000;
        while (delivered + closed < count && now_realtime() < until) {
            int n = epoll_wait(ep, events, 1024, 1000);
            for (int i = 0; i < n; i++) {
                Stream *s = events[i].data.ptr;
                int had = s->kernel_ns != 0;
                if (!read_stream(s, marker)) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
                    closed++;
                    continue;
                }
                delivered += s->kernel_ns != 0 && !had;
            }
        }
        // The publisher's answer: the number of subscribers it queued the event for.
        char answer[512] = "";
        size_t got = 0;
        struct timeval wait = {5, 0};
        setsockopt(pfd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
        for (ssize_t n; got < sizeof answer - 1 && (n = read(pfd, answer + got, sizeof answer - 1 - got)) > 0;) got += n;
        answer[got] = 0;
        close(pfd);
        char *body = strstr(answer, "\r\n\r\n");
        body = body ? body + 4 : "?";
        body[strcspn(body, "\r\n")] = 0;

        int64_t *kernel = malloc(sizeof(int64_t) * (delivered ? delivered : 1));
        int64_t *user = malloc(sizeof(int64_t) * (delivered ? delivered : 1));
        int k = 0;
        for (int i = 0; i < count; i++) {
            if (!streams[i].kernel_ns) continue;
            kernel[k] = streams[i].kernel_ns - began;
            user[k] = streams[i].user_ns - began;
            k++;
        }
        if (k == 0) {
            printf("delivered 0 of %d publish %s\n", count, body);
        } else {
            qsort(kernel, k, sizeof *kernel, compare);
            qsort(user, k, sizeof *user, compare);
            printf("delivered %d of %d kernel %.1f %.1f %.1f user %.1f %.1f %.1f publish %s\n", k, count,
                   pick(kernel, k, 0.5), pick(kernel, k, 0.99), kernel[k - 1] / 1e6,
                   pick(user, k, 0.5), pick(user, k, 0.99), user[k - 1] / 1e6, body);
        }
        fflush(stdout);
        free(kernel);
        free(user);
    }
    for (int i = 0; i < count; i++) close(streams[i].fd);
    printf("closed\n");
    fflush(stdout);
    return 0;
}
