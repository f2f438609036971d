/* Parity with the Fiber / gorilla surface: every fws_ws_config field and every fws_conn_* call of the blocking
 * API, each with a check that fails without it. One app, one route per feature, a raw client per scenario.
 * Handlers report what they saw either as text messages (checked on the main thread) or through globals under
 * g_lock; thread-local results (error codes) are taken on the handler thread. */
#define _GNU_SOURCE
#include <fiberws.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "wsclient.h"

/* ---- helpers ------------------------------------------------------------------------------------------ */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_port;

enum {
    R_F1, R_F2, R_G, R_HS, R_SP, R_OR, R_ORANY, R_WB, R_RB, R_POOL, R_NC, R_REC, R_RL, R_RL2, R_RD, R_RD0, R_WD,
    R_WC, R_CTL, R_NW, R_NR, R_JM, R_PM, R_PARAM, R_LOC, R_QCH, R_ADDR, R_COUNT
};
static int g_enter[R_COUNT], g_done[R_COUNT];
static int32_t g_rc[R_COUNT];

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int get_int(const int* p)
{
    pthread_mutex_lock(&g_lock);
    int v = *p;
    pthread_mutex_unlock(&g_lock);
    return v;
}

static void mark_enter(int route)
{
    pthread_mutex_lock(&g_lock);
    g_enter[route]++;
    pthread_mutex_unlock(&g_lock);
}

static void mark_done(int route, int32_t rc)
{
    pthread_mutex_lock(&g_lock);
    g_rc[route] = rc;
    g_done[route]++;
    pthread_mutex_unlock(&g_lock);
}

static int wait_done(int route, int n, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    while (get_int(&g_done[route]) < n && now_ms() < end) {
        sleep_ms(5);
    }
    return get_int(&g_done[route]) >= n;
}

/* Sends a formatted text message from a handler. */
static int32_t send_text(fws_conn* c, const char* fmt, ...)
{
    char buf[2048];
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, args);
    va_end(args);
    if (n < 0) {
        return FWS_ERR_INTERNAL;
    }
    if ((size_t)n >= sizeof buf) {
        n = (int)sizeof buf - 1;
    }
    return fws_conn_write_message(c, FWS_TEXT_MESSAGE, (const uint8_t*)buf, (size_t)n);
}

/* Reads until the connection fails; returns that failure. */
static int32_t drain(fws_conn* c)
{
    int32_t mt, rc;
    const uint8_t* d;
    size_t n;
    while ((rc = fws_conn_read_message(c, &mt, &d, &n)) == FWS_OK) {
    }
    return rc;
}

/* Read/echo until failure; the failure is recorded for the route. */
static int32_t echo_loop(int route, fws_conn* c)
{
    int32_t mt, rc;
    const uint8_t* d;
    size_t n;
    for (;;) {
        if ((rc = fws_conn_read_message(c, &mt, &d, &n)) != FWS_OK) {
            break;
        }
        if ((rc = fws_conn_write_message(c, mt, d, n)) != FWS_OK) {
            break;
        }
    }
    mark_done(route, rc);
    return 0;
}

static int32_t echo(void* user, fws_conn* c)
{
    int route = (int)(intptr_t)user;
    mark_enter(route);
    return echo_loop(route, c);
}

/* Connects and sends the upgrade; returns the HTTP status (or -1). */
static int open_ws(wsc* c, const char* path, const char* extra, char* head, size_t cap)
{
    if (wsc_connect(c, g_port) != 0) {
        CHECK(0, "connect to %d", g_port);
        return -1;
    }
    return wsc_handshake(c, path, extra, head, cap);
}

/* Reads one message as text into out (NUL-terminated, truncated); returns the opcode or -1. */
static int recv_text(wsc* c, char* out, size_t cap)
{
    uint8_t* data = NULL;
    size_t len = 0;
    int op = wsc_read_message(c, &data, &len);
    out[0] = 0;
    if (op >= 0 && cap > 0) {
        size_t n = len < cap - 1 ? len : cap - 1;
        memcpy(out, data, n);
        out[n] = 0;
    }
    free(data);
    return op;
}

static void expect_text(wsc* c, const char* want, const char* what)
{
    char got[2048];
    int op = recv_text(c, got, sizeof got);
    CHECK(op == 1 && strcmp(got, want) == 0, "%s: got op %d '%s', want '%s'", what, op, got, want);
}

/* 1 when nothing (not even EOF) arrives within ms. */
static int quiet_for(wsc* c, int ms)
{
    if (c->len > 0) {
        return 0;
    }
    struct pollfd p = { c->fd, POLLIN, 0 };
    return poll(&p, 1, ms) == 0;
}

static void fill_pattern(uint8_t* p, size_t len, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
}

static uint32_t fnv1a(uint32_t h, const uint8_t* p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h = (h ^ p[i]) * 16777619u;
    }
    return h;
}

static void send_close(wsc* c, int code, const char* reason)
{
    uint8_t buf[128] = { (uint8_t)(code >> 8), (uint8_t)code };
    size_t n = strlen(reason);
    memcpy(buf + 2, reason, n);
    wsc_send_frame(c, 1, 0, 8, buf, 2 + n);
}

/* ---- filter ------------------------------------------------------------------------------------------- */

static int g_filter_calls;

static int32_t filter_skip(void* user, fws_ctx* ctx)
{
    (void)user;
    const char* id = "";
    fws_ctx_param(ctx, "id", &id, NULL);
    pthread_mutex_lock(&g_lock);
    g_filter_calls++;
    pthread_mutex_unlock(&g_lock);
    return strcmp(id, "skip") != 0;
}

static int32_t filter_never(void* user, fws_ctx* ctx)
{
    (void)user;
    (void)ctx;
    return 0;
}

static int32_t first_handler(void* user, fws_conn* c)
{
    (void)user;
    mark_enter(R_F1);
    send_text(c, "first");
    mark_done(R_F1, drain(c));
    return 0;
}

static int32_t second_handler(void* user, fws_conn* c)
{
    (void)user;
    mark_enter(R_F2);
    const char* rest = "";
    fws_conn_param(c, "*", &rest, NULL);
    send_text(c, "second:%s", rest);
    mark_done(R_F2, drain(c));
    return 0;
}

static void test_filter(void)
{
    wsc c;
    CHECK(open_ws(&c, "/f/ok", NULL, NULL, 0) == 101, "filter passes /f/ok");
    expect_text(&c, "first", "filter returning non-zero serves the route");
    wsc_close(&c);
    CHECK(open_ws(&c, "/f/skip", NULL, NULL, 0) == 101, "filtered request goes on to the next route");
    expect_text(&c, "second:skip", "filter returning 0 skips to the next route");
    wsc_close(&c);
    CHECK(get_int(&g_filter_calls) == 2, "filter called %d times", get_int(&g_filter_calls));
    CHECK(get_int(&g_enter[R_F1]) == 1, "first handler ran %d times (not for the skipped one)",
          get_int(&g_enter[R_F1]));
    /* a filter that rejects with no later route: Fiber's c.Next() finds nothing -> 404 */
    CHECK(open_ws(&c, "/g/1", NULL, NULL, 0) == 404, "rejected by filter, no next layer -> 404");
    wsc_close(&c);
    sleep_ms(50);
    CHECK(get_int(&g_enter[R_G]) == 0, "handler of a filtered-out route never ran");
}

/* ---- handshake_timeout_ms ----------------------------------------------------------------------------- */

static void test_handshake_timeout(void)
{
    wsc c;
    CHECK(wsc_connect(&c, g_port) == 0, "connect");
    int64_t t0 = now_ms();
    const char* half = "GET /hs HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n";
    wsc_send(&c, half, strlen(half));
    int eof = wsc_wait_eof(&c, 2500);
    int64_t elapsed = now_ms() - t0;
    CHECK(eof == 1, "stalled half handshake dropped (EOF) within 2.5 s");
    CHECK(elapsed >= 250 && elapsed < 2000, "dropped after %lld ms (timeout 300 ms)", (long long)elapsed);
    wsc_close(&c);
    CHECK(get_int(&g_enter[R_HS]) == 0, "no handler ran for the stalled handshake");
    CHECK(open_ws(&c, "/hs", NULL, NULL, 0) == 101, "a normal handshake on the same route works");
    CHECK(wsc_send_frame(&c, 1, 0, 1, "hi", 2) == 0, "send");
    expect_text(&c, "hi", "echo after the timed handshake route");
    /* the handshake timeout covers only the handshake: a quiet open connection stays */
    sleep_ms(500);
    CHECK(wsc_send_frame(&c, 1, 0, 1, "again", 5) == 0, "send");
    expect_text(&c, "again", "connection idle longer than handshake_timeout_ms still open");
    wsc_close(&c);
}

