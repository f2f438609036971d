/*
 * loadgen: a single-threaded epoll WebSocket load generator for the fiberws benchmarks.
 *
 *   loadgen --port N [--host 127.0.0.1] [--path /echo] [--mode echo|handshake|idle|receive]
 *           [--conns N] [--size BYTES] [--inflight K] [--duration S] [--warmup S] [--binary]
 *           [--connect-concurrency N] [--connect-timeout S] [--eof-timeout S] [--trigger TEXT]
 *
 * Every connection does a real client handshake (random 16-byte Sec-WebSocket-Key, Sec-WebSocket-Accept checked),
 * sends masked frames (a fresh random mask per frame) and verifies every echoed message byte for byte: message
 * `seq` of a connection carries seq in its first bytes (8 little-endian bytes, or 16 hex digits for text) followed
 * by a pseudo-random pattern at an offset derived from seq, so length, order and content are all checked.
 * A mismatch, a protocol error, an unexpected close/EOF or a timeout makes the run fail (exit status 1).
 * After the close handshake the client waits --eof-timeout seconds (default 3) for the server to close TCP; if it
 * does not, the client closes itself and counts it (eof_timeouts=), which is reported but is not an error.
 *
 * Modes
 *   echo       conns connections, each keeping `inflight` messages of `size` bytes in flight (1 = ping-pong);
 *              latency = time from queueing a message to receiving its complete echo.
 *   handshake  conns concurrent clients, each repeatedly: connect, handshake, one message, echo, close frame,
 *              server close frame + EOF. msgs = completed cycles; latency = the whole cycle.
 *   idle       open conns connections, print "READY conns=N" to stdout, hold them for --duration seconds,
 *              then check each one with a single echo and close it (the runner samples the server's RSS).
 *   receive    open conns connections that only read; every message must be `size` bytes (when size > 0) and,
 *              when it is at least 8 bytes, follow the broadcast format: 8-byte little-endian seq, then byte i is
 *              (seq + i) & 0xff; seq must increase per connection (gaps are counted as `gaps`). After READY,
 *              --trigger TEXT (optional) is sent as a text message on connection 0.
 *
 * Output: one line on stdout,
 *   RESULT mode=echo conns=64 size=32 inflight=1 binary=0 secs=5.000 msgs=... msgs_per_s=... mb_per_s=...
 *          p50_us=... p99_us=... p999_us=... max_us=... errors=0 lg_cpu=0.42 eof_timeouts=0 lg_cpu_s=... connect_ms=...
 * mb_per_s counts payload bytes echoed per second in one direction (10^6 bytes); lg_cpu is the load generator's
 * own CPU time divided by the measured wall time (close to 1.0 means the generator, not the server, is the limit);
 * lg_cpu_s is its total CPU time for the whole run.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- options */
enum { M_ECHO, M_HANDSHAKE, M_IDLE, M_RECEIVE };
static const char* mode_names[] = {"echo", "handshake", "idle", "receive"};
static const char* opt_host = "127.0.0.1";
static int opt_port = 0;
static const char* opt_path = "/echo";
static int opt_mode = M_ECHO;
static int opt_conns = 1;
static size_t opt_size = 32;
static int opt_inflight = 1;
static double opt_duration = 5, opt_warmup = 1;
static int opt_binary = 0;
static int opt_conc = 256;
static double opt_connect_timeout = 15;
static const char* opt_trigger = NULL;
static double opt_eof_timeout = 3;

/* ---------------------------------------------------------------- small helpers */
static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t rng_state;
static uint64_t rnd(void)
{ /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* SHA-1 (only for Sec-WebSocket-Accept). */
static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }
static void sha1(const uint8_t* msg, size_t len, uint8_t out[20])
{
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    size_t total = ((len + 8) / 64 + 1) * 64;
    uint8_t buf[256];
    if (total > sizeof buf) abort();
    memset(buf, 0, total);
    memcpy(buf, msg, len);
    buf[len] = 0x80;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++) buf[total - 1 - i] = (uint8_t)(bits >> (8 * i));
    for (size_t off = 0; off < total; off += 64) {
        uint32_t w[80];
        for (int i = 0; i < 16; i++)
            w[i] = (uint32_t)buf[off + 4 * i] << 24 | (uint32_t)buf[off + 4 * i + 1] << 16 |
                   (uint32_t)buf[off + 4 * i + 2] << 8 | buf[off + 4 * i + 3];
        for (int i = 16; i < 80; i++) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; i++) {
            uint32_t f, k;
            if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999; }
            else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1; }
            else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC; }
            else { f = b ^ c ^ d; k = 0xCA62C1D6; }
            uint32_t t = rol(a, 5) + f + e + k + w[i];
            e = d; d = c; c = rol(b, 30); b = a; a = t;
        }
        h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
    }
    for (int i = 0; i < 5; i++) {
        out[4 * i] = h[i] >> 24; out[4 * i + 1] = h[i] >> 16; out[4 * i + 2] = h[i] >> 8; out[4 * i + 3] = h[i];
    }
}

static void base64(const uint8_t* in, size_t len, char* out)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < len ? in[i + 2] : 0);
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? tbl[v & 63] : '=';
    }
    out[o] = 0;
}

