/*
 * loadgen: a single-threaded epoll WebSocket load generator for the fiberws benchmarks.
 *
 *   loadgen --port N [--host 127.0.0.1] [--path /echo] [--mode echo|handshake|idle|receive|soak]
 *           [--conns N] [--size BYTES] [--inflight K] [--duration S] [--warmup S] [--binary]
 *           [--connect-concurrency N] [--connect-timeout S] [--eof-timeout S] [--trigger TEXT]
 *           [--json] [--deflate] [--deflate-level N] [--idle-echo]
 *           [--publish-path PATH] [--publish-size BYTES] [--publish-window N]
 *           [--rate MSGS_PER_S] [--churn CONNS_PER_S] [--abort-pct P] [--fragment-pct P]
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
 *              --publish-path PATH adds one more connection, on PATH, that publishes binary messages of
 *              --publish-size bytes (default 128) in that format (seq 0, 1, 2, ...) from READY until the end of
 *              the measurement, as fast as the server delivers them: at most --publish-window (default 16)
 *              publishes are outstanding, counting a publish as delivered once every receiver has it (or skipped
 *              it: a gap). It must receive nothing. msgs = messages received over all receivers; the RESULT line
 *              adds published= and pub_per_s= (publishes during the measurement).
 *   soak       a long run with churn (issue 7): conns connections exchange echoed messages for --warmup + --duration
 *              seconds while --churn connections per second (default 0) are closed and reopened at random; at the
 *              end every connection completes the close handshake. Messages have random sizes (about 62% of
 *              0-125 bytes, 31% of 0-4096, 6% of 0-SIZE; --size is the largest, default 70000 so that all three
 *              frame length encodings occur), a random opcode (text or binary; the content is ASCII, so text is
 *              valid UTF-8) and --fragment-pct percent (default 10) are sent as 2-4 fragments (some empty). Every
 *              echo is verified byte for byte, in length, opcode and order, as in echo mode. --rate caps the total
 *              message rate (messages are sent in round robin as tokens allow; 0 = unlimited: every connection
 *              keeps --inflight messages in flight). Of the churned connections, --abort-pct percent (default 25)
 *              are dropped without a close frame (half of those with a TCP RST, half with FIN) and reopened at
 *              once; the others send a close frame, must get every outstanding echo and the server's close frame
 *              back, and are reopened after the server closes TCP.
 *              Errors do not stop the run: an error closes and reopens that connection and is counted; the exit
 *              status is 1 when errors > 0 (more than 1000 errors, or a global failure, stop it at once).
 *              The RESULT line adds opened= (handshakes completed), churn_closed=, churn_aborted=, fragmented=,
 *              msgs_total= and bytes_total= (echoes verified over the whole run, both phases) and max_size=.
 *
 * Payload and compression
 *   --json        text messages that look like a JSON API response (an array of objects with repeated keys and
 *                 varying numbers), generated deterministically from seq and padded with spaces to --size; echoes
 *                 are compared byte for byte with what was sent.
 *   --deflate     offer "permessage-deflate; client_max_window_bits" and require the server to accept it; honour
 *                 what it answers (client_no_context_takeover, client_max_window_bits=N); compress every message
 *                 sent (raw deflate, --deflate-level, default zlib's 6, Z_SYNC_FLUSH, 00 00 FF FF stripped, RSV1)
 *                 and inflate every RSV1 message received (tail appended, one inflater per connection keeping its
 *                 context), verifying the inflated bytes. Every connection sends the same sequence of messages, so
 *                 message seq is compressed once (by one shared deflater that sees the same history as each
 *                 connection's stream) and its bytes are reused by every connection: the generator's cost per
 *                 message is an inflate, not a deflate. The RESULT line adds the negotiated parameters and
 *                 wire_ratio= (compressed ÷ inflated payload bytes received).
 *   --idle-echo   idle mode: every connection exchanges one message before READY (so the server's per-connection
 *                 compression state exists while the connections idle).
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
#include <zlib.h>

/* ---------------------------------------------------------------- options */
enum { M_ECHO, M_HANDSHAKE, M_IDLE, M_RECEIVE, M_SOAK, M_COUNT };
static const char* mode_names[] = {"echo", "handshake", "idle", "receive", "soak"};
static const char* opt_host = "127.0.0.1";
static int opt_port = 0;
static const char* opt_path = "/echo";
static int opt_mode = M_ECHO;
static int opt_conns = 1;
static size_t opt_size = 32;
static int opt_size_set = 0;
static int opt_inflight = 1;
static double opt_duration = 5, opt_warmup = 1;
static int opt_binary = 0;
static int opt_conc = 256;
static double opt_connect_timeout = 15;
static const char* opt_trigger = NULL;
static double opt_eof_timeout = 3;
static int opt_json = 0;
static int opt_deflate = 0;
static int opt_deflate_level = Z_DEFAULT_COMPRESSION;
static int opt_idle_echo = 0;
static const char* opt_pub_path = NULL;
static size_t opt_pub_size = 128;
static int opt_pub_window = 16;
static double opt_rate = 0;       /* soak: total messages per second, 0 = unlimited */
static double opt_churn = 0;      /* soak: connections closed and reopened per second */
static int opt_abort_pct = 25;    /* soak: churned connections dropped without a close handshake */
static int opt_frag_pct = 10;     /* soak: messages sent fragmented */

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
    uint32_t* send_len;    /* soak: ring of opt_inflight message sizes */
    uint8_t* send_op;      /* soak: ring of opt_inflight opcodes */
    int budget;            /* messages this connection may still start (-1 = unlimited) */
    int64_t last_bseq;     /* receive mode */
    int want_out;          /* EPOLLOUT is in the interest set */
    int rd_pending;        /* read budget ran out before EAGAIN: on the pending list */
    int is_pub;            /* receive mode: the publisher connection (--publish-path) */
    int echoed_once;       /* idle mode with --idle-echo: the first echo arrived */
    /* permessage-deflate */
    int msg_comp;          /* the message being received is compressed (RSV1) */
    int z_ended;           /* inflate saw the end of a final block in this message */
    int zi_init;
    z_stream zi;           /* inflater, keeps its context across messages */
} conn;