/* ---- subprotocols ------------------------------------------------------------------------------------- */

static int32_t subprotocol_handler(void* user, fws_conn* c)
{
    (void)user;
    mark_enter(R_SP);
    const char* sp = "?";
    size_t len = 99;
    int32_t rc = fws_conn_subprotocol(c, &sp, &len);
    send_text(c, "rc=%d sp=%s len=%zu", rc, sp, len);
    mark_done(R_SP, drain(c));
    return 0;
}

static void test_subprotocols(void)
{
    wsc c;
    char head[2048], value[256];
    CHECK(open_ws(&c, "/sp", "Sec-WebSocket-Protocol: a, b\r\n", head, sizeof head) == 101, "handshake");
    CHECK(wsc_header_value(head, "Sec-WebSocket-Protocol", value, sizeof value) && strcmp(value, "b") == 0,
          "server preference chosen: header '%s' in %s", value, head);
    expect_text(&c, "rc=0 sp=b len=1", "fws_conn_subprotocol = b");
    wsc_close(&c);
    CHECK(open_ws(&c, "/sp", "Sec-WebSocket-Protocol: a\r\n", head, sizeof head) == 101, "handshake");
    CHECK(wsc_header_value(head, "Sec-WebSocket-Protocol", value, sizeof value) && strcmp(value, "a") == 0,
          "only common protocol a: header '%s'", value);
    expect_text(&c, "rc=0 sp=a len=1", "fws_conn_subprotocol = a");
    wsc_close(&c);
    CHECK(open_ws(&c, "/sp", "Sec-WebSocket-Protocol: c, d\r\n", head, sizeof head) == 101, "handshake");
    CHECK(!wsc_header_value(head, "Sec-WebSocket-Protocol", value, sizeof value),
          "no common protocol -> no header, got '%s'", value);
    expect_text(&c, "rc=0 sp= len=0", "fws_conn_subprotocol = \"\" without a common protocol");
    wsc_close(&c);
}

/* ---- origins ------------------------------------------------------------------------------------------ */

static int32_t ok_handler(void* user, fws_conn* c)
{
    int route = (int)(intptr_t)user;
    mark_enter(route);
    send_text(c, "ok");
    mark_done(route, drain(c));
    return 0;
}

static void test_origins(void)
{
    wsc c;
    CHECK(open_ws(&c, "/or", "Origin: HTTPS://GOOD.example\r\n", NULL, 0) == 101, "allowed origin, other case");
    expect_text(&c, "ok", "handler on allowed origin");
    wsc_close(&c);
    int status = open_ws(&c, "/or", "Origin: https://evil.example\r\n", NULL, 0);
    CHECK(status == 403, "foreign origin: status %d", status);
    wsc_close(&c);
    status = open_ws(&c, "/or", NULL, NULL, 0);
    CHECK(status == 403, "missing origin with an origins list: status %d", status);
    wsc_close(&c);
    sleep_ms(50);
    CHECK(get_int(&g_enter[R_OR]) == 1, "handler ran %d times (only for the allowed origin)",
          get_int(&g_enter[R_OR]));
    status = open_ws(&c, "/orany", "Origin: https://evil.example\r\n", NULL, 0);
    CHECK(status == 101, "\"*\" accepts any origin: status %d", status);
    if (status == 101) {
        expect_text(&c, "ok", "handler with origin *");
    }
    wsc_close(&c);
    status = open_ws(&c, "/orany", NULL, NULL, 0);
    CHECK(status == 101, "\"*\" accepts a missing origin: status %d", status);
    wsc_close(&c);
}

/* ---- read_buffer_size / write_buffer_size ------------------------------------------------------------- */

static void check_big_echo(const char* path, size_t size, unsigned seed)
{
    wsc c;
    if (open_ws(&c, path, NULL, NULL, 0) != 101) {
        CHECK(0, "handshake %s", path);
        wsc_close(&c);
        return;
    }
    uint8_t* buf = malloc(size);
    fill_pattern(buf, size, seed);
    CHECK(wsc_send_frame(&c, 1, 0, 2, buf, size) == 0, "send %zu", size);
    uint8_t* got = NULL;
    size_t len = 0;
    int op = wsc_read_message(&c, &got, &len);
    CHECK(op == 2 && len == size && memcmp(got, buf, size) == 0, "%s: %zu-byte echo op %d len %zu", path, size, op,
          len);
    free(got);
    /* and a fragmented message with small frames around the buffer size */
    size_t off = 0, piece = 700;
    while (off < size) {
        size_t n = size - off < piece ? size - off : piece;
        wsc_send_frame(&c, off + n == size, 0, off == 0 ? 2 : 0, buf + off, n);
        off += n;
    }
    op = wsc_read_message(&c, &got, &len);
    CHECK(op == 2 && len == size && memcmp(got, buf, size) == 0, "%s: fragmented %zu-byte echo op %d len %zu", path,
          size, op, len);
    free(got);
    free(buf);
    wsc_close(&c);
}

/* ---- write_buffer_pool -------------------------------------------------------------------------------- */

static int g_pool_get, g_pool_put, g_pool_bad_user;
static size_t g_pool_size;
static int g_pool_marker;

static void* pool_get(void* user, size_t size)
{
    pthread_mutex_lock(&g_lock);
    g_pool_get++;
    g_pool_size = size;
    if (user != &g_pool_marker) {
        g_pool_bad_user++;
    }
    pthread_mutex_unlock(&g_lock);
    return malloc(size);
}

static void pool_put(void* user, void* buffer, size_t size)
{
    (void)size;
    pthread_mutex_lock(&g_lock);
    g_pool_put++;
    if (user != &g_pool_marker) {
        g_pool_bad_user++;
    }
    pthread_mutex_unlock(&g_lock);
    free(buffer);
}

static void test_pool(void)
{
    wsc c;
    CHECK(open_ws(&c, "/pool", NULL, NULL, 0) == 101, "handshake /pool");
    for (int i = 0; i < 5; i++) {
        char m[16];
        snprintf(m, sizeof m, "small-%d", i);
        wsc_send_frame(&c, 1, 0, 1, m, strlen(m));
        expect_text(&c, m, "echo through pooled write buffers");
    }
    int64_t end = now_ms() + 2000;
    while (now_ms() < end && get_int(&g_pool_get) != get_int(&g_pool_put)) {
        sleep_ms(5);
    }
    pthread_mutex_lock(&g_lock);
    CHECK(g_pool_get > 0 && g_pool_put > 0, "pool used: get %d put %d", g_pool_get, g_pool_put);
    CHECK(g_pool_get == g_pool_put, "idle connection holds no pool buffer: get %d put %d", g_pool_get, g_pool_put);
    CHECK(g_pool_size > 0, "pool asked for %zu bytes", g_pool_size);
    CHECK(g_pool_bad_user == 0, "pool user pointer passed through");
    pthread_mutex_unlock(&g_lock);
    wsc_close(&c);
}

/* ---- enable_compression = 0 --------------------------------------------------------------------------- */

static void test_no_compression(void)
{
    wsc c;
    char head[2048], value[256];
    CHECK(open_ws(&c, "/nc", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n", head,
                  sizeof head) == 101,
          "handshake /nc");
    CHECK(!wsc_header_value(head, "Sec-WebSocket-Extensions", value, sizeof value),
          "compression disabled: no extensions header, got '%s'", value);
    wsc_send_frame(&c, 1, 0, 1, "plain", 5);
    expect_text(&c, "plain", "uncompressed echo");
    wsc_send_frame(&c, 1, 4, 1, "hi", 2); /* RSV1 without a negotiated extension */
    int code = wsc_expect_close(&c);
    CHECK(code == 1002, "RSV1 frame without compression -> close %d, want 1002", code);
    wsc_close(&c);
}