/* ---------------------------------------------------------------- latency histogram (log-linear, ~0.1%) */
#define H_BUCKETS (2048 + 30 * 1024)
static uint64_t hist[H_BUCKETS];
static int h_index(uint64_t v)
{
    if (v < 2048) return (int)v;
    if (v >= (1ULL << 40)) v = (1ULL << 40) - 1;
    int e = 63 - __builtin_clzll(v); /* >= 11 */
    return 2048 + (e - 11) * 1024 + (int)((v >> (e - 10)) - 1024);
}
static uint64_t h_value(int idx)
{
    if (idx < 2048) return (uint64_t)idx;
    int e = 11 + (idx - 2048) / 1024;
    uint64_t m = 1024 + (uint64_t)((idx - 2048) % 1024);
    return m << (e - 10);
}
static uint64_t h_pct(uint64_t count, double p)
{
    if (count == 0) return 0;
    uint64_t want = (uint64_t)(p * (double)count + 0.999999);
    if (want < 1) want = 1;
    uint64_t acc = 0;
    for (int i = 0; i < H_BUCKETS; i++) {
        acc += hist[i];
        if (acc >= want) return h_value(i);
    }
    return h_value(H_BUCKETS - 1);
}

/* ---------------------------------------------------------------- connections */
enum { ST_FREE, ST_CONNECTING, ST_HS, ST_OPEN, ST_CLOSING, ST_WAIT_EOF, ST_DONE };

typedef struct {
    int fd, state, idx;
    uint32_t gen;
    int64_t deadline;      /* connect/handshake/close deadline (ns), 0 = none */
    int64_t cycle_start;   /* handshake mode */
    char accept[32];       /* expected Sec-WebSocket-Accept */
    char* hs;              /* handshake response being collected */
    size_t hs_len;
    uint8_t* out;          /* pending output */
    size_t out_off, out_len, out_cap;
    /* frame parser */
    uint8_t hdr[14];
    int hlen, in_frame, f_op, f_fin;
    uint64_t f_rem;
    uint8_t ctl[125];
    int ctl_len;
    int in_msg, msg_op;
    uint64_t msg_off;
    uint8_t exp_hdr[16];
    /* messages */
    uint64_t send_seq, recv_seq;
    int64_t* send_ts;      /* ring of opt_inflight timestamps */
    int budget;            /* messages this connection may still start (-1 = unlimited) */
    int64_t last_bseq;     /* receive mode */
    int want_out;          /* EPOLLOUT is in the interest set */
    int rd_pending;        /* read budget ran out before EAGAIN: on the pending list */
} conn;

static conn* conns;
static int ep;
static struct sockaddr_in srv;
static char host_hdr[128];
static uint8_t* pat;       /* pattern table, opt_size + 256 bytes */
static uint8_t* rbuf;      /* shared read buffer */
#define RBUF 262144
static int send_opcode;

/* global phases */
enum { P_CONNECT, P_WARMUP, P_MEASURE, P_HOLD, P_CLOSE, P_EXIT };
static int phase;
static int64_t t_phase_end, t_meas_start, t_meas_end, t_close_deadline;
static double cpu_meas_start, cpu_meas;
static uint64_t n_msgs, n_bytes, n_gaps, n_eof_timeouts;
static double connect_ms;
static int n_open, n_live, n_pending_connect, next_to_open;
static uint64_t errors;
static int failed;

static void fail_conn(conn* c, const char* fmt, ...)
{
    errors++;
    failed = 1;
    if (errors <= 10) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "loadgen: conn %d: ", c ? c->idx : -1);
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
    }
}

static void out_reserve(conn* c, size_t n)
{
    if (c->out_off == c->out_len) c->out_off = c->out_len = 0;
    if (c->out_len + n <= c->out_cap) return;
    if (c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
        if (c->out_len + n <= c->out_cap) return;
    }
    size_t cap = c->out_cap ? c->out_cap : 256;
    while (cap < c->out_len + n) cap *= 2;
    c->out = realloc(c->out, cap);
    if (!c->out) { perror("realloc"); exit(1); }
    c->out_cap = cap;
}

static void mask_bytes(uint8_t* p, size_t n, uint32_t mask)
{
    uint64_t m64 = (uint64_t)mask | (uint64_t)mask << 32;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        v ^= m64;
        memcpy(p + i, &v, 8);
    }
    const uint8_t* mb = (const uint8_t*)&mask;
    for (; i < n; i++) p[i] ^= mb[i & 3];
}

/* Appends one masked frame; payload is copied from `data` or, when data is NULL, generated for message `seq`. */
static void queue_frame(conn* c, int opcode, const uint8_t* data, size_t n, uint64_t seq, int gen)
{
    out_reserve(c, n + 14);
    uint8_t* p = c->out + c->out_len;
    size_t h = 0;
    p[h++] = 0x80 | opcode;
    if (n < 126) p[h++] = 0x80 | (uint8_t)n;
    else if (n < 65536) { p[h++] = 0x80 | 126; p[h++] = n >> 8; p[h++] = n & 255; }
    else { p[h++] = 0x80 | 127; for (int i = 7; i >= 0; i--) p[h++] = (uint8_t)(n >> (8 * i)); }
    uint32_t mask = (uint32_t)rnd();
    memcpy(p + h, &mask, 4);
    h += 4;
    uint8_t* pl = p + h;
    if (gen) {
        size_t off = (size_t)((seq * 131) & 255);
        memcpy(pl, pat + off, n);
        if (opt_binary) {
            for (size_t i = 0; i < n && i < 8; i++) pl[i] = (uint8_t)(seq >> (8 * i));
        } else {
            for (size_t i = 0; i < n && i < 16; i++) pl[i] = "0123456789abcdef"[(seq >> (4 * i)) & 15];
        }
    } else if (n) {
        memcpy(pl, data, n);
    }
    mask_bytes(pl, n, mask);
    c->out_len += h + n;
}