static conn* conns;
static int ep;
static struct sockaddr_in srv;
static char host_hdr[128];
static uint8_t* pat;       /* pattern table, opt_size + 256 bytes */
static uint8_t* rbuf;      /* shared read buffer */
#define RBUF 262144
static int send_opcode;
static int n_total;        /* opt_conns, plus the publisher */

/* permessage-deflate, as negotiated (every connection must agree: they share the compressed messages) */
static int pmd_known, pmd_srv_noctx, pmd_cli_noctx, pmd_srv_bits = 15, pmd_cli_bits = 15;
static uint64_t n_wire_in, n_plain_in; /* compressed / inflated payload bytes received during the measurement */
static uint8_t zout[65536];

/* messages by seq, shared by all connections (--json or --deflate): plaintext and its compressed form */
typedef struct {
    uint64_t seq;
    uint8_t* plain;
    uint8_t* comp;
    size_t comp_len;
} ring_entry;
static ring_entry* ring;
static size_t ring_n;
static uint64_t ring_next;  /* the next seq to produce */
static z_stream zd;         /* the shared deflater */
static int zd_init;
static size_t comp_cap;

/* receive mode with a publisher */
static uint64_t pub_seq, pub_meas_start, pub_meas_end, n_deliv_all;
static int n_idle_echoed;

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
static conn* failed_conn;  /* soak: the connection whose error set `failed` (recovered by check_failed) */

/* soak mode */
static uint64_t n_opened, n_churn_closed, n_churn_aborted, n_frag, n_msgs_total, n_bytes_total;
static uint8_t* scratch;   /* one message, for fragmented sends */
static uint64_t* fifo;     /* rate-limited soak: connections (idx | gen << 32) waiting for a send token */
static size_t fifo_cap, fifo_head, fifo_len;
static double rate_tokens, churn_tokens;