/* ---- recover_handler ---------------------------------------------------------------------------------- */

static int g_recover_calls, g_recover_ok;
static char g_recover_error[256];
static int g_recover_marker;

static int32_t failing_handler(void* user, fws_conn* c)
{
    (void)user;
    (void)c;
    mark_enter(R_REC);
    return 5;
}

static void recover(void* user, fws_conn* conn, const char* error)
{
    pthread_mutex_lock(&g_lock);
    g_recover_calls++;
    g_recover_ok = user == &g_recover_marker && conn != NULL;
    snprintf(g_recover_error, sizeof g_recover_error, "%s", error ? error : "(null)");
    pthread_mutex_unlock(&g_lock);
}

static void test_recover(void)
{
    wsc c;
    CHECK(open_ws(&c, "/rec", NULL, NULL, 0) == 101, "handshake /rec");
    int code = wsc_expect_close(&c);
    CHECK(code == 1011, "failing handler -> close %d, want 1011", code);
    wsc_close(&c);
    pthread_mutex_lock(&g_lock);
    CHECK(g_recover_calls == 1 && g_recover_ok, "recover handler called %d times with user/conn ok %d",
          g_recover_calls, g_recover_ok);
    CHECK(g_recover_error[0] != 0, "recover handler got an error text");
    pthread_mutex_unlock(&g_lock);
}

/* ---- read_limit / fws_conn_set_read_limit ------------------------------------------------------------- */

static int32_t g_set_limit_rc = 99;

static int32_t limit10_handler(void* user, fws_conn* c)
{
    (void)user;
    mark_enter(R_RL2);
    int32_t rc = fws_conn_set_read_limit(c, 10);
    pthread_mutex_lock(&g_lock);
    g_set_limit_rc = rc;
    pthread_mutex_unlock(&g_lock);
    return echo_loop(R_RL2, c);
}

static void test_read_limit(void)
{
    wsc c;
    CHECK(open_ws(&c, "/rl", NULL, NULL, 0) == 101, "handshake /rl");
    wsc_send_frame(&c, 1, 0, 1, "0123456789abcdef", 16);
    expect_text(&c, "0123456789abcdef", "message at the config read_limit (16) passes");
    wsc_send_frame(&c, 1, 0, 1, "0123456789abcdefg", 17);
    int code = wsc_expect_close(&c);
    CHECK(code == 1009, "17 bytes over read_limit 16 -> close %d, want 1009", code);
    wsc_close(&c);
    CHECK(wait_done(R_RL, 1, 3000), "handler /rl returned");
    CHECK(get_int(&g_rc[R_RL]) == FWS_ERR_READ_LIMIT, "read returned %d, want FWS_ERR_READ_LIMIT",
          get_int(&g_rc[R_RL]));
    /* the limit applies after reassembly: 9 + 8 bytes in two frames */
    CHECK(open_ws(&c, "/rl", NULL, NULL, 0) == 101, "handshake /rl");
    wsc_send_frame(&c, 0, 0, 1, "012345678", 9);
    wsc_send_frame(&c, 1, 0, 0, "abcdefgh", 8);
    code = wsc_expect_close(&c);
    CHECK(code == 1009, "17 bytes in two frames -> close %d, want 1009", code);
    wsc_close(&c);
    CHECK(wait_done(R_RL, 2, 3000), "handler /rl returned");
    CHECK(get_int(&g_rc[R_RL]) == FWS_ERR_READ_LIMIT, "fragmented: read returned %d", get_int(&g_rc[R_RL]));

    CHECK(open_ws(&c, "/rl2", NULL, NULL, 0) == 101, "handshake /rl2");
    wsc_send_frame(&c, 1, 0, 1, "0123456789", 10);
    expect_text(&c, "0123456789", "10 bytes at set_read_limit(10) pass");
    wsc_send_frame(&c, 1, 0, 1, "0123456789a", 11);
    code = wsc_expect_close(&c);
    CHECK(code == 1009, "11 bytes over set_read_limit(10) -> close %d, want 1009", code);
    wsc_close(&c);
    CHECK(wait_done(R_RL2, 1, 3000), "handler /rl2 returned");
    CHECK(get_int(&g_set_limit_rc) == FWS_OK, "fws_conn_set_read_limit rc %d", get_int(&g_set_limit_rc));
    CHECK(get_int(&g_rc[R_RL2]) == FWS_ERR_READ_LIMIT, "read returned %d, want FWS_ERR_READ_LIMIT",
          get_int(&g_rc[R_RL2]));
}

/* ---- fws_conn_set_read_deadline ----------------------------------------------------------------------- */

static int32_t g_rd_rc1 = 99, g_rd_rc2 = 99, g_rd_set_rc = 99;
static int64_t g_rd_elapsed;
static int g_rd_timed_out, g_rd_client_sent;

static int32_t read_deadline_handler(void* user, fws_conn* c)
{
    (void)user;
    mark_enter(R_RD);
    int32_t mt;
    const uint8_t* d;
    size_t n;
    int32_t set_rc = fws_conn_set_read_deadline(c, 200);
    int64_t t0 = now_ms();
    int32_t rc1 = fws_conn_read_message(c, &mt, &d, &n);
    int64_t elapsed = now_ms() - t0;
    pthread_mutex_lock(&g_lock);
    g_rd_set_rc = set_rc;
    g_rd_rc1 = rc1;
    g_rd_elapsed = elapsed;
    g_rd_timed_out = 1;
    pthread_mutex_unlock(&g_lock);
    /* the client now sends a message; a sticky failure still refuses to read it */
    int64_t end = now_ms() + 3000;
    while (!get_int(&g_rd_client_sent) && now_ms() < end) {
        sleep_ms(5);
    }
    sleep_ms(100);
    int32_t rc2 = fws_conn_read_message(c, &mt, &d, &n);
    pthread_mutex_lock(&g_lock);
    g_rd_rc2 = rc2;
    pthread_mutex_unlock(&g_lock);
    mark_done(R_RD, rc2);
    return 0;
}

static int32_t g_rd0_rc = 99;

static int32_t read_deadline_cleared_handler(void* user, fws_conn* c)
{
    (void)user;
    mark_enter(R_RD0);
    int32_t mt;
    const uint8_t* d;
    size_t n;
    fws_conn_set_read_deadline(c, 100);
    int32_t clear_rc = fws_conn_set_read_deadline(c, 0);
    int32_t rc = fws_conn_read_message(c, &mt, &d, &n);
    pthread_mutex_lock(&g_lock);
    g_rd0_rc = clear_rc != FWS_OK ? clear_rc : rc;
    pthread_mutex_unlock(&g_lock);
    if (rc == FWS_OK) {
        fws_conn_write_message(c, mt, d, n);
    }
    mark_done(R_RD0, drain(c));
    return 0;
}

static void test_read_deadline(void)
{
    wsc c;
    CHECK(open_ws(&c, "/rd", NULL, NULL, 0) == 101, "handshake /rd");
    int64_t end = now_ms() + 3000;
    while (!get_int(&g_rd_timed_out) && now_ms() < end) {
        sleep_ms(5);
    }
    wsc_send_frame(&c, 1, 0, 1, "late", 4);
    pthread_mutex_lock(&g_lock);
    g_rd_client_sent = 1;
    pthread_mutex_unlock(&g_lock);
    CHECK(wait_done(R_RD, 1, 3000), "handler /rd returned");
    pthread_mutex_lock(&g_lock);
    CHECK(g_rd_set_rc == FWS_OK, "set_read_deadline rc %d", g_rd_set_rc);
    CHECK(g_rd_rc1 == FWS_ERR_TIMEOUT, "read with a 200 ms deadline and a silent client: rc %d, want %d", g_rd_rc1,
          FWS_ERR_TIMEOUT);
    CHECK(g_rd_elapsed >= 150 && g_rd_elapsed < 2000, "read deadline hit after %lld ms",
          (long long)g_rd_elapsed);
    CHECK(g_rd_rc2 == FWS_ERR_TIMEOUT, "the next read fails too though data arrived (sticky): rc %d", g_rd_rc2);
    pthread_mutex_unlock(&g_lock);
    wsc_close(&c);

    /* a deadline cleared with 0 does not fire */
    CHECK(open_ws(&c, "/rd0", NULL, NULL, 0) == 101, "handshake /rd0");
    sleep_ms(300);
    wsc_send_frame(&c, 1, 0, 1, "slow", 4);
    expect_text(&c, "slow", "read after set_read_deadline(0) waits past the old deadline");
    pthread_mutex_lock(&g_lock);
    CHECK(g_rd0_rc == FWS_OK, "cleared deadline: rc %d", g_rd0_rc);
    pthread_mutex_unlock(&g_lock);
    wsc_close(&c);
}