static void expected_header(conn* c)
{
    uint64_t seq = c->recv_seq;
    if (opt_binary) for (int i = 0; i < 8; i++) c->exp_hdr[i] = (uint8_t)(seq >> (8 * i));
    else for (int i = 0; i < 16; i++) c->exp_hdr[i] = "0123456789abcdef"[(seq >> (4 * i)) & 15];
}

static void send_message(conn* c, int64_t now)
{
    c->send_ts[c->send_seq % (uint64_t)opt_inflight] = now;
    queue_frame(c, send_opcode, NULL, opt_size, c->send_seq, 1);
    c->send_seq++;
    if (c->budget > 0) c->budget--;
}

static void close_fd(conn* c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    if (c->state == ST_CONNECTING || c->state == ST_HS) n_pending_connect--;
    if (c->state == ST_OPEN || c->state == ST_CLOSING || c->state == ST_WAIT_EOF) n_open--;
    if (c->state != ST_FREE && c->state != ST_DONE) n_live--;
    c->state = ST_DONE;
    c->deadline = 0;
    free(c->hs);
    c->hs = NULL;
    c->out_off = c->out_len = 0;
}

/* EPOLLOUT is only in the interest set while output is blocked (and while connecting), so that small ping-pong
   traffic does not wake the loop once more per message. */
static void set_want_out(conn* c, int on)
{
    if (c->want_out == on || c->fd < 0) return;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET | EPOLLRDHUP | (on ? EPOLLOUT : 0),
                             .data.u64 = (uint64_t)c->idx | (uint64_t)c->gen << 32};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == 0) c->want_out = on;
}

static void flush(conn* c)
{
    while (c->fd >= 0 && c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) { c->out_off += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) { set_want_out(c, 1); return; }
        fail_conn(c, "send: %s", n < 0 ? strerror(errno) : "0");
        close_fd(c);
        return;
    }
}

static void start_close(conn* c, int64_t now)
{
    if (c->state != ST_OPEN) return;
    static const uint8_t code[2] = {0x03, 0xE8}; /* 1000 */
    queue_frame(c, 8, code, 2, 0, 0);
    c->state = ST_CLOSING;
    c->deadline = now + (opt_mode == M_IDLE ? 20000000000LL : 5000000000LL);
}

static int open_conn(conn* c, int64_t now)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) { fail_conn(c, "socket: %s", strerror(errno)); return -1; }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->gen++;
    c->state = ST_CONNECTING;
    n_live++;
    n_pending_connect++;
    c->deadline = now + (int64_t)(opt_connect_timeout * 1e9);
    c->cycle_start = now;
    c->hlen = c->in_frame = c->in_msg = 0;
    c->send_seq = c->recv_seq = 0;
    c->out_off = c->out_len = 0;
    c->last_bseq = -1;
    /* handshake request */
    uint8_t key[16];
    for (int i = 0; i < 16; i += 8) { uint64_t r = rnd(); memcpy(key + i, &r, 8); }
    char key64[32];
    base64(key, 16, key64);
    char cat[64 + 36 + 1];
    snprintf(cat, sizeof cat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key64);
    uint8_t dig[20];
    sha1((const uint8_t*)cat, strlen(cat), dig);
    base64(dig, 20, c->accept);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     opt_path, host_hdr, key64);
    out_reserve(c, (size_t)n);
    memcpy(c->out + c->out_len, req, (size_t)n);
    c->out_len += (size_t)n;
    if (connect(fd, (struct sockaddr*)&srv, sizeof srv) < 0 && errno != EINPROGRESS) {
        fail_conn(c, "connect: %s", strerror(errno));
        close_fd(c);
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP,
                             .data.u64 = (uint64_t)c->idx | (uint64_t)c->gen << 32};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) { fail_conn(c, "epoll_ctl: %s", strerror(errno)); close_fd(c); return -1; }
    c->want_out = 1;
    return 0;
}

static int header_has(const char* hs, const char* name, const char* token)
{
    /* case-insensitive: some line "name: ...token..." */
    size_t nl = strlen(name);
    for (const char* p = hs; (p = strstr(p, "\r\n")) != NULL;) {
        p += 2;
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char* v = p + nl + 1;
            const char* e = strstr(v, "\r\n");
            if (!e) return 0;
            size_t tl = strlen(token);
            for (const char* q = v; q + tl <= e; q++)
                if (strncasecmp(q, token, tl) == 0) return 1;
        }
    }
    return 0;
}

