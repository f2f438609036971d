/*
 * c-epoll: the harness ceiling for the fiberws benchmarks. A minimal, single-threaded, level-triggered epoll
 * WebSocket echo server in plain C: HTTP upgrade (SHA-1 + base64 below), unmask, echo every data frame as it came
 * (opcode and FIN kept, so fragments are echoed as fragments), ping -> pong, close -> close + TCP close. No UTF-8
 * validation, no extensions, no limits beyond 64 MiB per frame, no timeouts: it shows how fast this load generator
 * can go against a server that does almost nothing, not a usable server.
 *
 *   gcc -O2 -o c-epoll-echo bench/peers/c-epoll/echo.c
 *   c-epoll-echo [--addr 127.0.0.1:8080]      prints "listening on PORT" once it accepts connections
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FRAME (64u << 20)

/* ---------------------------------------------------------------- SHA-1 and base64, for Sec-WebSocket-Accept */
static uint32_t rotl(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1_block(uint32_t h[5], const uint8_t* p)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++) w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++) w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) { f = d ^ (b & (c ^ d)); k = 0x5A827999; }
        else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1; }
        else if (i < 60) { f = (b & c) | (d & (b | c)); k = 0x8F1BBCDC; }
        else { f = b ^ c ^ d; k = 0xCA62C1D6; }
        uint32_t t = rotl(a, 5) + f + e + k + w[i];
        e = d; d = c; c = rotl(b, 30); b = a; a = t;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

static void sha1(const uint8_t* m, size_t n, uint8_t out[20])
{
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    size_t i = 0;
    for (; i + 64 <= n; i += 64) sha1_block(h, m + i);
    uint8_t last[128] = {0};
    size_t r = n - i;
    memcpy(last, m + i, r);
    last[r] = 0x80;
    size_t tot = r + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)n * 8;
    for (int k = 0; k < 8; k++) last[tot - 1 - k] = (uint8_t)(bits >> (8 * k));
    sha1_block(h, last);
    if (tot == 128) sha1_block(h, last + 64);
    for (int k = 0; k < 5; k++) {
        out[4 * k] = (uint8_t)(h[k] >> 24); out[4 * k + 1] = (uint8_t)(h[k] >> 16);
        out[4 * k + 2] = (uint8_t)(h[k] >> 8); out[4 * k + 3] = (uint8_t)h[k];
    }
}

static void b64(const uint8_t* in, size_t n, char* out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = t[v >> 18]; out[o++] = t[(v >> 12) & 63]; out[o++] = t[(v >> 6) & 63]; out[o++] = t[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = t[v >> 18]; out[o++] = t[(v >> 12) & 63]; out[o++] = '='; out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = t[v >> 18]; out[o++] = t[(v >> 12) & 63]; out[o++] = t[(v >> 6) & 63]; out[o++] = '=';
    }
    out[o] = 0;
}

/* ---------------------------------------------------------------- connections */
typedef struct {
    int fd;
    int open;         /* handshake done */
    int closing;      /* close frame queued: close the socket once the output is flushed */
    int want_out;
    uint8_t* in;
    size_t in_len, in_cap;
    uint8_t* out;
    size_t out_off, out_len, out_cap;
} conn;

static int ep;

static void drop(conn* c)
{
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}

static int reserve(uint8_t** buf, size_t* cap, size_t need)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 16384;
    while (n < need) n *= 2;
    uint8_t* p = realloc(*buf, n);
    if (!p) return -1;
    *buf = p;
    *cap = n;
    return 0;
}

static uint8_t* out_append(conn* c, size_t n)
{
    if (c->out_off == c->out_len) c->out_off = c->out_len = 0;
    if (reserve(&c->out, &c->out_cap, c->out_len + n) < 0) return NULL;
    uint8_t* p = c->out + c->out_len;
    c->out_len += n;
    return p;
}

static void set_out(conn* c, int on)
{
    if (c->want_out == on) return;
    /* once closing, only the output matters (level-triggered: unread input would wake the loop forever) */
    struct epoll_event ev = {.events = (c->closing ? 0 : EPOLLIN) | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = on;
}

/* 0 = ok (maybe pending), -1 = drop the connection */
static int flush_out(conn* c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) { c->out_off += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) { set_out(c, 1); return 0; }
        return -1;
    }
    c->out_off = c->out_len = 0;
    set_out(c, 0);
    return c->closing ? -1 : 0;
}

static int handshake(conn* c)
{
    uint8_t* end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!end) return c->in_len > 16384 ? -1 : 0;
    size_t hlen = (size_t)(end - c->in) + 4;
    *end = 0;
    const char* key = NULL;
    size_t klen = 0;
    for (char* p = strstr((char*)c->in, "\r\n"); p; p = strstr(p, "\r\n")) {
        p += 2;
        if (strncasecmp(p, "sec-websocket-key:", 18) == 0) {
            key = p + 18;
            while (*key == ' ' || *key == '\t') key++;
            const char* e = key;
            while (*e && *e != '\r' && *e != ' ' && *e != '\t') e++;
            klen = (size_t)(e - key);
        }
    }
    if (strncmp((char*)c->in, "GET ", 4) != 0 || !key || klen == 0 || klen > 64) {
        static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        if (send(c->fd, bad, sizeof bad - 1, MSG_NOSIGNAL) < 0) { /* nothing to do */ }
        return -1;
    }
    char cat[128];
    memcpy(cat, key, klen);
    memcpy(cat + klen, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", 36);
    uint8_t dig[20];
    sha1((const uint8_t*)cat, klen + 36, dig);
    char acc[32];
    b64(dig, 20, acc);
    char resp[160];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n\r\n", acc);
    uint8_t* o = out_append(c, (size_t)n);
    if (!o) return -1;
    memcpy(o, resp, (size_t)n);
    memmove(c->in, c->in + hlen, c->in_len - hlen);
    c->in_len -= hlen;
    c->open = 1;
    return 1;
}