/* ---- fws_conn_set_write_deadline ---------------------------------------------------------------------- */

static int32_t g_wd_rc = 99, g_wd_set_rc = 99;
static int64_t g_wd_elapsed;
static int g_wd_writes;

static int32_t write_deadline_handler(void* user, fws_conn* c)
{
    (void)user;
    mark_enter(R_WD);
    static uint8_t chunk[64 * 1024];
    int32_t set_rc = fws_conn_set_write_deadline(c, 300);
    int64_t t0 = now_ms();
    int32_t rc = FWS_OK;
    int writes = 0;
    while (rc == FWS_OK && now_ms() - t0 < 10000 && writes < 20000) {
        rc = fws_conn_write_message(c, FWS_BINARY_MESSAGE, chunk, sizeof chunk);
        writes++;
    }
    pthread_mutex_lock(&g_lock);
    g_wd_set_rc = set_rc;
    g_wd_rc = rc;
    g_wd_elapsed = now_ms() - t0;
    g_wd_writes = writes;
    pthread_mutex_unlock(&g_lock);
    mark_done(R_WD, rc);
    return 0;
}

static void test_write_deadline(void)
{
    wsc c;
    memset(&c, 0, sizeof c);
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rcvbuf = 4096;
    setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct timeval tv = { 5, 0 };
    setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)g_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(c.fd, (struct sockaddr*)&sa, sizeof sa) == 0, "connect");
    CHECK(wsc_handshake(&c, "/wd", NULL, NULL, 0) == 101, "handshake /wd");
    /* never read */
    CHECK(wait_done(R_WD, 1, 12000), "write-deadline handler returned");
    pthread_mutex_lock(&g_lock);
    CHECK(g_wd_set_rc == FWS_OK, "set_write_deadline rc %d", g_wd_set_rc);
    CHECK(g_wd_rc == FWS_ERR_TIMEOUT, "write to a non-reading peer: rc %d after %d writes, want %d", g_wd_rc,
          g_wd_writes, FWS_ERR_TIMEOUT);
    CHECK(g_wd_elapsed >= 250 && g_wd_elapsed < 5000, "write deadline hit after %lld ms (deadline 300 ms)",
          (long long)g_wd_elapsed);
    pthread_mutex_unlock(&g_lock);
    wsc_close(&c);
}

/* ---- fws_conn_write_control --------------------------------------------------------------------------- */

static int32_t g_wc_ping_rc = 99, g_wc_close_rc = 99, g_wc_after_rc = 99, g_wc_bad_rc = 99;

static int32_t write_control_handler(void* user, fws_conn* c)
{
    (void)user;
    mark_enter(R_WC);
    int32_t ping_rc = fws_conn_write_control(c, FWS_PING_MESSAGE, (const uint8_t*)"ctl-ping", 8, 1000);
    uint8_t big[126] = { 0 };
    int32_t bad_rc = fws_conn_write_control(c, FWS_PING_MESSAGE, big, sizeof big, 1000);
    int32_t mt;
    const uint8_t* d;
    size_t n;
    fws_conn_read_message(c, &mt, &d, &n); /* "go" */
    static const uint8_t close_payload[] = { 0x0F, 0xA2, 'b', 'y', 'e' }; /* 4002 "bye" */
    int32_t close_rc = fws_conn_write_control(c, FWS_CLOSE_MESSAGE, close_payload, sizeof close_payload, 1000);
    int32_t after_rc = fws_conn_write_message(c, FWS_TEXT_MESSAGE, (const uint8_t*)"late", 4);
    pthread_mutex_lock(&g_lock);
    g_wc_ping_rc = ping_rc;
    g_wc_bad_rc = bad_rc;
    g_wc_close_rc = close_rc;
    g_wc_after_rc = after_rc;
    pthread_mutex_unlock(&g_lock);
    mark_done(R_WC, drain(c));
    return 0;
}

static void test_write_control(void)
{
    wsc c;
    CHECK(open_ws(&c, "/wc", NULL, NULL, 0) == 101, "handshake /wc");
    wsc_frame f;
    int rc = wsc_read_frame(&c, &f);
    CHECK(rc == 0 && f.opcode == 9 && f.fin && f.len == 8 && memcmp(f.payload, "ctl-ping", 8) == 0,
          "write_control ping reaches the client: rc %d opcode %d len %zu", rc, f.opcode, f.len);
    free(f.payload);
    wsc_send_frame(&c, 1, 0, 1, "go", 2);
    rc = wsc_read_frame(&c, &f);
    int code = rc == 0 && f.len >= 2 ? (f.payload[0] << 8) | f.payload[1] : -1;
    CHECK(rc == 0 && f.opcode == 8 && code == 4002 && f.len == 5 && memcmp(f.payload + 2, "bye", 3) == 0,
          "next frame is the close from write_control: opcode %d code %d", f.opcode, code);
    free(f.payload);
    send_close(&c, 4002, "");
    CHECK(wait_done(R_WC, 1, 3000), "handler /wc returned");
    pthread_mutex_lock(&g_lock);
    CHECK(g_wc_ping_rc == FWS_OK, "write_control ping rc %d", g_wc_ping_rc);
    CHECK(g_wc_bad_rc == FWS_ERR_INVALID_ARGUMENT, "126-byte control payload rc %d", g_wc_bad_rc);
    CHECK(g_wc_close_rc == FWS_OK, "write_control close rc %d", g_wc_close_rc);
    CHECK(g_wc_after_rc == FWS_ERR_CLOSE_SENT, "write_message after a close via write_control: rc %d, want %d",
          g_wc_after_rc, FWS_ERR_CLOSE_SENT);
    pthread_mutex_unlock(&g_lock);
    wsc_close(&c);
}

/* ---- ping / pong / close handlers --------------------------------------------------------------------- */

static char g_ping_seen[128], g_pong_seen[128], g_close_seen[128];
static int g_ping_calls, g_pong_calls, g_close_calls, g_close_seen_code, g_ctl_user_ok = 1;
static int32_t g_ctl_final_close_rc = 99;
static int g_ctl_marker;

static int32_t ping_cb(void* user, fws_conn* c, const uint8_t* data, size_t len)
{
    (void)c;
    pthread_mutex_lock(&g_lock);
    g_ping_calls++;
    g_ctl_user_ok &= user == &g_ctl_marker;
    snprintf(g_ping_seen, sizeof g_ping_seen, "%.*s", (int)len, (const char*)data);
    pthread_mutex_unlock(&g_lock);
    return 0;
}

static int32_t pong_cb(void* user, fws_conn* c, const uint8_t* data, size_t len)
{
    (void)c;
    pthread_mutex_lock(&g_lock);
    g_pong_calls++;
    g_ctl_user_ok &= user == &g_ctl_marker;
    snprintf(g_pong_seen, sizeof g_pong_seen, "%.*s", (int)len, (const char*)data);
    pthread_mutex_unlock(&g_lock);
    return 0;
}

static int32_t close_cb(void* user, fws_conn* c, int32_t code, const uint8_t* text, size_t len)
{
    (void)c;
    pthread_mutex_lock(&g_lock);
    g_close_calls++;
    g_ctl_user_ok &= user == &g_ctl_marker;
    g_close_seen_code = code;
    snprintf(g_close_seen, sizeof g_close_seen, "%.*s", (int)len, (const char*)text);
    pthread_mutex_unlock(&g_lock);
    return 0;
}