static void on_open(conn* c, int64_t now);
static void on_message(conn* c, int64_t now);
static void process_frames(conn* c, const uint8_t* d, size_t n, int64_t now);

/* returns bytes of `d` consumed by the handshake (the rest are frames) or -1 */
static long handshake_bytes(conn* c, const uint8_t* d, size_t n, int64_t now)
{
    if (!c->hs) { c->hs = malloc(8193); c->hs_len = 0; }
    size_t room = 8192 - c->hs_len;
    size_t take = n < room ? n : room;
    memcpy(c->hs + c->hs_len, d, take);
    size_t old = c->hs_len;
    c->hs_len += take;
    c->hs[c->hs_len] = 0;
    char* end = strstr(c->hs, "\r\n\r\n");
    if (!end) {
        if (c->hs_len >= 8192) { fail_conn(c, "handshake response too long"); return -1; }
        return (long)n;
    }
    size_t hdr_end = (size_t)(end - c->hs) + 4;
    end[2] = 0; /* keep the last header's CRLF */
    if (strncmp(c->hs, "HTTP/1.1 101", 12) != 0) {
        char* eol = strstr(c->hs, "\r\n");
        if (eol) *eol = 0;
        fail_conn(c, "handshake refused: %s", c->hs);
        return -1;
    }
    if (!header_has(c->hs, "upgrade", "websocket") || !header_has(c->hs, "connection", "upgrade")) {
        fail_conn(c, "handshake: missing Upgrade/Connection headers");
        return -1;
    }
    char want[64];
    snprintf(want, sizeof want, "%s", c->accept);
    int ok = 0;
    for (const char* p = c->hs; (p = strstr(p, "\r\n")) != NULL;) {
        p += 2;
        if (strncasecmp(p, "sec-websocket-accept:", 21) == 0) {
            const char* v = p + 21;
            while (*v == ' ' || *v == '\t') v++;
            size_t wl = strlen(want);
            if (strncmp(v, want, wl) == 0 && (v[wl] == '\r' || v[wl] == ' ' || v[wl] == '\t')) ok = 1;
        }
    }
    if (!ok) { fail_conn(c, "handshake: bad or missing Sec-WebSocket-Accept"); return -1; }
    if (header_has(c->hs, "sec-websocket-extensions", "deflate")) {
        fail_conn(c, "handshake: server negotiated an extension nobody asked for");
        return -1;
    }
    free(c->hs);
    c->hs = NULL;
    n_pending_connect--;
    n_open++;
    c->state = ST_OPEN;
    c->deadline = 0;
    on_open(c, now);
    return (long)(hdr_end - old);
}

static void verify_chunk(conn* c, const uint8_t* d, size_t n)
{
    uint64_t off = c->msg_off;
    if (off + n > opt_size) { fail_conn(c, "echo longer than %zu bytes", opt_size); return; }
    size_t hl = opt_binary ? 8 : 16;
    size_t i = 0;
    for (; i < n && off + i < hl; i++)
        if (d[i] != c->exp_hdr[off + i]) { fail_conn(c, "payload mismatch in message %llu at byte %llu", (unsigned long long)c->recv_seq, (unsigned long long)(off + i)); return; }
    if (i < n) {
        size_t poff = (size_t)((c->recv_seq * 131) & 255);
        if (memcmp(d + i, pat + poff + off + i, n - i) != 0) {
            fail_conn(c, "payload mismatch in message %llu (bytes %llu..%llu)", (unsigned long long)c->recv_seq,
                      (unsigned long long)(off + i), (unsigned long long)(off + n));
        }
    }
}

static void verify_broadcast(conn* c, const uint8_t* d, size_t n)
{
    /* receive mode: 8-byte LE seq, then (seq + i) & 0xff */
    for (size_t k = 0; k < n; k++) {
        uint64_t i = c->msg_off + k;
        if (i < 8) { c->exp_hdr[i] = d[k]; continue; }
        if (i == 8) {
            uint64_t s = 0;
            for (int b = 0; b < 8; b++) s |= (uint64_t)c->exp_hdr[b] << (8 * b);
            c->recv_seq = s;
        }
        if (d[k] != (uint8_t)(c->recv_seq + i)) { fail_conn(c, "broadcast payload mismatch at byte %llu", (unsigned long long)i); return; }
    }
}

static void on_message_complete(conn* c, int64_t now)
{
    if (opt_mode == M_RECEIVE) {
        if (opt_size && c->msg_off != opt_size) { fail_conn(c, "message of %llu bytes, expected %zu", (unsigned long long)c->msg_off, opt_size); return; }
        if (c->msg_off >= 8) {
            uint64_t s = 0;
            for (int b = 0; b < 8; b++) s |= (uint64_t)c->exp_hdr[b] << (8 * b);
            if (c->last_bseq >= 0 && s <= (uint64_t)c->last_bseq) { fail_conn(c, "broadcast seq went backwards"); return; }
            if (c->last_bseq >= 0 && s > (uint64_t)c->last_bseq + 1) n_gaps += s - (uint64_t)c->last_bseq - 1;
            c->last_bseq = (int64_t)s;
        }
        if (phase == P_MEASURE) { n_msgs++; n_bytes += c->msg_off; }
        return;
    }
    if (c->msg_off != opt_size) { fail_conn(c, "echo of %llu bytes, expected %zu", (unsigned long long)c->msg_off, opt_size); return; }
    int64_t lat = now - c->send_ts[c->recv_seq % (uint64_t)opt_inflight];
    c->recv_seq++;
    if (phase == P_MEASURE && opt_mode == M_ECHO) {
        n_msgs++;
        n_bytes += opt_size;
        hist[h_index((uint64_t)(lat / 1000))]++;
    }
    on_message(c, now);
}