static void unmask(uint8_t* p, size_t n, const uint8_t k[4])
{
    uint32_t m;
    memcpy(&m, k, 4);
    uint64_t m64 = (uint64_t)m | (uint64_t)m << 32;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        v ^= m64;
        memcpy(p + i, &v, 8);
    }
    for (; i < n; i++) p[i] ^= k[i & 3];
}

/* Echoes every complete frame in the input buffer; -1 = drop the connection. */
static int frames(conn* c)
{
    size_t off = 0;
    while (!c->closing) {
        size_t avail = c->in_len - off;
        if (avail < 2) break;
        const uint8_t* h = c->in + off;
        int op = h[0] & 15;
        if (!(h[1] & 0x80) || (h[0] & 0x70)) return -1; /* clients mask; no extensions */
        uint64_t len = h[1] & 127;
        size_t hl = 2;
        if (len == 126) {
            if (avail < 4) break;
            len = (uint64_t)h[2] << 8 | h[3];
            hl = 4;
        } else if (len == 127) {
            if (avail < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = len << 8 | h[2 + i];
            hl = 10;
        }
        if (len > MAX_FRAME) return -1;
        if (avail < hl + 4 + len) {
            /* incomplete: make room for the whole frame */
            if (reserve(&c->in, &c->in_cap, (c->in_len - off) + hl + 4 + (size_t)len) < 0) return -1;
            break;
        }
        uint8_t* pl = c->in + off + hl + 4;
        unmask(pl, (size_t)len, c->in + off + hl);
        uint8_t b0 = h[0];
        if (op == 9) b0 = (uint8_t)(0x80 | 10);
        if (op != 10) { /* pongs are dropped */
            size_t ohl = len < 126 ? 2 : len < 65536 ? 4 : 10;
            uint8_t* o = out_append(c, ohl + (size_t)len);
            if (!o) return -1;
            o[0] = b0;
            if (len < 126) o[1] = (uint8_t)len;
            else if (len < 65536) { o[1] = 126; o[2] = (uint8_t)(len >> 8); o[3] = (uint8_t)len; }
            else { o[1] = 127; for (int i = 0; i < 8; i++) o[2 + i] = (uint8_t)(len >> (56 - 8 * i)); }
            memcpy(o + ohl, pl, (size_t)len);
        }
        if (op == 8) c->closing = 1;
        off += hl + 4 + (size_t)len;
    }
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    return 0;
}

static int on_readable(conn* c)
{
    for (;;) {
        if (c->in_cap - c->in_len < 4096 && reserve(&c->in, &c->in_cap, c->in_len + 65536) < 0) return -1;
        size_t room = c->in_cap - c->in_len;
        ssize_t n = recv(c->fd, c->in + c->in_len, room, 0);
        if (n == 0) return -1;
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            return -1;
        }
        c->in_len += (size_t)n;
        if (!c->open) {
            int r = handshake(c);
            if (r < 0) return -1;
            if (r == 0) continue;
        }
        if (frames(c) < 0) return -1;
        if (flush_out(c) < 0) return -1;
        if ((size_t)n < room || c->want_out) return 0; /* drained, or blocked on output (epoll reports the rest) */
    }
}

int main(int argc, char** argv)
{
    const char* addr = "127.0.0.1:8080";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--addr") == 0 && i + 1 < argc) addr = argv[++i];
        else { fprintf(stderr, "usage: c-epoll-echo [--addr HOST:PORT]\n"); return 2; }
    }
    char host[64];
    const char* colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof host) { fprintf(stderr, "c-epoll-echo: bad --addr\n"); return 2; }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (host[0] == 0) sa.sin_addr.s_addr = htonl(INADDR_ANY);
    else if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) { fprintf(stderr, "c-epoll-echo: bad host\n"); return 2; }
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ls < 0 || bind(ls, (struct sockaddr*)&sa, sizeof sa) < 0 || listen(ls, 4096) < 0) { perror("c-epoll-echo: listen"); return 1; }
    socklen_t sl = sizeof sa;
    getsockname(ls, (struct sockaddr*)&sa, &sl);
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev);
    printf("listening on %d\n", ntohs(sa.sin_port));
    fflush(stdout);
    struct epoll_event evs[512];
    for (;;) {
        int n = epoll_wait(ep, evs, 512, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            return 1;
        }
        for (int k = 0; k < n; k++) {
            conn* c = evs[k].data.ptr;
            if (!c) {
                for (;;) {
                    int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) break;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    conn* nc = calloc(1, sizeof *nc);
                    if (!nc) { close(fd); continue; }
                    nc->fd = fd;
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) { close(fd); free(nc); }
                }
                continue;
            }
            uint32_t e = evs[k].events;
            int rc = 0;
            if (e & EPOLLOUT) rc = flush_out(c);
            if (rc == 0 && (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->closing) rc = on_readable(c);
            if (rc < 0) drop(c);
        }
    }
}