static int32_t control_handler(void* user, fws_conn* c)
{
    (void)user;
    mark_enter(R_CTL);
    fws_conn_set_ping_handler(c, ping_cb, &g_ctl_marker);
    fws_conn_set_pong_handler(c, pong_cb, &g_ctl_marker);
    fws_conn_set_close_handler(c, close_cb, &g_ctl_marker);
    int32_t mt, rc;
    const uint8_t* d;
    size_t n;
    for (;;) {
        if ((rc = fws_conn_read_message(c, &mt, &d, &n)) != FWS_OK) {
            break;
        }
        if (n == 10 && memcmp(d, "reset-ping", 10) == 0) {
            fws_conn_set_ping_handler(c, NULL, NULL);
        }
        if ((rc = fws_conn_write_message(c, mt, d, n)) != FWS_OK) {
            break;
        }
    }
    sleep_ms(500); /* the client checks that no close frame came on its own */
    int32_t close_rc = fws_conn_close(c, 4001, "mine");
    pthread_mutex_lock(&g_lock);
    g_ctl_final_close_rc = close_rc;
    pthread_mutex_unlock(&g_lock);
    mark_done(R_CTL, rc);
    return 0;
}

static void test_control_handlers(void)
{
    wsc c;
    CHECK(open_ws(&c, "/ctl", NULL, NULL, 0) == 101, "handshake /ctl");
    wsc_send_frame(&c, 1, 0, 9, "ping-one", 8);
    wsc_send_frame(&c, 1, 0, 1, "m1", 2);
    wsc_frame f;
    int rc = wsc_read_frame(&c, &f);
    CHECK(rc == 0 && f.opcode == 1 && f.len == 2 && memcmp(f.payload, "m1", 2) == 0,
          "custom ping handler: no default pong before the echo (got opcode %d)", f.opcode);
    free(f.payload);
    pthread_mutex_lock(&g_lock);
    CHECK(g_ping_calls == 1 && strcmp(g_ping_seen, "ping-one") == 0, "ping handler saw '%s' (%d calls)",
          g_ping_seen, g_ping_calls);
    pthread_mutex_unlock(&g_lock);

    wsc_send_frame(&c, 1, 0, 1, "reset-ping", 10);
    expect_text(&c, "reset-ping", "echo");
    wsc_send_frame(&c, 1, 0, 9, "ping-two", 8);
    rc = wsc_read_frame(&c, &f);
    CHECK(rc == 0 && f.opcode == 10 && f.len == 8 && memcmp(f.payload, "ping-two", 8) == 0,
          "after set_ping_handler(NULL) the default pong is back: opcode %d", f.opcode);
    free(f.payload);
    CHECK(get_int(&g_ping_calls) == 1, "removed ping handler not called");

    wsc_send_frame(&c, 1, 0, 10, "pong-data", 9);
    wsc_send_frame(&c, 1, 0, 1, "m2", 2);
    expect_text(&c, "m2", "echo");
    pthread_mutex_lock(&g_lock);
    CHECK(g_pong_calls == 1 && strcmp(g_pong_seen, "pong-data") == 0, "pong handler saw '%s' (%d calls)",
          g_pong_seen, g_pong_calls);
    pthread_mutex_unlock(&g_lock);

    send_close(&c, 1000, "cya");
    CHECK(quiet_for(&c, 300), "custom close handler: no automatic close echo");
    int code = wsc_expect_close(&c);
    CHECK(code == 4001, "the close the handler sent itself arrives: %d, want 4001", code);
    CHECK(wait_done(R_CTL, 1, 3000), "handler /ctl returned");
    pthread_mutex_lock(&g_lock);
    CHECK(g_close_calls == 1 && g_close_seen_code == 1000 && strcmp(g_close_seen, "cya") == 0,
          "close handler saw %d '%s' (%d calls)", g_close_seen_code, g_close_seen, g_close_calls);
    CHECK(g_ctl_user_ok, "control handlers got their user pointer");
    CHECK(g_rc[R_CTL] == FWS_ERR_CLOSED, "read after the peer's close: rc %d", g_rc[R_CTL]);
    CHECK(g_ctl_final_close_rc == FWS_OK, "fws_conn_close after a custom close handler: rc %d",
          g_ctl_final_close_rc);
    pthread_mutex_unlock(&g_lock);
    wsc_close(&c);
}

/* ---- next_writer / write_fragment / close_writer ------------------------------------------------------ */

static int32_t g_nw_rc[10];
static int g_nw_recorded;

static int32_t writer_handler(void* user, fws_conn* c)
{
    (void)user;
    mark_enter(R_NW);
    int32_t r[10];
    r[0] = fws_conn_write_fragment(c, (const uint8_t*)"zz", 2);
    r[1] = fws_conn_close_writer(c);
    r[2] = fws_conn_next_writer(c, FWS_TEXT_MESSAGE);
    r[3] = fws_conn_write_fragment(c, (const uint8_t*)"ab", 2);
    r[4] = fws_conn_write_fragment(c, (const uint8_t*)"cd", 2);
    r[5] = fws_conn_write_fragment(c, (const uint8_t*)"ef", 2);
    r[6] = fws_conn_close_writer(c);
    r[7] = fws_conn_next_writer(c, FWS_TEXT_MESSAGE);
    r[8] = fws_conn_write_fragment(c, (const uint8_t*)"\xc3", 1); /* first byte of U+00E9 */
    r[9] = fws_conn_close_writer(c);
    pthread_mutex_lock(&g_lock);
    memcpy(g_nw_rc, r, sizeof r);
    g_nw_recorded = 1;
    pthread_mutex_unlock(&g_lock);
    mark_done(R_NW, drain(c));
    return 0;
}

static void test_writer(void)
{
    wsc c;
    CHECK(open_ws(&c, "/nw", NULL, NULL, 0) == 101, "handshake /nw");
    static const struct { int opcode, fin; const char* data; } want[] = {
        { 1, 0, "ab" }, { 0, 0, "cd" }, { 0, 0, "ef" }, { 0, 1, "" },
    };
    for (int i = 0; i < 4; i++) {
        wsc_frame f;
        int rc = wsc_read_frame(&c, &f);
        CHECK(rc == 0 && f.opcode == want[i].opcode && f.fin == want[i].fin && f.rsv == 0 && !f.masked &&
                  f.len == strlen(want[i].data) && memcmp(f.payload, want[i].data, f.len) == 0,
              "writer frame %d: rc %d opcode %d fin %d len %zu '%s', want opcode %d fin %d '%s'", i, rc, f.opcode,
              f.fin, f.len, f.payload ? (const char*)f.payload : "", want[i].opcode, want[i].fin, want[i].data);
        free(f.payload);
    }
    int64_t end = now_ms() + 3000;
    while (!get_int(&g_nw_recorded) && now_ms() < end) {
        sleep_ms(5);
    }
    pthread_mutex_lock(&g_lock);
    CHECK(g_nw_rc[0] == FWS_ERR_INVALID_STATE, "write_fragment without a writer: rc %d", g_nw_rc[0]);
    CHECK(g_nw_rc[1] == FWS_ERR_INVALID_STATE, "close_writer without a writer: rc %d", g_nw_rc[1]);
    CHECK(g_nw_rc[2] == FWS_OK && g_nw_rc[3] == FWS_OK && g_nw_rc[4] == FWS_OK && g_nw_rc[5] == FWS_OK &&
              g_nw_rc[6] == FWS_OK,
          "writer calls: %d %d %d %d %d", g_nw_rc[2], g_nw_rc[3], g_nw_rc[4], g_nw_rc[5], g_nw_rc[6]);
    CHECK(g_nw_rc[7] == FWS_OK && g_nw_rc[8] == FWS_OK, "text writer with a UTF-8 prefix: %d %d", g_nw_rc[7],
          g_nw_rc[8]);
    CHECK(g_nw_rc[9] == FWS_ERR_INVALID_ARGUMENT, "close_writer inside a UTF-8 sequence: rc %d, want %d",
          g_nw_rc[9], FWS_ERR_INVALID_ARGUMENT);
    pthread_mutex_unlock(&g_lock);
    wsc_close(&c);
}