static void handle_control(conn* c, int64_t now)
{
    if (c->f_op == 9) { /* ping -> pong */
        if (c->state == ST_OPEN) queue_frame(c, 10, c->ctl, (size_t)c->ctl_len, 0, 0);
    } else if (c->f_op == 8) {
        if (c->ctl_len == 1) { fail_conn(c, "close frame with a 1-byte payload"); return; }
        if (c->state == ST_CLOSING) {
            if (c->recv_seq != c->send_seq && opt_mode != M_RECEIVE) {
                fail_conn(c, "server closed with %llu echoes missing", (unsigned long long)(c->send_seq - c->recv_seq));
                return;
            }
            c->state = ST_WAIT_EOF;
            c->deadline = now + (int64_t)(opt_eof_timeout * 1e9);
        } else {
            int code = c->ctl_len >= 2 ? (c->ctl[0] << 8 | c->ctl[1]) : 0;
            fail_conn(c, "server sent close (code %d) unasked", code);
        }
    }
}

static void process_frames(conn* c, const uint8_t* d, size_t n, int64_t now)
{
    while (n > 0 && !failed) {
        if (!c->in_frame) {
            size_t need = 2;
            for (;;) {
                if (c->hlen >= 2) {
                    uint8_t l = c->hdr[1] & 127;
                    need = 2 + (l == 126 ? 2 : l == 127 ? 8 : 0) + ((c->hdr[1] & 0x80) ? 4 : 0);
                }
                if ((size_t)c->hlen >= need || n == 0) break;
                c->hdr[c->hlen++] = *d++;
                n--;
            }
            if ((size_t)c->hlen < need) return;
            uint8_t b0 = c->hdr[0], b1 = c->hdr[1];
            c->hlen = 0;
            if (c->state == ST_WAIT_EOF) { fail_conn(c, "data after the close frame"); return; }
            if (b0 & 0x70) { fail_conn(c, "RSV bits set (0x%02x)", b0); return; }
            if (b1 & 0x80) { fail_conn(c, "server frame is masked"); return; }
            uint64_t len = b1 & 127;
            if (len == 126) len = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
            else if (len == 127) { len = 0; for (int i = 0; i < 8; i++) len = len << 8 | c->hdr[2 + i]; }
            c->f_op = b0 & 15;
            c->f_fin = (b0 >> 7) & 1;
            c->f_rem = len;
            c->ctl_len = 0;
            if (c->f_op >= 8) {
                if (c->f_op != 8 && c->f_op != 9 && c->f_op != 10) { fail_conn(c, "reserved opcode %d", c->f_op); return; }
                if (!c->f_fin || len > 125) { fail_conn(c, "bad control frame"); return; }
            } else if (c->f_op == 0) {
                if (!c->in_msg) { fail_conn(c, "continuation without a message"); return; }
            } else if (c->f_op == 1 || c->f_op == 2) {
                if (c->in_msg) { fail_conn(c, "new message inside a fragmented one"); return; }
                if (opt_mode == M_RECEIVE) {
                    if (opt_binary && c->f_op != 2) { fail_conn(c, "expected binary messages"); return; }
                } else {
                    if (c->f_op != send_opcode) { fail_conn(c, "echo has opcode %d, sent %d", c->f_op, send_opcode); return; }
                    if (c->recv_seq >= c->send_seq) { fail_conn(c, "unexpected message (nothing in flight)"); return; }
                    expected_header(c);
                }
                c->in_msg = 1;
                c->msg_op = c->f_op;
                c->msg_off = 0;
            } else { fail_conn(c, "reserved opcode %d", c->f_op); return; }
            c->in_frame = 1;
        }
        size_t take = c->f_rem < n ? (size_t)c->f_rem : n;
        if (c->f_op >= 8) {
            memcpy(c->ctl + c->ctl_len, d, take);
            c->ctl_len += (int)take;
        } else if (take) {
            if (opt_mode == M_RECEIVE) {
                if (opt_size && c->msg_off + take > opt_size) { fail_conn(c, "message longer than %zu", opt_size); return; }
                if (opt_size >= 8) verify_broadcast(c, d, take);
            } else {
                verify_chunk(c, d, take);
            }
            if (failed) return;
            c->msg_off += take;
        }
        d += take;
        n -= take;
        c->f_rem -= take;
        if (c->f_rem == 0) {
            c->in_frame = 0;
            if (c->f_op >= 8) {
                handle_control(c, now);
            } else if (c->f_fin) {
                c->in_msg = 0;
                on_message_complete(c, now);
            }
            if (c->fd < 0) return;
        }
    }
}

static void cycle_done(conn* c, int64_t now);

/* Connections whose read budget ran out before recv said EAGAIN (edge-triggered: no new event will come). */
static int* pending;
static int n_pending;
#define READS_PER_EVENT 4