static void fail_conn(conn* c, const char* fmt, ...)
{
    errors++;
    failed = 1;
    failed_conn = c;
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

/* Appends one masked frame whose first byte is b0; payload is copied from `data` or, when data is NULL, generated
   for message `seq`. */
static void queue_frame_b0(conn* c, uint8_t b0, const uint8_t* data, size_t n, uint64_t seq, int gen)
{
    out_reserve(c, n + 14);
    uint8_t* p = c->out + c->out_len;
    size_t h = 0;
    p[h++] = b0;
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

static void queue_frame(conn* c, int opcode, const uint8_t* data, size_t n, uint64_t seq, int gen)
{
    queue_frame_b0(c, (uint8_t)(0x80 | opcode), data, n, seq, gen);
}

/* ---------------------------------------------------------------- JSON-like payloads and the shared message ring */
static uint64_t splitmix(uint64_t* s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static size_t put_u64(char* p, uint64_t v)
{
    char t[20];
    size_t k = 0;
    do { t[k++] = (char)('0' + v % 10); v /= 10; } while (v);
    for (size_t i = 0; i < k; i++) p[i] = t[k - 1 - i];
    return k;
}

static size_t put_str(char* p, const char* s)
{
    size_t k = strlen(s);
    memcpy(p, s, k);
    return k;
}

/* An array of objects like an API response, exactly `size` bytes (padded with spaces before the closing bracket):
   [{"seq":7,"i":0,"user":"carol","id":4182931,"event":"purchase","price":73.05,"qty":3,"ok":true,"ts":1700003123},...] */
static void gen_json(uint8_t* out, size_t size, uint64_t seq)
{
    static const char* users[] = {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
                                  "ivan", "judy", "mallory", "niaj", "oscar", "peggy", "rupert", "sybil"};
    static const char* evs[] = {"view", "click", "purchase", "login", "logout", "scroll", "search", "share"};
    char* p = (char*)out;
    if (size < 2) { memset(out, ' ', size); return; }
    uint64_t st = seq * 0x2545F4914F6CDD1DULL + 12345;
    size_t n = 0;
    p[n++] = '[';
    for (uint64_t i = 0;; i++) {
        char o[192];
        size_t k = 0;
        uint64_t r = splitmix(&st), r2 = splitmix(&st);
        k += put_str(o + k, "{\"seq\":");
        k += put_u64(o + k, seq);
        k += put_str(o + k, ",\"i\":");
        k += put_u64(o + k, i);
        k += put_str(o + k, ",\"user\":\"");
        k += put_str(o + k, users[r & 15]);
        k += put_str(o + k, "\",\"id\":");
        k += put_u64(o + k, 1000000 + (r >> 8) % 9000000);
        k += put_str(o + k, ",\"event\":\"");
        k += put_str(o + k, evs[(r >> 4) & 7]);
        k += put_str(o + k, "\",\"price\":");
        k += put_u64(o + k, (r2 >> 20) % 200);
        o[k++] = '.';
        uint64_t cents = (r2 >> 40) % 100;
        o[k++] = (char)('0' + cents / 10);
        o[k++] = (char)('0' + cents % 10);
        k += put_str(o + k, ",\"qty\":");
        k += put_u64(o + k, 1 + (r2 & 7));
        k += put_str(o + k, (r2 >> 3) & 1 ? ",\"ok\":true" : ",\"ok\":false");
        k += put_str(o + k, ",\"ts\":");
        k += put_u64(o + k, 1700000000 + seq * 10 + i);
        o[k++] = '}';
        if (n + (i ? 1 : 0) + k + 1 > size) break;
        if (i) p[n++] = ',';
        memcpy(p + n, o, k);
        n += k;
    }
    while (n < size - 1) p[n++] = ' ';
    p[n] = ']';
}

/* The plaintext of message seq: JSON-like text (--json) or the usual header + pattern. */
static void gen_plain(uint8_t* pl, size_t n, uint64_t seq)
{
    if (opt_json) { gen_json(pl, n, seq); return; }
    size_t off = (size_t)((seq * 131) & 255);
    memcpy(pl, pat + off, n);
    if (opt_binary) {
        for (size_t i = 0; i < n && i < 8; i++) pl[i] = (uint8_t)(seq >> (8 * i));
    } else {
        for (size_t i = 0; i < n && i < 16; i++) pl[i] = "0123456789abcdef"[(seq >> (4 * i)) & 15];
    }
}

static void ring_produce(uint64_t seq)
{
    ring_entry* e = &ring[seq % ring_n];
    e->seq = seq;
    gen_plain(e->plain, opt_size, seq);
    if (!opt_deflate) return;
    if (!zd_init) {
        /* zlib cannot deflate raw streams with an 8-bit window (checked at the handshake) */
        if (deflateInit2(&zd, opt_deflate_level, Z_DEFLATED, -pmd_cli_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            fprintf(stderr, "loadgen: deflateInit2 failed\n");
            exit(1);
        }
        zd_init = 1;
    }
    zd.next_in = e->plain;
    zd.avail_in = (uInt)opt_size;
    zd.next_out = e->comp;
    zd.avail_out = (uInt)comp_cap;
    int r = deflate(&zd, Z_SYNC_FLUSH);
    size_t len = comp_cap - zd.avail_out;
    if (r != Z_OK || zd.avail_in != 0 || zd.avail_out == 0 || len < 4 || memcmp(e->comp + len - 4, "\0\0\xff\xff", 4) != 0) {
        fprintf(stderr, "loadgen: deflate failed (%d)\n", r);
        exit(1);
    }
    e->comp_len = len - 4;
    if (pmd_cli_noctx) deflateReset(&zd);
}

/* The ring entry of message seq, producing messages up to seq; NULL when seq fell out of the ring (a connection
   lagged more than ring_n messages behind the fastest one). */
static ring_entry* ring_get(uint64_t seq)
{
    while (ring_next <= seq) ring_produce(ring_next++);
    ring_entry* e = &ring[seq % ring_n];
    return e->seq == seq ? e : NULL;
}

static void expected_header(conn* c)
{
    uint64_t seq = c->recv_seq;
    if (opt_binary) for (int i = 0; i < 8; i++) c->exp_hdr[i] = (uint8_t)(seq >> (8 * i));
    else for (int i = 0; i < 16; i++) c->exp_hdr[i] = "0123456789abcdef"[(seq >> (4 * i)) & 15];
}

/* The length and opcode the echo of message recv_seq must have. */
static size_t expected_len(const conn* c)
{
    return opt_mode == M_SOAK ? c->send_len[c->recv_seq % (uint64_t)opt_inflight] : opt_size;
}

static int expected_op(const conn* c)
{
    return opt_mode == M_SOAK ? c->send_op[c->recv_seq % (uint64_t)opt_inflight] : send_opcode;
}

/* soak: a random message size, mostly small (see the header comment) */
static size_t soak_size(void)
{
    uint64_t r = rnd();
    unsigned cls = (unsigned)(r & 15);
    size_t lim = cls < 10 ? 125 : cls < 15 ? 4096 : opt_size;
    if (lim > opt_size) lim = opt_size;
    return (size_t)((r >> 8) % ((uint64_t)lim + 1));
}

static void gen_plain(uint8_t* pl, size_t n, uint64_t seq);

/* soak: a message of random size and opcode, sometimes fragmented */
static void send_soak_message(conn* c)
{
    uint64_t seq = c->send_seq;
    size_t n = soak_size();
    int op = (rnd() & 1) ? 2 : 1;
    c->send_len[seq % (uint64_t)opt_inflight] = (uint32_t)n;
    c->send_op[seq % (uint64_t)opt_inflight] = (uint8_t)op;
    if (opt_frag_pct > 0 && (int)(rnd() % 100) < opt_frag_pct) {
        gen_plain(scratch, n, seq);
        int pieces = 2 + (int)(rnd() % 3);
        size_t start = 0;
        for (int j = 0; j < pieces; j++) {
            size_t end = j == pieces - 1 ? n : start + (size_t)(rnd() % ((uint64_t)(n - start) + 1));
            uint8_t b0 = (uint8_t)((j == 0 ? op : 0) | (j == pieces - 1 ? 0x80 : 0));
            queue_frame_b0(c, b0, scratch + start, end - start, 0, 0);
            start = end;
        }
        n_frag++;
    } else {
        queue_frame(c, op, NULL, n, seq, 1);
    }
}

static void send_message(conn* c, int64_t now)
{
    c->send_ts[c->send_seq % (uint64_t)opt_inflight] = now;
    if (opt_mode == M_SOAK) {
        send_soak_message(c);
    } else if (ring) {
        ring_entry* e = ring_get(c->send_seq);
        if (!e) { fail_conn(c, "lagged more than %zu messages behind the others (message ring)", ring_n); return; }
        if (opt_deflate) queue_frame_b0(c, (uint8_t)(0xC0 | send_opcode), e->comp, e->comp_len, 0, 0);
        else queue_frame(c, send_opcode, e->plain, opt_size, 0, 0);
    } else {
        queue_frame(c, send_opcode, NULL, opt_size, c->send_seq, 1);
    }
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
    if (c->zi_init) { inflateEnd(&c->zi); c->zi_init = 0; }
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
    if (opt_mode == M_SOAK && c->out_cap > 16384 && c->out_off == c->out_len) {
        /* soak: give a large message's buffer back (thousands of connections would each keep one) */
        free(c->out);
        c->out = NULL;
        c->out_cap = c->out_off = c->out_len = 0;
    }
}

static void start_close(conn* c, int64_t now)
{
    if (c->state != ST_OPEN) return;
    static const uint8_t code[2] = {0x03, 0xE8}; /* 1000 */
    queue_frame(c, 8, code, 2, 0, 0);
    c->state = ST_CLOSING;
    c->deadline = now + (opt_mode == M_IDLE || opt_mode == M_SOAK ? 20000000000LL : 5000000000LL);
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
    c->msg_comp = c->z_ended = 0;
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
    char req[768];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                     c->is_pub ? opt_pub_path : opt_path, host_hdr, key64,
                     opt_deflate ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" : "");
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

/* Parses the server's Sec-WebSocket-Extensions answer to our permessage-deflate offer; 0 = ok. */
static int parse_pmd(conn* c, const char* hs)
{
    const char* v = NULL;
    for (const char* p = hs; (p = strstr(p, "\r\n")) != NULL;) {
        p += 2;
        if (strncasecmp(p, "sec-websocket-extensions:", 25) == 0) {
            if (v) { fail_conn(c, "handshake: more than one Sec-WebSocket-Extensions header"); return -1; }
            v = p + 25;
        }
    }
    if (!v) { fail_conn(c, "handshake: the server did not accept permessage-deflate"); return -1; }
    const char* e = strstr(v, "\r\n");
    char buf[512];
    size_t len = e ? (size_t)(e - v) : strlen(v);
    if (len >= sizeof buf) { fail_conn(c, "handshake: Sec-WebSocket-Extensions too long"); return -1; }
    memcpy(buf, v, len);
    buf[len] = 0;
    if (strchr(buf, ',')) { fail_conn(c, "handshake: more than one extension accepted: %s", buf); return -1; }
    int srv_noctx = 0, cli_noctx = 0, srv_bits = 15, cli_bits = 15, first = 1;
    char* save = NULL;
    for (char* tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save), first = 0) {
        while (*tok == ' ' || *tok == '\t') tok++;
        char* end = tok + strlen(tok);
        while (end > tok && (end[-1] == ' ' || end[-1] == '\t')) *--end = 0;
        char* val = strchr(tok, '=');
        if (val) {
            char* ke = val;
            while (ke > tok && (ke[-1] == ' ' || ke[-1] == '\t')) ke--;
            *ke = 0;
            val++;
            while (*val == ' ' || *val == '\t' || *val == '"') val++;
        }
        if (first) {
            if (strcasecmp(tok, "permessage-deflate") != 0 || val) { fail_conn(c, "handshake: extension '%s' accepted, not permessage-deflate", tok); return -1; }
        } else if (strcasecmp(tok, "server_no_context_takeover") == 0 && !val) srv_noctx = 1;
        else if (strcasecmp(tok, "client_no_context_takeover") == 0 && !val) cli_noctx = 1;
        else if (strcasecmp(tok, "server_max_window_bits") == 0 && val) srv_bits = atoi(val);
        else if (strcasecmp(tok, "client_max_window_bits") == 0 && val) cli_bits = atoi(val);
        else { fail_conn(c, "handshake: bad permessage-deflate parameter '%s'", tok); return -1; }
    }
    if (srv_bits < 8 || srv_bits > 15 || cli_bits < 8 || cli_bits > 15) { fail_conn(c, "handshake: window bits out of range"); return -1; }
    if (cli_bits == 8) { fail_conn(c, "handshake: client_max_window_bits=8 is not supported by zlib's raw deflate"); return -1; }
    if (!pmd_known) {
        pmd_known = 1;
        pmd_srv_noctx = srv_noctx; pmd_cli_noctx = cli_noctx; pmd_srv_bits = srv_bits; pmd_cli_bits = cli_bits;
    } else if (pmd_cli_noctx != cli_noctx || pmd_cli_bits != cli_bits) {
        fail_conn(c, "handshake: the server negotiated different client parameters on different connections");
        return -1;
    }
    if (inflateInit2(&c->zi, -15) != Z_OK) { fail_conn(c, "inflateInit2 failed"); return -1; }
    c->zi_init = 1;
    (void)srv_noctx;
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
    if (opt_deflate) {
        if (parse_pmd(c, c->hs) != 0) return -1;
    } else if (header_has(c->hs, "sec-websocket-extensions", "deflate")) {
        fail_conn(c, "handshake: server negotiated an extension nobody asked for");
        return -1;
    }
    free(c->hs);
    c->hs = NULL;
    n_pending_connect--;
    n_open++;
    n_opened++;
    c->state = ST_OPEN;
    c->deadline = 0;
    on_open(c, now);
    return (long)(hdr_end - old);
}

static void verify_chunk(conn* c, const uint8_t* d, size_t n)
{
    uint64_t off = c->msg_off;
    if (off + n > expected_len(c)) { fail_conn(c, "echo longer than %zu bytes", expected_len(c)); return; }
    if (ring) {
        ring_entry* e = &ring[c->recv_seq % ring_n];
        if (e->seq != c->recv_seq) { fail_conn(c, "lagged more than %zu messages behind the others (message ring)", ring_n); return; }
        if (memcmp(d, e->plain + off, n) != 0)
            fail_conn(c, "payload mismatch in message %llu (bytes %llu..%llu)", (unsigned long long)c->recv_seq,
                      (unsigned long long)off, (unsigned long long)(off + n));
        return;
    }
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

/* Payload bytes of the current data message (inflated if it was compressed). */
static void payload_bytes(conn* c, const uint8_t* d, size_t take)
{
    if (opt_mode == M_RECEIVE) {
        if (opt_size && c->msg_off + take > opt_size) { fail_conn(c, "message longer than %zu", opt_size); return; }
        if (opt_size >= 8) verify_broadcast(c, d, take);
    } else {
        verify_chunk(c, d, take);
    }
    c->msg_off += take;
}

/* Feeds compressed payload bytes (or, with last, the 00 00 FF FF tail) to the connection's inflater. */
static void inflate_bytes(conn* c, const uint8_t* d, size_t n)
{
    if (c->z_ended) return; /* a final block ended the stream: what follows is ignored (RFC 7692 7.2.3.1) */
    c->zi.next_in = (Bytef*)d;
    c->zi.avail_in = (uInt)n;
    for (;;) {
        c->zi.next_out = zout;
        c->zi.avail_out = sizeof zout;
        int r = inflate(&c->zi, Z_SYNC_FLUSH);
        size_t got = sizeof zout - c->zi.avail_out;
        if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR) {
            fail_conn(c, "inflate: %s (%d)", c->zi.msg ? c->zi.msg : "error", r);
            return;
        }
        if (got) { payload_bytes(c, zout, got); if (failed) return; }
        if (r == Z_STREAM_END) { c->z_ended = 1; return; }
        if (c->zi.avail_out != 0 && (c->zi.avail_in == 0 || r == Z_BUF_ERROR)) return;
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
            if (c->last_bseq < 0 && opt_pub_path) n_deliv_all += s; /* published before this receiver was subscribed */
            if (c->last_bseq >= 0 && s > (uint64_t)c->last_bseq + 1) {
                n_gaps += s - (uint64_t)c->last_bseq - 1;
                n_deliv_all += s - (uint64_t)c->last_bseq - 1; /* skipped: the publisher does not wait for them */
            }
            c->last_bseq = (int64_t)s;
        }
        n_deliv_all++;
        if (phase == P_MEASURE) { n_msgs++; n_bytes += c->msg_off; }
        return;
    }
    size_t want = expected_len(c);
    if (c->msg_off != want) { fail_conn(c, "echo of %llu bytes, expected %zu", (unsigned long long)c->msg_off, want); return; }
    int64_t lat = now - c->send_ts[c->recv_seq % (uint64_t)opt_inflight];
    c->recv_seq++;
    n_msgs_total++;
    n_bytes_total += want;
    if (phase == P_MEASURE && (opt_mode == M_ECHO || opt_mode == M_SOAK)) {
        n_msgs++;
        n_bytes += want;
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
            int rsv1 = (b0 & 0x40) != 0 && c->zi_init && ((b0 & 15) == 1 || (b0 & 15) == 2);
            if (b0 & (rsv1 ? 0x30 : 0x70)) { fail_conn(c, "RSV bits set (0x%02x)", b0); return; }
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
                if (c->is_pub) { fail_conn(c, "the publisher connection received a message"); return; }
                if (opt_mode == M_RECEIVE) {
                    if (opt_binary && c->f_op != 2) { fail_conn(c, "expected binary messages"); return; }
                } else {
                    if (c->recv_seq >= c->send_seq) { fail_conn(c, "unexpected message (nothing in flight)"); return; }
                    if (c->f_op != expected_op(c)) { fail_conn(c, "echo has opcode %d, sent %d", c->f_op, expected_op(c)); return; }
                    expected_header(c);
                }
                c->in_msg = 1;
                c->msg_op = c->f_op;
                c->msg_off = 0;
                c->msg_comp = rsv1;
                c->z_ended = 0;
            } else { fail_conn(c, "reserved opcode %d", c->f_op); return; }
            c->in_frame = 1;
        }
        size_t take = c->f_rem < n ? (size_t)c->f_rem : n;
        if (c->f_op >= 8) {
            memcpy(c->ctl + c->ctl_len, d, take);
            c->ctl_len += (int)take;
        } else if (take) {
            if (c->msg_comp) {
                if (phase == P_MEASURE) n_wire_in += take;
                inflate_bytes(c, d, take);
            } else {
                payload_bytes(c, d, take);
            }
            if (failed) return;
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
                if (c->msg_comp) {
                    static const uint8_t tail[4] = {0, 0, 0xff, 0xff};
                    inflate_bytes(c, tail, 4);
                    if (failed) return;
                    if (c->z_ended) { inflateReset(&c->zi); c->z_ended = 0; }
                    if (phase == P_MEASURE) n_plain_in += c->msg_off;
                }
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
    if (opt_mode == M_SOAK && (phase == P_WARMUP || phase == P_MEASURE)) {
        open_conn(c, now); /* a churned connection: reopen it */
        return;
    }
    if (was_cycle) {
        if (phase == P_MEASURE) {
            n_msgs++;
            hist[h_index((uint64_t)((now - c->cycle_start) / 1000))]++;
        }
        if (phase == P_WARMUP || phase == P_MEASURE) open_conn(c, now);
    }
}

/* soak with --rate: connection c may send one message when a token is available */
static void fifo_push(conn* c)
{
    if (fifo_len == fifo_cap) {
        size_t cap = fifo_cap ? fifo_cap * 2 : 1024;
        uint64_t* f = malloc(cap * sizeof *f);
        if (!f) { fprintf(stderr, "loadgen: out of memory\n"); exit(1); }
        for (size_t i = 0; i < fifo_len; i++) f[i] = fifo[(fifo_head + i) % fifo_cap];
        free(fifo);
        fifo = f;
        fifo_cap = cap;
        fifo_head = 0;
    }
    fifo[(fifo_head + fifo_len) % fifo_cap] = (uint64_t)c->idx | (uint64_t)c->gen << 32;
    fifo_len++;
}

/* soak: connection c has room for one more message in flight */
static void soak_ready(conn* c, int64_t now)
{
    if (opt_rate > 0) fifo_push(c);
    else send_message(c, now);
}

/* soak with --rate: sends as many queued messages as the tokens allow */
static void soak_pump(int64_t now)
{
    while (rate_tokens >= 1 && fifo_len > 0) {
        uint64_t e = fifo[fifo_head];
        fifo_head = (fifo_head + 1) % fifo_cap;
        fifo_len--;
        conn* c = &conns[(uint32_t)e];
        if (c->gen != (uint32_t)(e >> 32) || c->state != ST_OPEN || c->fd < 0) continue; /* churned meanwhile */
        rate_tokens -= 1;
        send_message(c, now);
        flush(c);
    }
}

/* soak: closes and reopens one random open connection (gracefully, or dropped: see --abort-pct) */
static void churn_one(int64_t now)
{
    for (int tries = 0; tries < 16; tries++) {
        conn* c = &conns[rnd() % (uint64_t)opt_conns];
        if (c->state != ST_OPEN || c->fd < 0) continue;
        if ((int)(rnd() % 100) < opt_abort_pct) {
            if (rnd() & 1) {
                struct linger lg = {.l_onoff = 1, .l_linger = 0}; /* close() sends RST */
                setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            }
            close_fd(c);
            n_churn_aborted++;
            open_conn(c, now);
        } else {
            start_close(c, now);
            flush(c);
            n_churn_closed++;
        }
        return;
    }
}

/* Whether the run must stop. In soak mode an error of one connection is counted and that connection is closed and
   reopened; only global failures (and more than 1000 errors) stop the run. */
static int check_failed(void)
{
    if (!failed) return 0;
    if (opt_mode != M_SOAK || !failed_conn || errors > 1000) return 1;
    conn* c = failed_conn;
    failed = 0;
    failed_conn = NULL;
    if (c->fd >= 0) close_fd(c);
    if (phase == P_CONNECT || phase == P_WARMUP || phase == P_MEASURE) open_conn(c, now_ns());
    return failed;
}

static void on_open(conn* c, int64_t now)
{
    if (c->is_pub) return;
    if (opt_mode == M_SOAK) {
        if (phase == P_CLOSE) start_close(c, now); /* opened as the run ended */
        else if (phase == P_WARMUP || phase == P_MEASURE)
            for (int i = 0; i < opt_inflight; i++) soak_ready(c, now);
    } else if (opt_mode == M_IDLE && opt_idle_echo) {
        send_message(c, now);
    } else if (opt_mode == M_ECHO && phase != P_CONNECT) {
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
    } else if (opt_mode == M_SOAK) {
        if (phase == P_WARMUP || phase == P_MEASURE) soak_ready(c, now);
    } else if (opt_mode == M_HANDSHAKE || (opt_mode == M_IDLE && phase == P_CLOSE)) {
        if (c->recv_seq == c->send_seq) start_close(c, now);
    } else if (opt_mode == M_IDLE && c->recv_seq == c->send_seq && !c->echoed_once) {
        c->echoed_once = 1;
        n_idle_echoed++;
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
            "usage: loadgen --port N [--host 127.0.0.1] [--path /echo] [--mode echo|handshake|idle|receive|soak]\n"
            "               [--conns N] [--size BYTES] [--inflight K] [--duration S] [--warmup S] [--binary]\n"
            "               [--connect-concurrency N] [--connect-timeout S] [--eof-timeout S] [--trigger TEXT]\n"
            "               [--json] [--deflate] [--deflate-level N] [--idle-echo]\n"
            "               [--publish-path PATH] [--publish-size BYTES] [--publish-window N]\n"
            "               [--rate MSGS_PER_S] [--churn CONNS_PER_S] [--abort-pct P] [--fragment-pct P]\n");
    exit(2);
}

/* receive mode: keeps up to opt_pub_window publishes outstanding (published to every receiver, not yet delivered) */
static void pump_publisher(int64_t now)
{
    if (!opt_pub_path || (phase != P_WARMUP && phase != P_MEASURE)) return;
    conn* c = &conns[opt_conns];
    if (c->state != ST_OPEN || failed) return;
    int queued = 0;
    while ((pub_seq + 1) * (uint64_t)opt_conns <= n_deliv_all + (uint64_t)opt_pub_window * (uint64_t)opt_conns) {
        uint8_t* m = pat; /* opt_pub_size bytes: 8-byte LE seq, then (seq + i) & 0xff */
        for (size_t i = 0; i < opt_pub_size; i++) m[i] = i < 8 ? (uint8_t)(pub_seq >> (8 * i)) : (uint8_t)(pub_seq + i);
        queue_frame(c, 2, m, opt_pub_size, 0, 0);
        pub_seq++;
        queued = 1;
    }
    if (queued) flush(c);
    (void)now;
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
        else if (ARG("--size")) { opt_size = (size_t)strtoull(v, NULL, 10); opt_size_set = 1; }
        else if (ARG("--inflight")) opt_inflight = atoi(v);
        else if (ARG("--duration")) opt_duration = atof(v);
        else if (ARG("--warmup")) opt_warmup = atof(v);
        else if (ARG("--connect-concurrency")) opt_conc = atoi(v);
        else if (ARG("--connect-timeout")) opt_connect_timeout = atof(v);
        else if (ARG("--trigger")) opt_trigger = v;
        else if (ARG("--eof-timeout")) opt_eof_timeout = atof(v);
        else if (ARG("--deflate-level")) opt_deflate_level = atoi(v);
        else if (ARG("--publish-path")) opt_pub_path = v;
        else if (ARG("--publish-size")) opt_pub_size = (size_t)strtoull(v, NULL, 10);
        else if (ARG("--publish-window")) opt_pub_window = atoi(v);
        else if (ARG("--rate")) opt_rate = atof(v);
        else if (ARG("--churn")) opt_churn = atof(v);
        else if (ARG("--abort-pct")) opt_abort_pct = atoi(v);
        else if (ARG("--fragment-pct")) opt_frag_pct = atoi(v);
        else if (ARG("--mode")) {
            int m = -1;
            for (int k = 0; k < M_COUNT; k++) if (strcmp(v, mode_names[k]) == 0) m = k;
            if (m < 0) usage();
            opt_mode = m;
        } else if (strcmp(a, "--binary") == 0) opt_binary = 1;
        else if (strcmp(a, "--json") == 0) opt_json = 1;
        else if (strcmp(a, "--deflate") == 0) opt_deflate = 1;
        else if (strcmp(a, "--idle-echo") == 0) opt_idle_echo = 1;
        else usage();
#undef ARG
    }
    if (opt_port <= 0 || opt_conns <= 0 || opt_inflight <= 0 || opt_duration <= 0 || opt_warmup < 0 || opt_conc <= 0) usage();
    if (opt_pub_path && (opt_mode != M_RECEIVE || opt_pub_size < 8 || opt_pub_window <= 0 ||
                         (opt_size && opt_size != opt_pub_size))) {
        fprintf(stderr, "loadgen: --publish-path needs --mode receive, --publish-size >= 8 (= --size) and a positive window\n");
        return 2;
    }
    if (opt_deflate_level < -1 || opt_deflate_level > 9) usage();
    if (opt_rate < 0 || opt_churn < 0 || opt_abort_pct < 0 || opt_abort_pct > 100 || opt_frag_pct < 0 || opt_frag_pct > 100)
        usage();
    if (opt_mode == M_SOAK) {
        if (opt_json || opt_deflate || opt_pub_path) {
            fprintf(stderr, "loadgen: --mode soak does not combine with --json, --deflate or --publish-path\n");
            return 2;
        }
        if (!opt_size_set) opt_size = 70000;
        if (opt_size > UINT32_MAX) usage();
        opt_binary = 0; /* ASCII content and a hex header: valid as text and as binary (the opcode is random) */
    }
    if (opt_mode != M_ECHO && opt_mode != M_SOAK) opt_inflight = 1;
    if (opt_mode == M_IDLE && opt_size == 0) opt_size = 1;
    if (opt_json) opt_binary = 0;
    n_total = opt_conns + (opt_pub_path ? 1 : 0);
    send_opcode = opt_binary ? 2 : 1;
    signal(SIGPIPE, SIG_IGN);

    /* file descriptors: the hard limit */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n_total + 16)
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

    size_t pat_len = opt_size + 256 + 16;
    if (pat_len < opt_pub_size) pat_len = opt_pub_size;
    pat = malloc(pat_len);
    for (size_t i = 0; i < pat_len; i++) {
        uint64_t r = rnd();
        pat[i] = opt_binary ? (uint8_t)(r >> 24) : (uint8_t)(0x20 + (r >> 24) % 95);
    }
    rbuf = malloc(RBUF);
    conns = calloc((size_t)n_total, sizeof(conn));
    int64_t* ts = calloc((size_t)n_total * (size_t)opt_inflight, sizeof(int64_t));
    uint32_t* lens = calloc((size_t)n_total * (size_t)opt_inflight, sizeof(uint32_t));
    uint8_t* ops = calloc((size_t)n_total * (size_t)opt_inflight, 1);
    scratch = malloc(opt_size + 1);
    if (!pat || !rbuf || !conns || !ts || !lens || !ops || !scratch) { fprintf(stderr, "loadgen: out of memory\n"); return 1; }
    for (int i = 0; i < n_total; i++) {
        conns[i].fd = -1;
        conns[i].idx = i;
        conns[i].send_ts = ts + (size_t)i * (size_t)opt_inflight;
        conns[i].send_len = lens + (size_t)i * (size_t)opt_inflight;
        conns[i].send_op = ops + (size_t)i * (size_t)opt_inflight;
        conns[i].budget = -1;
        conns[i].is_pub = i >= opt_conns;
    }
    if ((opt_json || opt_deflate) && opt_mode != M_RECEIVE) {
        /* the shared messages: up to 256 MiB of address space, touched only as far as messages are produced */
        comp_cap = opt_size + opt_size / 8 + 256;
        size_t per = opt_size + comp_cap;
        ring_n = (256u << 20) / per;
        if (ring_n > 65536) ring_n = 65536;
        if (ring_n < 256) ring_n = 256;
        ring = calloc(ring_n, sizeof *ring);
        uint8_t* plain = malloc(ring_n * opt_size + 1);
        uint8_t* comp = opt_deflate ? malloc(ring_n * comp_cap) : NULL;
        if (!ring || !plain || (opt_deflate && !comp)) { fprintf(stderr, "loadgen: out of memory\n"); return 1; }
        for (size_t i = 0; i < ring_n; i++) {
            ring[i].seq = UINT64_MAX;
            ring[i].plain = plain + i * opt_size;
            ring[i].comp = comp ? comp + i * comp_cap : NULL;
        }
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    pending = malloc(sizeof(int) * (size_t)n_total);

    int64_t t0 = now_ns();
    if (opt_mode == M_HANDSHAKE) {
        phase = P_WARMUP;
        t_phase_end = t0 + (int64_t)(opt_warmup * 1e9);
        if (opt_warmup == 0) { phase = P_MEASURE; t_meas_start = t0; cpu_meas_start = cpu_seconds(); t_phase_end = t0 + (int64_t)(opt_duration * 1e9); }
        for (int i = 0; i < n_total; i++) open_conn(&conns[i], t0);
    } else {
        phase = P_CONNECT;
        t_phase_end = t0 + (int64_t)(opt_connect_timeout * 1e9);
    }

    struct epoll_event evs[512];
    int64_t last_scan = t0, last_tick = t0;
    while (phase != P_EXIT && !check_failed()) {
        int64_t now = now_ns();
        /* phase transitions */
        if (phase == P_CONNECT) {
            while (next_to_open < n_total && n_pending_connect < opt_conc && !check_failed())
                open_conn(&conns[next_to_open++], now);
            if (n_open == n_total && (opt_mode != M_IDLE || !opt_idle_echo || n_idle_echoed == opt_conns)) {
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
                    if (opt_mode == M_ECHO || opt_mode == M_SOAK)
                        for (int i = 0; i < opt_conns; i++) { on_open(&conns[i], now); flush(&conns[i]); }
                    last_tick = now;
                }
            } else if (now >= t_phase_end) {
                fail_conn(NULL, "only %d of %d connections opened (%d echoed) within %.0f s", n_open, n_total,
                          n_idle_echoed, opt_connect_timeout);
                break;
            }
        }
        if (phase == P_WARMUP && now >= t_phase_end) {
            phase = P_MEASURE;
            memset(hist, 0, sizeof hist);
            n_msgs = n_bytes = n_gaps = n_wire_in = n_plain_in = 0;
            pub_meas_start = pub_seq;
            t_meas_start = now;
            cpu_meas_start = cpu_seconds();
            t_phase_end = now + (int64_t)(opt_duration * 1e9);
        }
        if (phase == P_MEASURE && now >= t_phase_end) {
            t_meas_end = now;
            cpu_meas = cpu_seconds() - cpu_meas_start;
            phase = P_CLOSE;
            pub_meas_end = pub_seq;
            t_close_deadline = now + (int64_t)(((opt_mode == M_SOAK ? 30 : 6) + opt_eof_timeout) * 1e9);
            for (int i = 0; i < n_total; i++)
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
        /* soak: churn and the rate limit, by tokens */
        if (opt_mode == M_SOAK && (phase == P_WARMUP || phase == P_MEASURE)) {
            double dt = (now - last_tick) / 1e9;
            last_tick = now;
            if (opt_churn > 0) {
                churn_tokens += opt_churn * dt;
                if (churn_tokens > opt_churn) churn_tokens = opt_churn; /* at most a second's worth after a stall */
                while (churn_tokens >= 1 && !check_failed()) { churn_tokens -= 1; churn_one(now); }
            }
            if (opt_rate > 0) {
                rate_tokens += opt_rate * dt;
                double burst = opt_rate / 20 > 1 ? opt_rate / 20 : 1;
                if (rate_tokens > burst) rate_tokens = burst;
                soak_pump(now);
            }
            if (check_failed()) break;
        }
        /* per-connection deadlines */
        if (now - last_scan > 100000000LL) {
            last_scan = now;
            for (int i = 0; i < n_total && !check_failed(); i++) {
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
            if (check_failed()) break;
        }
        int timeout = 10;
        if (opt_mode == M_SOAK && opt_rate > 0 && fifo_len > 0) timeout = 1;
        if (phase == P_CONNECT && next_to_open < n_total && n_pending_connect < opt_conc) timeout = 0;
        pump_publisher(now);
        if (n_pending) timeout = 0;
        int n = epoll_wait(ep, evs, 512, timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            return 1;
        }
        for (int k = 0; k < n && !check_failed(); k++) {
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
        for (int k = 0; k < np && !check_failed(); k++) {
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
    uint64_t lat_n = (opt_mode == M_ECHO || opt_mode == M_HANDSHAKE || opt_mode == M_SOAK) ? n_msgs : 0; /* receive mode has no latency */
    if (opt_mode == M_IDLE) rate = 0;
    printf("RESULT mode=%s conns=%d size=%zu inflight=%d binary=%d secs=%.3f msgs=%llu msgs_per_s=%.1f mb_per_s=%.3f "
           "p50_us=%llu p99_us=%llu p999_us=%llu max_us=%llu errors=%llu lg_cpu=%.2f",
           mode_names[opt_mode], opt_conns, opt_size, opt_inflight, opt_binary, secs, (unsigned long long)n_msgs, rate,
           opt_mode == M_HANDSHAKE ? 0.0 : n_bytes / secs / 1e6, (unsigned long long)h_pct(lat_n, 0.50),
           (unsigned long long)h_pct(lat_n, 0.99), (unsigned long long)h_pct(lat_n, 0.999),
           (unsigned long long)h_pct(lat_n, 1.0), (unsigned long long)errors, secs > 1e-6 ? cpu_meas / secs : 0.0);
    printf(" eof_timeouts=%llu lg_cpu_s=%.3f", (unsigned long long)n_eof_timeouts, cpu_seconds());
    if (opt_mode != M_HANDSHAKE) printf(" connect_ms=%.1f", connect_ms);
    if (opt_mode == M_SOAK)
        printf(" opened=%llu churn_closed=%llu churn_aborted=%llu fragmented=%llu msgs_total=%llu bytes_total=%llu"
               " max_size=%zu rate=%.0f churn=%.1f",
               (unsigned long long)n_opened, (unsigned long long)n_churn_closed, (unsigned long long)n_churn_aborted,
               (unsigned long long)n_frag, (unsigned long long)n_msgs_total, (unsigned long long)n_bytes_total, opt_size,
               opt_rate, opt_churn);
    if (opt_mode == M_RECEIVE) printf(" gaps=%llu", (unsigned long long)n_gaps);
    if (opt_pub_path)
        printf(" published=%llu pub_per_s=%.1f", (unsigned long long)(pub_meas_end - pub_meas_start),
               (pub_meas_end - pub_meas_start) / secs);
    if (opt_json) printf(" json=1");
    if (opt_deflate)
        printf(" deflate=1 pmd_server_ctx=%d pmd_client_ctx=%d pmd_server_bits=%d pmd_client_bits=%d wire_ratio=%.3f",
               !pmd_srv_noctx, !pmd_cli_noctx, pmd_srv_bits, pmd_cli_bits,
               n_plain_in ? (double)n_wire_in / (double)n_plain_in : 0.0);
    printf("\n");
    fflush(stdout);
    return errors ? 1 : 0;
}