/* ---- next_reader / read_chunk ------------------------------------------------------------------------- */

static int32_t reader_handler(void* user, fws_conn* c)
{
    (void)user;
    mark_enter(R_NR);
    int32_t rc, type;
    for (;;) {
        if ((rc = fws_conn_next_reader(c, &type)) != FWS_OK) {
            break;
        }
        const uint8_t* d;
        size_t n;
        rc = fws_conn_read_chunk(c, &d, &n);
        if (rc == FWS_OK && n >= 4 && memcmp(d, "SKIP", 4) == 0) {
            send_text(c, "skipped after %.*s", (int)n, (const char*)d);
            continue; /* the rest of this message is left unread */
        }
        char pieces[256] = "";
        size_t plen = 0, count = 0, max = 0, total = 0;
        uint32_t hash = 2166136261u;
        while (rc == FWS_OK) {
            if (n > 0) {
                count++;
                total += n;
                if (n > max) {
                    max = n;
                }
                hash = fnv1a(hash, d, n);
                if (plen + n + 2 < sizeof pieces) {
                    if (plen > 0) {
                        pieces[plen++] = '|';
                    }
                    memcpy(pieces + plen, d, n);
                    plen += n;
                    pieces[plen] = 0;
                }
            }
            rc = fws_conn_read_chunk(c, &d, &n);
        }
        if (total <= 64) {
            send_text(c, "t=%d pieces=%s end=%d", type, pieces, rc);
        } else {
            send_text(c, "t=%d n=%zu max=%zu total=%zu hash=%08x end=%d", type, count, max, total, hash, rc);
        }
        if (rc != FWS_END_OF_MESSAGE) {
            break;
        }
    }
    mark_done(R_NR, rc);
    return 0;
}

static void check_big_chunks(wsc* c, size_t size, size_t frame, const char* what)
{
    uint8_t* buf = malloc(size);
    fill_pattern(buf, size, 77);
    for (size_t off = 0; off < size; off += frame) {
        size_t n = size - off < frame ? size - off : frame;
        wsc_send_frame(c, off + n == size, 0, off == 0 ? 2 : 0, buf + off, n);
    }
    char got[512];
    int op = recv_text(c, got, sizeof got);
    int t = 0, end = 0;
    size_t count = 0, max = 0, total = 0;
    unsigned hash = 0;
    int fields = sscanf(got, "t=%d n=%zu max=%zu total=%zu hash=%x end=%d", &t, &count, &max, &total, &hash, &end);
    CHECK(op == 1 && fields == 6, "%s: report '%s'", what, got);
    CHECK(t == 2 && end == FWS_END_OF_MESSAGE, "%s: type %d end %d", what, t, end);
    CHECK(total == size && hash == fnv1a(2166136261u, buf, size), "%s: pieces add up (total %zu, hash ok %d)",
          what, total, hash == fnv1a(2166136261u, buf, size));
    CHECK(max <= frame, "%s: largest chunk %zu <= one frame (%zu)", what, max, frame);
    CHECK(count >= (size + frame - 1) / frame, "%s: %zu chunks", what, count);
    free(buf);
}

static void test_reader(void)
{
    wsc c;
    CHECK(open_ws(&c, "/nr", NULL, NULL, 0) == 101, "handshake /nr");
    wsc_send_frame(&c, 0, 0, 1, "hel", 3);
    wsc_send_frame(&c, 1, 0, 9, "pp", 2);
    wsc_send_frame(&c, 0, 0, 0, "lo ", 3);
    wsc_send_frame(&c, 1, 0, 0, "world", 5);
    wsc_frame f;
    int rc = wsc_read_frame(&c, &f);
    CHECK(rc == 0 && f.opcode == 10 && f.len == 2 && memcmp(f.payload, "pp", 2) == 0,
          "ping between fragments answered while reading by chunks: opcode %d", f.opcode);
    free(f.payload);
    char want[64];
    snprintf(want, sizeof want, "t=1 pieces=hel|lo |world end=%d", FWS_END_OF_MESSAGE);
    expect_text(&c, want, "3 fragments read as 3 chunks, then FWS_END_OF_MESSAGE");

    check_big_chunks(&c, 5u << 20, 1u << 20, "5 MiB in 1 MiB frames");
    /* one 5 MiB frame: read piece by piece, never buffered whole */
    check_big_chunks(&c, 5u << 20, 5u << 20, "5 MiB in one frame");

    /* a message abandoned after its first chunk is skipped by the next next_reader */
    wsc_send_frame(&c, 0, 0, 1, "SKIP-aaa", 8);
    wsc_send_frame(&c, 0, 0, 0, "bbb", 3);
    wsc_send_frame(&c, 1, 0, 0, "ccc", 3);
    wsc_send_frame(&c, 1, 0, 1, "after", 5);
    expect_text(&c, "skipped after SKIP-aaa", "first chunk of the abandoned message");
    snprintf(want, sizeof want, "t=1 pieces=after end=%d", FWS_END_OF_MESSAGE);
    expect_text(&c, want, "next_reader skipped the rest of the partly read message");
    wsc_close(&c);
}

/* A stricter look at one 5 MiB frame: "piece by piece, without buffering it whole". */
static void test_reader_single_frame_not_whole(void)
{
    wsc c;
    CHECK(open_ws(&c, "/nr", NULL, NULL, 0) == 101, "handshake /nr");
    size_t size = 5u << 20;
    uint8_t* buf = malloc(size);
    fill_pattern(buf, size, 78);
    wsc_send_frame(&c, 1, 0, 2, buf, size);
    char got[512];
    recv_text(&c, got, sizeof got);
    size_t count = 0, max = 0, total = 0;
    int t = 0;
    sscanf(got, "t=%d n=%zu max=%zu total=%zu", &t, &count, &max, &total);
    CHECK(total == size && max < size, "one 5 MiB frame by chunks: largest chunk %zu of %zu in %zu chunks", max,
          size, count);
    free(buf);
    wsc_close(&c);
}

/* ---- join_messages ------------------------------------------------------------------------------------ */

static int32_t join_handler(void* user, fws_conn* c)
{
    (void)user;
    mark_enter(R_JM);
    const uint8_t* d = NULL;
    size_t n = 0;
    int32_t rc = fws_conn_join_messages(c, 3, (const uint8_t*)"\n", 1, &d, &n);
    if (rc == FWS_OK) {
        fws_conn_write_message(c, FWS_TEXT_MESSAGE, d, n);
    } else {
        send_text(c, "join rc %d", rc);
    }
    rc = fws_conn_join_messages(c, 2, NULL, 0, &d, &n);
    if (rc == FWS_OK) {
        fws_conn_write_message(c, FWS_BINARY_MESSAGE, d, n);
    } else {
        send_text(c, "join rc %d", rc);
    }
    mark_done(R_JM, drain(c));
    return 0;
}

static void test_join(void)
{
    wsc c;
    CHECK(open_ws(&c, "/jm", NULL, NULL, 0) == 101, "handshake /jm");
    wsc_send_frame(&c, 1, 0, 1, "a", 1);
    wsc_send_frame(&c, 0, 0, 1, "b", 1); /* a fragmented one counts as one message */
    wsc_send_frame(&c, 1, 0, 0, "", 0);
    wsc_send_frame(&c, 1, 0, 1, "c", 1);
    expect_text(&c, "a\nb\nc\n", "join_messages(3, \"\\n\")");
    wsc_send_frame(&c, 1, 0, 2, "xy", 2);
    wsc_send_frame(&c, 1, 0, 1, "z", 1);
    uint8_t* d = NULL;
    size_t n = 0;
    int op = wsc_read_message(&c, &d, &n);
    CHECK(op == 2 && n == 3 && memcmp(d, "xyz", 3) == 0, "join_messages(2) without a terminator: op %d len %zu",
          op, n);
    free(d);
    wsc_close(&c);
}