static void on_readable(conn* c, int64_t now, int hup)
{
    for (int reads = 0;; reads++) {
        if (c->fd < 0 || failed) return;
        if (reads == READS_PER_EVENT) {
            if (!c->rd_pending) { c->rd_pending = 1 + hup; pending[n_pending++] = c->idx; }
            return;
        }
        ssize_t n = recv(c->fd, rbuf, RBUF, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (errno == ECONNRESET && c->state == ST_WAIT_EOF) { cycle_done(c, now); return; }
            fail_conn(c, "recv: %s (state %d)", strerror(errno), c->state);
            close_fd(c);
            return;
        }
        if (n == 0) {
            if (c->state == ST_WAIT_EOF) { cycle_done(c, now); return; }
            fail_conn(c, "unexpected EOF (state %d, %llu echoes outstanding)", c->state,
                      (unsigned long long)(c->send_seq - c->recv_seq));
            close_fd(c);
            return;
        }
        const uint8_t* d = rbuf;
        size_t len = (size_t)n;
        if (c->state == ST_HS) {
            long used = handshake_bytes(c, d, len, now);
            if (used < 0) { close_fd(c); return; }
            d += used;
            len -= (size_t)used;
        } else if (c->state == ST_CONNECTING) {
            fail_conn(c, "data before the handshake");
            close_fd(c);
            return;
        }
        if (len) process_frames(c, d, len, now);
        if (failed) return;
        if (c->fd >= 0) flush(c);
        /* A short read means the socket is drained (edge-triggered), unless the peer's FIN was already queued
           behind the data when epoll reported it: then read on until recv returns 0. */
        if (n < RBUF && !hup) return;
    }
}

static void cycle_done(conn* c, int64_t now)
{
    int was_cycle = (opt_mode == M_HANDSHAKE);
    close_fd(c);
    if (was_cycle) {
        if (phase == P_MEASURE) {
            n_msgs++;
            hist[h_index((uint64_t)((now - c->cycle_start) / 1000))]++;
        }
        if (phase == P_WARMUP || phase == P_MEASURE) open_conn(c, now);
    }
}

static void on_open(conn* c, int64_t now)
{
    if (opt_mode == M_ECHO && phase != P_CONNECT) {
        for (int i = 0; i < opt_inflight; i++) send_message(c, now);
    } else if (opt_mode == M_HANDSHAKE) {
        c->budget = 1;
        send_message(c, now);
    }
}

static void on_message(conn* c, int64_t now)
{
    if (c->state != ST_OPEN) return;
    if (opt_mode == M_ECHO) {
        if (phase == P_WARMUP || phase == P_MEASURE) send_message(c, now);
    } else if (opt_mode == M_HANDSHAKE || opt_mode == M_IDLE) {
        if (c->recv_seq == c->send_seq) start_close(c, now);
    }
}

static void on_writable(conn* c, int64_t now)
{
    if (c->state == ST_CONNECTING) {
        int err = 0;
        socklen_t sl = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
        if (err) { fail_conn(c, "connect: %s", strerror(err)); close_fd(c); return; }
        c->state = ST_HS;
    }
    flush(c);
    if (c->fd >= 0 && c->state != ST_HS && c->out_off == c->out_len) set_want_out(c, 0);
    (void)now;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen --port N [--host 127.0.0.1] [--path /echo] [--mode echo|handshake|idle|receive]\n"
            "               [--conns N] [--size BYTES] [--inflight K] [--duration S] [--warmup S] [--binary]\n"
            "               [--connect-concurrency N] [--connect-timeout S] [--eof-timeout S] [--trigger TEXT]\n");
    exit(2);
}

static void watchdog(int sig)
{
    (void)sig;
    static const char m[] = "loadgen: watchdog expired\n";
    ssize_t r = write(2, m, sizeof m - 1);
    (void)r;
    _exit(1);
}

int main(int argc, char** argv)
{
    for (int i = 1; i < argc; i++) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && v && (i++, 1))
        if (ARG("--host")) opt_host = v;
        else if (ARG("--port")) opt_port = atoi(v);
        else if (ARG("--path")) opt_path = v;
        else if (ARG("--conns")) opt_conns = atoi(v);
        else if (ARG("--size")) opt_size = (size_t)strtoull(v, NULL, 10);
        else if (ARG("--inflight")) opt_inflight = atoi(v);
        else if (ARG("--duration")) opt_duration = atof(v);
        else if (ARG("--warmup")) opt_warmup = atof(v);
        else if (ARG("--connect-concurrency")) opt_conc = atoi(v);
        else if (ARG("--connect-timeout")) opt_connect_timeout = atof(v);
        else if (ARG("--trigger")) opt_trigger = v;
        else if (ARG("--eof-timeout")) opt_eof_timeout = atof(v);
        else if (ARG("--mode")) {
            int m = -1;
            for (int k = 0; k < 4; k++) if (strcmp(v, mode_names[k]) == 0) m = k;
            if (m < 0) usage();
            opt_mode = m;
        } else if (strcmp(a, "--binary") == 0) opt_binary = 1;
        else usage();