/* ---- prepared messages to 100 connections ------------------------------------------------------------- */

enum { PM_N = 100 };
static fws_conn* g_pm_conns[PM_N];
static int g_pm_count;

static int32_t prepared_handler(void* user, fws_conn* c)
{
    (void)user;
    pthread_mutex_lock(&g_lock);
    if (g_pm_count < PM_N) {
        g_pm_conns[g_pm_count] = c;
    }
    g_pm_count++;
    g_enter[R_PM]++;
    pthread_mutex_unlock(&g_lock);
    mark_done(R_PM, drain(c));
    return 0;
}

static void test_prepared(void)
{
    static wsc clients[PM_N];
    int opened = 0;
    for (int i = 0; i < PM_N; i++) {
        if (open_ws(&clients[i], "/pm", NULL, NULL, 0) == 101) {
            opened++;
        }
    }
    CHECK(opened == PM_N, "%d of %d prepared-message clients upgraded", opened, PM_N);
    int64_t end = now_ms() + 5000;
    while (get_int(&g_pm_count) < PM_N && now_ms() < end) {
        sleep_ms(5);
    }
    CHECK(get_int(&g_pm_count) == PM_N, "%d handlers running", get_int(&g_pm_count));
    uint8_t payload[300];
    for (size_t i = 0; i < sizeof payload; i++) {
        payload[i] = (uint8_t)('a' + i % 26);
    }
    fws_prepared_message* pm = NULL;
    CHECK(fws_prepared_message_new(FWS_TEXT_MESSAGE, payload, sizeof payload, &pm) == FWS_OK && pm != NULL,
          "prepared_message_new: %s", fws_last_error());
    int ok = 0;
    int n = get_int(&g_pm_count) < PM_N ? get_int(&g_pm_count) : PM_N;
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&g_lock);
        fws_conn* conn = g_pm_conns[i];
        pthread_mutex_unlock(&g_lock);
        ok += fws_conn_write_prepared(conn, pm) == FWS_OK;
    }
    CHECK(ok == PM_N, "write_prepared succeeded on %d of %d", ok, PM_N);
    CHECK(fws_prepared_message_free(pm) == FWS_OK, "prepared_message_free");
    int32_t rc = fws_conn_write_prepared(g_pm_conns[0], pm);
    CHECK(rc == FWS_ERR_INVALID_ARGUMENT, "write of a freed prepared message: rc %d", rc);
    CHECK(fws_prepared_message_free(NULL) == FWS_OK, "free(NULL) is a no-op");
    int same = 0;
    wsc_frame first;
    memset(&first, 0, sizeof first);
    for (int i = 0; i < PM_N; i++) {
        wsc_frame f;
        if (wsc_read_frame(&clients[i], &f) != 0) {
            continue;
        }
        if (i == 0) {
            first = f;
            CHECK(f.opcode == 1 && f.fin && !f.masked && f.rsv == 0 && f.len == sizeof payload &&
                      memcmp(f.payload, payload, sizeof payload) == 0,
                  "prepared frame: opcode %d fin %d len %zu", f.opcode, f.fin, f.len);
            same++;
            continue;
        }
        same += f.opcode == first.opcode && f.fin == first.fin && f.rsv == first.rsv && f.masked == first.masked &&
                f.len == first.len && first.payload && memcmp(f.payload, first.payload, f.len) == 0;
        free(f.payload);
    }
    free(first.payload);
    CHECK(same == PM_N, "%d of %d clients received identical bytes", same, PM_N);
    for (int i = 0; i < PM_N; i++) {
        wsc_close(&clients[i]);
    }
    CHECK(wait_done(R_PM, PM_N, 10000), "prepared-message handlers returned (%d)", get_int(&g_done[R_PM]));
}

/* ---- params with wildcards ---------------------------------------------------------------------------- */

static const char* const k_files_names[] = { "*", "*1", NULL };
static const char* const k_plus_names[] = { "+", "+1", NULL };
static const char* const k_opt_names[] = { "id", NULL };

static int32_t param_handler(void* user, fws_conn* c)
{
    const char* const* names = user;
    mark_enter(R_PARAM);
    char out[512] = "";
    size_t used = 0;
    for (size_t i = 0; names[i]; i++) {
        const char* v = "?";
        size_t len = 0;
        fws_conn_param(c, names[i], &v, &len);
        used += (size_t)snprintf(out + used, sizeof out - used, "%s%s", i ? "|" : "", v);
        if (strlen(v) != len) {
            used += (size_t)snprintf(out + used, sizeof out - used, "(len %zu)", len);
        }
    }
    send_text(c, "%s", out);
    mark_done(R_PARAM, drain(c));
    return 0;
}

static void expect_param(const char* path, const char* want)
{
    wsc c;
    int status = open_ws(&c, path, NULL, NULL, 0);
    CHECK(status == 101, "%s: status %d", path, status);
    if (status == 101) {
        char what[128];
        snprintf(what, sizeof what, "params of %s", path);
        expect_text(&c, want, what);
    }
    wsc_close(&c);
}

static void test_params(void)
{
    expect_param("/files/a/b/c", "a/b/c|a/b/c");
    expect_param("/files/", "|");
    expect_param("/plus/x/y", "x/y|x/y");
    wsc c;
    int status = open_ws(&c, "/plus/", NULL, NULL, 0);
    CHECK(status == 404, "/plus/ with an empty '+': status %d, want 404", status);
    wsc_close(&c);
    expect_param("/opt", "");
    expect_param("/opt/5", "5");
}

/* ---- locals ------------------------------------------------------------------------------------------- */

static int g_mw_value, g_conn_value, g_over_value;

static int32_t locals_mw(void* user, fws_ctx* ctx)
{
    (void)user;
    fws_ctx_locals_set(ctx, "mw", &g_mw_value);
    return FWS_NEXT;
}

static int32_t locals_handler(void* user, fws_conn* c)
{
    (void)user;
    mark_enter(R_LOC);
    void* v = (void*)1;
    int32_t rc_mw = fws_conn_locals_get(c, "mw", &v);
    int mw_ok = rc_mw == FWS_OK && v == &g_mw_value;
    v = (void*)1;
    int32_t rc_absent = fws_conn_locals_get(c, "absent", &v);
    int absent_ok = rc_absent == FWS_ERR_NOT_FOUND && v == NULL;
    int32_t rc_set = fws_conn_locals_set(c, "k", &g_conn_value);
    v = NULL;
    int32_t rc_k = fws_conn_locals_get(c, "k", &v);
    int k_ok = rc_set == FWS_OK && rc_k == FWS_OK && v == &g_conn_value;
    fws_conn_locals_set(c, "mw", &g_over_value);
    v = NULL;
    int32_t rc_over = fws_conn_locals_get(c, "mw", &v);
    int over_ok = rc_over == FWS_OK && v == &g_over_value;
    send_text(c, "mw=%d(%d) absent=%d(%d) k=%d(%d,%d) over=%d(%d)", mw_ok, rc_mw, absent_ok, rc_absent, k_ok, rc_set,
              rc_k, over_ok, rc_over);
    mark_done(R_LOC, drain(c));
    return 0;
}

static void test_locals(void)
{
    wsc c;
    CHECK(open_ws(&c, "/loc", NULL, NULL, 0) == 101, "handshake /loc");
    expect_text(&c, "mw=1(0) absent=1(-7) k=1(0,0) over=1(0)", "locals on the conn");
    wsc_close(&c);
}

/* ---- query / cookies / headers ------------------------------------------------------------------------ */

static int32_t qch_handler(void* user, fws_conn* c)
{
    (void)user;
    mark_enter(R_QCH);
    const char *a, *b, *cc, *d, *e, *z, *s1, *s2, *s3, *s4, *dup, *mc, *miss;
    fws_conn_query(c, "a", &a, NULL);
    fws_conn_query(c, "b", &b, NULL);
    fws_conn_query(c, "c", &cc, NULL);
    fws_conn_query(c, "d", &d, NULL);
    fws_conn_query(c, "e", &e, NULL);
    int32_t rz = fws_conn_query(c, "z", &z, NULL);
    fws_conn_cookie(c, "s1", &s1, NULL);
    fws_conn_cookie(c, "s2", &s2, NULL);
    fws_conn_cookie(c, "s3", &s3, NULL);
    int32_t r4 = fws_conn_cookie(c, "s4", &s4, NULL);
    size_t dup_len = 0;
    fws_conn_header(c, "x-dup", &dup, &dup_len);
    fws_conn_header(c, "X-MIXED-case", &mc, NULL);
    int32_t rmiss = fws_conn_header(c, "X-Missing", &miss, NULL);
    send_text(c, "a=%s|b=%s|c=%s|d=%s|e=%s|z=%s(%d)|s1=%s|s2=%s|s3=%s|s4=%s(%d)|dup=%s(%zu)|mc=%s|miss=%s(%d)", a, b,
              cc, d, e, z, rz, s1, s2, s3, s4, r4, dup, dup_len, mc, miss, rmiss);
    mark_done(R_QCH, drain(c));
    return 0;
}

static void test_query_cookies_headers(void)
{
    wsc c;
    CHECK(open_ws(&c, "/qch?a=hello%20world&b=x+y&c=%E2%82%AC&d=%26%3D&e=",
                  "Cookie: s1=v1; s2=two; s3=3\r\nX-Dup: one\r\nX-Dup: two\r\nX-Mixed-Case: Val\r\n", NULL, 0) == 101,
          "handshake /qch");
    char want[512];
    snprintf(want, sizeof want,
             "a=hello world|b=x y|c=\xE2\x82\xAC|d=&=|e=|z=(%d)|s1=v1|s2=two|s3=3|s4=(%d)|dup=one, two(8)|mc=Val|"
             "miss=(%d)",
             FWS_ERR_NOT_FOUND, FWS_ERR_NOT_FOUND, FWS_ERR_NOT_FOUND);
    expect_text(&c, want, "query/cookies/headers");
    wsc_close(&c);
}

/* ---- local / remote address --------------------------------------------------------------------------- */

static int32_t addr_handler(void* user, fws_conn* c)
{
    (void)user;
    mark_enter(R_ADDR);
    const char *local = "?", *remote = "?";
    size_t llen = 0, rlen = 0;
    int32_t rl = fws_conn_local_addr(c, &local, &llen);
    int32_t rr = fws_conn_remote_addr(c, &remote, &rlen);
    send_text(c, "%s|%s|%d|%d|%d", local, remote, rl, rr, strlen(local) == llen && strlen(remote) == rlen);
    mark_done(R_ADDR, drain(c));
    return 0;
}

static void test_addrs(void)
{
    wsc c;
    CHECK(open_ws(&c, "/addr", NULL, NULL, 0) == 101, "handshake /addr");
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    getsockname(c.fd, (struct sockaddr*)&sa, &sl);
    char want[128];
    snprintf(want, sizeof want, "127.0.0.1:%d|127.0.0.1:%d|0|0|1", g_port, ntohs(sa.sin_port));
    expect_text(&c, want, "local|remote address");
    wsc_close(&c);
}

/* ---- main --------------------------------------------------------------------------------------------- */

int main(void)
{
    fws_app* app;
    CHECK(fws_app_new(NULL, &app) == FWS_OK, "fws_app_new: %s", fws_last_error());
    fws_ws_config cfg;
#define ROUTE(pattern, fn, user) \
    CHECK(fws_app_websocket(app, pattern, fn, &cfg, (void*)(user)) == FWS_OK, "route %s: %s", pattern, fws_last_error())

    fws_ws_config_init(&cfg);
    CHECK(cfg.struct_size == sizeof cfg, "config struct_size");
    cfg.filter = filter_skip;
    ROUTE("/f/:id", first_handler, NULL);
    fws_ws_config_init(&cfg);
    ROUTE("/f/*", second_handler, NULL);
    fws_ws_config_init(&cfg);
    cfg.filter = filter_never;
    ROUTE("/g/:id", ok_handler, (intptr_t)R_G);

    fws_ws_config_init(&cfg);
    cfg.handshake_timeout_ms = 300;
    ROUTE("/hs", echo, (intptr_t)R_HS);

    static const char* const protos[] = { "b", "a" };
    fws_ws_config_init(&cfg);
    cfg.subprotocols = protos;
    cfg.subprotocols_count = 2;
    ROUTE("/sp", subprotocol_handler, NULL);

    static const char* const good[] = { "https://good.example" };
    fws_ws_config_init(&cfg);
    cfg.origins = good;
    cfg.origins_count = 1;
    ROUTE("/or", ok_handler, (intptr_t)R_OR);
    static const char* const any[] = { "*" };
    fws_ws_config_init(&cfg);
    cfg.origins = any;
    cfg.origins_count = 1;
    ROUTE("/orany", ok_handler, (intptr_t)R_ORANY);

    fws_ws_config_init(&cfg);
    cfg.write_buffer_size = 1024;
    ROUTE("/wb", echo, (intptr_t)R_WB);
    fws_ws_config_init(&cfg);
    cfg.read_buffer_size = 512;
    ROUTE("/rb", echo, (intptr_t)R_RB);

    static fws_buffer_pool pool;
    memset(&pool, 0, sizeof pool);
    pool.struct_size = sizeof pool;
    pool.get = pool_get;
    pool.put = pool_put;
    pool.user = &g_pool_marker;
    fws_ws_config_init(&cfg);
    cfg.write_buffer_pool = &pool;
    ROUTE("/pool", echo, (intptr_t)R_POOL);

    fws_ws_config_init(&cfg);
    cfg.enable_compression = 0;
    ROUTE("/nc", echo, (intptr_t)R_NC);

    fws_ws_config_init(&cfg);
    cfg.recover_handler = recover;
    cfg.recover_user = &g_recover_marker;
    ROUTE("/rec", failing_handler, NULL);

    fws_ws_config_init(&cfg);
    cfg.read_limit = 16;
    ROUTE("/rl", echo, (intptr_t)R_RL);
    fws_ws_config_init(&cfg);
    ROUTE("/rl2", limit10_handler, NULL);

    fws_ws_config_init(&cfg);
    ROUTE("/rd", read_deadline_handler, NULL);
    ROUTE("/rd0", read_deadline_cleared_handler, NULL);
    ROUTE("/wd", write_deadline_handler, NULL);
    ROUTE("/wc", write_control_handler, NULL);
    ROUTE("/ctl", control_handler, NULL);
    ROUTE("/nw", writer_handler, NULL);
    ROUTE("/nr", reader_handler, NULL);
    ROUTE("/jm", join_handler, NULL);
    ROUTE("/pm", prepared_handler, NULL);
    ROUTE("/files/*", param_handler, k_files_names);
    ROUTE("/plus/+", param_handler, k_plus_names);
    ROUTE("/opt/:id?", param_handler, k_opt_names);
    CHECK(fws_app_use(app, "/loc", locals_mw, NULL) == FWS_OK, "use /loc");
    ROUTE("/loc", locals_handler, NULL);
    ROUTE("/qch", qch_handler, NULL);
    ROUTE("/addr", addr_handler, NULL);
#undef ROUTE

    int32_t port = 0;
    CHECK(fws_app_start(app, "127.0.0.1:0", &port) == FWS_OK, "start: %s", fws_last_error());
    g_port = port;

    test_filter();
    test_handshake_timeout();
    test_subprotocols();
    test_origins();
    check_big_echo("/wb", 100 * 1024, 1);
    check_big_echo("/rb", 200 * 1024, 2);
    test_pool();
    test_no_compression();
    test_recover();
    test_read_limit();
    test_read_deadline();
    test_write_deadline();
    test_write_control();
    test_control_handlers();
    test_writer();
    test_reader();
    test_reader_single_frame_not_whole();
    test_join();
    test_prepared();
    test_params();
    test_locals();
    test_query_cookies_headers();
    test_addrs();

    CHECK(fws_app_shutdown(app, 5000) == FWS_OK, "shutdown: %s", fws_last_error());
    CHECK(fws_app_free(app) == FWS_OK, "free");
    return wsc_summary("test_parity");
}