#undef ARG
    }
    if (opt_port <= 0 || opt_conns <= 0 || opt_inflight <= 0 || opt_duration <= 0 || opt_warmup < 0 || opt_conc <= 0) usage();
    if (opt_mode != M_ECHO) opt_inflight = 1;
    if (opt_mode == M_IDLE && opt_size == 0) opt_size = 1;
    send_opcode = opt_binary ? 2 : 1;
    signal(SIGPIPE, SIG_IGN);

    /* file descriptors: the hard limit */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)opt_conns + 16)
        fprintf(stderr, "loadgen: warning: RLIMIT_NOFILE %llu is below conns + 16\n", (unsigned long long)rl.rlim_cur);

    /* a watchdog so that nothing can hang forever */
    signal(SIGALRM, watchdog);
    alarm((unsigned)(opt_connect_timeout + opt_warmup + opt_duration + 60));

    uint64_t seed = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32);
    int ufd = open("/dev/urandom", O_RDONLY);
    if (ufd >= 0) { if (read(ufd, &seed, sizeof seed) != (ssize_t)sizeof seed) seed ^= 0x9E3779B97F4A7C15ULL; close(ufd); }
    rng_state = seed | 1;

    memset(&srv, 0, sizeof srv);
    srv.sin_family = AF_INET;
    srv.sin_port = htons((uint16_t)opt_port);
    if (inet_pton(AF_INET, opt_host, &srv.sin_addr) != 1) { fprintf(stderr, "loadgen: --host must be an IPv4 address\n"); return 2; }
    snprintf(host_hdr, sizeof host_hdr, "%s:%d", opt_host, opt_port);

    pat = malloc(opt_size + 256 + 16);
    for (size_t i = 0; i < opt_size + 256 + 16; i++) {
        uint64_t r = rnd();
        pat[i] = opt_binary ? (uint8_t)(r >> 24) : (uint8_t)(0x20 + (r >> 24) % 95);
    }
    rbuf = malloc(RBUF);
    conns = calloc((size_t)opt_conns, sizeof(conn));
    int64_t* ts = calloc((size_t)opt_conns * (size_t)opt_inflight, sizeof(int64_t));
    if (!pat || !rbuf || !conns || !ts) { fprintf(stderr, "loadgen: out of memory\n"); return 1; }
    for (int i = 0; i < opt_conns; i++) {
        conns[i].fd = -1;
        conns[i].idx = i;
        conns[i].send_ts = ts + (size_t)i * (size_t)opt_inflight;
        conns[i].budget = -1;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    pending = malloc(sizeof(int) * (size_t)opt_conns);

    int64_t t0 = now_ns();
    if (opt_mode == M_HANDSHAKE) {
        phase = P_WARMUP;
        t_phase_end = t0 + (int64_t)(opt_warmup * 1e9);
        if (opt_warmup == 0) { phase = P_MEASURE; t_meas_start = t0; cpu_meas_start = cpu_seconds(); t_phase_end = t0 + (int64_t)(opt_duration * 1e9); }
        for (int i = 0; i < opt_conns; i++) open_conn(&conns[i], t0);
    } else {
        phase = P_CONNECT;
        t_phase_end = t0 + (int64_t)(opt_connect_timeout * 1e9);
    }

    struct epoll_event evs[512];
    int64_t last_scan = t0;
    while (phase != P_EXIT && !failed) {
        int64_t now = now_ns();
        /* phase transitions */
        if (phase == P_CONNECT) {
            while (next_to_open < opt_conns && n_pending_connect < opt_conc && !failed)
                open_conn(&conns[next_to_open++], now);
            if (n_open == opt_conns) {
                connect_ms = (now - t0) / 1e6;
                if (opt_mode == M_IDLE || opt_mode == M_RECEIVE) {
                    printf("READY conns=%d connect_ms=%.1f\n", n_open, connect_ms);
                    fflush(stdout);
                }
                if (opt_mode == M_IDLE) {
                    phase = P_HOLD;
                    t_phase_end = now + (int64_t)(opt_duration * 1e9);
                } else {
                    if (opt_mode == M_RECEIVE && opt_trigger) {
                        queue_frame(&conns[0], 1, (const uint8_t*)opt_trigger, strlen(opt_trigger), 0, 0);
                        flush(&conns[0]);
                    }
                    phase = P_WARMUP;
                    t_phase_end = now + (int64_t)(opt_warmup * 1e9);
                    if (opt_mode == M_ECHO)
                        for (int i = 0; i < opt_conns; i++) { on_open(&conns[i], now); flush(&conns[i]); }
                }
            } else if (now >= t_phase_end) {
                fail_conn(NULL, "only %d of %d connections opened within %.0f s", n_open, opt_conns, opt_connect_timeout);
                break;
            }
        }
        if (phase == P_WARMUP && now >= t_phase_end) {
            phase = P_MEASURE;
            memset(hist, 0, sizeof hist);
            n_msgs = n_bytes = n_gaps = 0;
            t_meas_start = now;
            cpu_meas_start = cpu_seconds();
            t_phase_end = now + (int64_t)(opt_duration * 1e9);
        }
        if (phase == P_MEASURE && now >= t_phase_end) {
            t_meas_end = now;
            cpu_meas = cpu_seconds() - cpu_meas_start;
            phase = P_CLOSE;
            t_close_deadline = now + (int64_t)((6 + opt_eof_timeout) * 1e9);
            for (int i = 0; i < opt_conns; i++)
                if (conns[i].state == ST_OPEN) {
                    if (opt_mode != M_HANDSHAKE) { start_close(&conns[i], now); flush(&conns[i]); }
                }
        }
        if (phase == P_HOLD && now >= t_phase_end) {
            /* idle mode: check every connection with one echo, then close */
            phase = P_CLOSE;
            t_meas_start = t_meas_end = now;
            t_close_deadline = now + (int64_t)((25 + opt_eof_timeout) * 1e9);
            for (int i = 0; i < opt_conns; i++)
                if (conns[i].state == ST_OPEN) { conns[i].budget = 1; send_message(&conns[i], now); flush(&conns[i]); }
        }
        if (phase == P_CLOSE) {
            if (n_live == 0) { phase = P_EXIT; break; }
            if (now >= t_close_deadline) {
                fail_conn(NULL, "%d connections did not finish the close handshake in time", n_live);
                break;
            }
        }
        /* per-connection deadlines */
        if (now - last_scan > 100000000LL) {
            last_scan = now;
            for (int i = 0; i < opt_conns && !failed; i++) {
                conn* c = &conns[i];
                if (c->fd >= 0 && c->deadline && now > c->deadline) {
                    if (c->state == ST_WAIT_EOF) {
                        /* RFC 6455 7.1.1: the client may close once it waited a reasonable time for the server's TCP
                           close; counted (eof_timeouts=) but not an error: every echo was already verified */
                        n_eof_timeouts++;
                        cycle_done(c, now);
                        continue;
                    }
                    fail_conn(c, "timed out %s", c->state == ST_CONNECTING ? "connecting" : c->state == ST_HS ? "in the handshake"
                                                 : c->state == ST_CLOSING ? "waiting for the server's close frame" : "");
                    close_fd(c);
                }
            }
            if (failed) break;
        }
        int timeout = 10;
        if (phase == P_CONNECT && next_to_open < opt_conns && n_pending_connect < opt_conc) timeout = 0;
        if (n_pending) timeout = 0;
        int n = epoll_wait(ep, evs, 512, timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            return 1;
        }
        for (int k = 0; k < n && !failed; k++) {
            uint32_t idx = (uint32_t)evs[k].data.u64;
            uint32_t gen = (uint32_t)(evs[k].data.u64 >> 32);
            conn* c = &conns[idx];
            if (c->gen != gen || c->fd < 0) continue;
            int64_t t = now_ns();
            uint32_t e = evs[k].events;
            if (e & (EPOLLOUT | EPOLLERR)) on_writable(c, t);
            if (c->fd >= 0 && !c->rd_pending && (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
                on_readable(c, t, (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
        }
        /* then give every connection with unread data another turn (round robin, so that no connection starves) */
        int np = n_pending;
        for (int k = 0; k < np && !failed; k++) {
            conn* c = &conns[pending[k]];
            int hup = c->rd_pending == 2;
            c->rd_pending = 0;
            if (c->fd >= 0) on_readable(c, now_ns(), hup);
        }
        if (np) {
            memmove(pending, pending + np, sizeof(int) * (size_t)(n_pending - np));
            n_pending -= np;
        }
    }

    int64_t tend = now_ns();
    if (t_meas_end == 0) { t_meas_end = tend; if (t_meas_start == 0) t_meas_start = t0; cpu_meas = cpu_seconds() - cpu_meas_start; }
    double secs = (t_meas_end - t_meas_start) / 1e9;
    if (secs <= 0) secs = 1e-9;
    double rate = n_msgs / secs;
    uint64_t lat_n = (opt_mode == M_ECHO || opt_mode == M_HANDSHAKE) ? n_msgs : 0; /* receive mode has no latency */
    if (opt_mode == M_IDLE) rate = 0;
    printf("RESULT mode=%s conns=%d size=%zu inflight=%d binary=%d secs=%.3f msgs=%llu msgs_per_s=%.1f mb_per_s=%.3f "
           "p50_us=%llu p99_us=%llu p999_us=%llu max_us=%llu errors=%llu lg_cpu=%.2f",
           mode_names[opt_mode], opt_conns, opt_size, opt_inflight, opt_binary, secs, (unsigned long long)n_msgs, rate,
           opt_mode == M_HANDSHAKE ? 0.0 : n_bytes / secs / 1e6, (unsigned long long)h_pct(lat_n, 0.50),
           (unsigned long long)h_pct(lat_n, 0.99), (unsigned long long)h_pct(lat_n, 0.999),
           (unsigned long long)h_pct(lat_n, 1.0), (unsigned long long)errors, secs > 1e-6 ? cpu_meas / secs : 0.0);
    printf(" eof_timeouts=%llu lg_cpu_s=%.3f", (unsigned long long)n_eof_timeouts, cpu_seconds());
    if (opt_mode != M_HANDSHAKE) printf(" connect_ms=%.1f", connect_ms);
    if (opt_mode == M_RECEIVE) printf(" gaps=%llu", (unsigned long long)n_gaps);
    printf("\n");
    fflush(stdout);
    return errors ? 1 : 0;
}
