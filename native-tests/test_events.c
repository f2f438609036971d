/* The event API: callbacks on the loop, non-blocking sends with backpressure, idle timeout with pings,
 * topics with publish, getters on event connections, sends from other threads. */
#include <fiberws.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "wsclient.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_opens, g_closes, g_messages, g_drains, g_last_close_code, g_order_ok = 1, g_backpressure_rc;
static char g_param[32], g_query[32], g_last_reason[64];
static fws_conn* g_flood_conn;

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int read_counter(int* p)
{
    pthread_mutex_lock(&g_lock);
    int v = *p;
    pthread_mutex_unlock(&g_lock);
    return v;
}

static void wait_for(int* counter, int n)
{
    for (int i = 0; i < 500 && read_counter(counter) < n; i++) {
        sleep_ms(10);
    }
}

static int32_t on_open(void* user, fws_conn* c)
{
    (void)user;
    const char *id, *v;
    fws_conn_param(c, "id", &id, NULL);
    fws_conn_query(c, "v", &v, NULL);
    pthread_mutex_lock(&g_lock);
    g_opens++;
    snprintf(g_param, sizeof g_param, "%s", id);
    snprintf(g_query, sizeof g_query, "%s", v);
    pthread_mutex_unlock(&g_lock);
    fws_conn_subscribe(c, "news");
    return 0;
}

static int32_t on_message(void* user, fws_conn* c, int32_t type, const uint8_t* data, size_t len)
{
    (void)user;
    pthread_mutex_lock(&g_lock);
    g_messages++;
    pthread_mutex_unlock(&g_lock);
    if (len == 5 && memcmp(data, "flood", 5) == 0) {
        /* the client stops reading: queue until the backpressure limit refuses and drops the client */
        static uint8_t chunk[64 * 1024];
        int32_t rc = FWS_OK;
        for (int i = 0; i < 10000 && rc == FWS_OK; i++) {
            rc = fws_conn_send(c, FWS_BINARY_MESSAGE, chunk, sizeof chunk, NULL);
        }
        pthread_mutex_lock(&g_lock);
        g_backpressure_rc = rc;
        g_flood_conn = c;
        pthread_mutex_unlock(&g_lock);
        return 0;
    }
    if (len == 7 && memcmp(data, "publish", 7) == 0) {
        int32_t receivers = 0;
        fws_app_publish((fws_app*)user, "news", FWS_TEXT_MESSAGE, (const uint8_t*)"extra!", 6, &receivers);
        char n[16];
        int k = snprintf(n, sizeof n, "%d", receivers);
        fws_conn_send(c, FWS_TEXT_MESSAGE, (const uint8_t*)n, (size_t)k, NULL);
        return 0;
    }
    if (len == 5 && memcmp(data, "close", 5) == 0) {
        fws_conn_close(c, 4000, "as asked");
        return 0;
    }
    fws_conn_send(c, type, data, len, NULL);
    return 0;
}

static int32_t failing_message(void* user, fws_conn* c, int32_t type, const uint8_t* data, size_t len)
{
    (void)user;
    (void)c;
    (void)type;
    (void)data;
    (void)len;
    return 7; /* a failure: the recover path answers {"error":...} and closes with 1011 */
}

static int32_t failing_filter(void* user, fws_ctx* ctx)
{
    (void)user;
    (void)ctx;
    return -1; /* a negative filter verdict is a failure: 500 */
}

static int32_t on_drain(void* user, fws_conn* c)
{
    (void)user;
    (void)c;
    pthread_mutex_lock(&g_lock);
    g_drains++;
    pthread_mutex_unlock(&g_lock);
    return 0;
}

static void on_close(void* user, fws_conn* c, int32_t code, const uint8_t* reason, size_t len)
{
    (void)user;
    const char* ip;
    /* the connection is still valid during on_close */
    int32_t rc = fws_conn_ip(c, &ip, NULL);
    pthread_mutex_lock(&g_lock);
    if (rc != FWS_OK || g_closes >= g_opens) {
        g_order_ok = 0;
    }
    g_closes++;
    g_last_close_code = code;
    snprintf(g_last_reason, sizeof g_last_reason, "%.*s", (int)len, (const char*)reason);
    pthread_mutex_unlock(&g_lock);
}

int main(void)
{
    wsc c0;
    fws_app* app;
    CHECK(fws_app_new(NULL, &app) == FWS_OK, "new");
    fws_ws_events ev;
    fws_ws_events_init(&ev);
    CHECK(ev.struct_size == sizeof(fws_ws_events), "events struct_size");
    ev.on_open = on_open;
    ev.on_message = on_message;
    ev.on_drain = on_drain;
    ev.on_close = on_close;
    fws_ws_config cfg;
    fws_ws_config_init(&cfg);
    cfg.max_backpressure = 1 << 20;
    CHECK(fws_app_websocket_events(app, "/ev/:id", &ev, &cfg, app) == FWS_OK, "events route: %s", fws_last_error());
    fws_ws_config idle;
    fws_ws_config_init(&idle);
    idle.idle_timeout_ms = 600;
    CHECK(fws_app_websocket_events(app, "/idle", &ev, &idle, app) == FWS_OK, "idle route");
    fws_ws_events failing;
    fws_ws_events_init(&failing);
    failing.on_message = failing_message;
    CHECK(fws_app_websocket_events(app, "/fail", &failing, NULL, NULL) == FWS_OK, "failing route");
    fws_ws_config filtered;
    fws_ws_config_init(&filtered);
    filtered.filter = failing_filter;
    CHECK(fws_app_websocket_events(app, "/filtered", &ev, &filtered, NULL) == FWS_OK, "filtered route");
    int port = 0;
    CHECK(fws_app_start(app, "127.0.0.1:0", &port) == FWS_OK, "start: %s", fws_last_error());

    /* an event callback returning non-zero: {"error":...} then close 1011 */
    CHECK(wsc_connect(&c0, port) == 0, "connect");
    CHECK(wsc_handshake(&c0, "/fail", NULL, NULL, 0) == 101, "handshake /fail");
    wsc_send_frame(&c0, 1, 0, 1, "x", 1);
    uint8_t* fdata;
    size_t flen;
    int fop = wsc_read_message(&c0, &fdata, &flen);
    CHECK(fop == 1 && flen > 10 && memcmp(fdata, "{\"error\":", 9) == 0, "error message op=%d '%.*s'", fop, (int)flen, fdata ? (char*)fdata : "");
    free(fdata);
    CHECK(wsc_expect_close(&c0) == 1011, "close 1011 after a failing on_message");
    wsc_close(&c0);
    /* a filter returning a negative value answers 500 */
    CHECK(wsc_connect(&c0, port) == 0, "connect");
    CHECK(wsc_handshake(&c0, "/filtered", NULL, NULL, 0) == 500, "failing filter -> 500");
    wsc_close(&c0);

    /* open, echo text and binary (including 1 MiB), getters, close with the peer's code */
    wsc c;
    CHECK(wsc_connect(&c, port) == 0, "connect");
    CHECK(wsc_handshake(&c, "/ev/42?v=x", NULL, NULL, 0) == 101, "handshake");
    wait_for(&g_opens, 1);
    CHECK(read_counter(&g_opens) == 1, "on_open ran");
    pthread_mutex_lock(&g_lock);
    CHECK(strcmp(g_param, "42") == 0 && strcmp(g_query, "x") == 0, "getters in on_open: %s %s", g_param, g_query);
    pthread_mutex_unlock(&g_lock);
    wsc_send_frame(&c, 1, 0, 1, "hello", 5);
    uint8_t* data;
    size_t len;
    int op = wsc_read_message(&c, &data, &len);
    CHECK(op == 1 && len == 5 && memcmp(data, "hello", 5) == 0, "text echo");
    free(data);
    size_t big_len = 1 << 20;
    uint8_t* big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++) {
        big[i] = (uint8_t)(i * 31 + 7);
    }
    wsc_send_frame(&c, 1, 0, 2, big, big_len);
    op = wsc_read_message(&c, &data, &len);
    CHECK(op == 2 && len == big_len && memcmp(data, big, len) == 0, "1 MiB echo op=%d len=%zu", op, len);
    free(data);
    /* many messages in one packet: each echoed, in order */
    for (int i = 0; i < 16; i++) {
        char m[8];
        snprintf(m, sizeof m, "m%02d", i);
        wsc_send_frame(&c, 1, 0, 1, m, 3);
    }
    int in_order = 1;
    for (int i = 0; i < 16; i++) {
        char m[8];
        snprintf(m, sizeof m, "m%02d", i);
        op = wsc_read_message(&c, &data, &len);
        in_order &= op == 1 && len == 3 && memcmp(data, m, 3) == 0;
        free(data);
    }
    CHECK(in_order, "pipelined echoes in order");
    /* ping -> pong */
    wsc_send_frame(&c, 1, 0, 9, "pp", 2);
    op = wsc_read_message(&c, &data, &len);
    CHECK(op == 10 && len == 2 && memcmp(data, "pp", 2) == 0, "pong op=%d", op);
    free(data);
    uint8_t close_payload[] = { 0x03, 0xE9, 'b', 'y', 'e' }; /* 1001 "bye" */
    wsc_send_frame(&c, 1, 0, 8, close_payload, sizeof close_payload);
    CHECK(wsc_expect_close(&c) == 1001, "close echoed");
    CHECK(wsc_wait_eof(&c, 2000), "server closed TCP");
    wsc_close(&c);
    wait_for(&g_closes, 1);
    pthread_mutex_lock(&g_lock);
    CHECK(g_closes == 1 && g_last_close_code == 1001 && strcmp(g_last_reason, "bye") == 0, "on_close %d '%s'", g_last_close_code, g_last_reason);
    pthread_mutex_unlock(&g_lock);

    /* server-initiated close from on_message: close 4000 reaches the client, on_close reports it after the echo */
    CHECK(wsc_connect(&c, port) == 0, "connect");
    CHECK(wsc_handshake(&c, "/ev/1", NULL, NULL, 0) == 101, "handshake");
    wsc_send_frame(&c, 1, 0, 1, "close", 5);
    CHECK(wsc_expect_close(&c) == 4000, "server close code");
    uint8_t reply[] = { 0x0F, 0xA0 };
    wsc_send_frame(&c, 1, 0, 8, reply, 2);
    CHECK(wsc_wait_eof(&c, 2000), "TCP closed after the handshake");
    wsc_close(&c);
    wait_for(&g_closes, 2);
    pthread_mutex_lock(&g_lock);
    CHECK(g_last_close_code == 4000, "on_close code %d", g_last_close_code);
    pthread_mutex_unlock(&g_lock);

    /* topics: 20 subscribers receive one publish, framed once */
    enum { N = 20 };
    static wsc subs[N];
    int opened = read_counter(&g_opens);
    for (int i = 0; i < N; i++) {
        CHECK(wsc_connect(&subs[i], port) == 0, "connect sub");
        CHECK(wsc_handshake(&subs[i], "/ev/s", NULL, NULL, 0) == 101, "handshake sub");
    }
    wait_for(&g_opens, opened + N);
    wsc_send_frame(&subs[0], 1, 0, 1, "publish", 7);
    int got = 0, count_ok = 0;
    for (int i = 0; i < N; i++) {
        op = wsc_read_message(&subs[i], &data, &len);
        got += op == 1 && len == 6 && memcmp(data, "extra!", 6) == 0;
        free(data);
    }
    op = wsc_read_message(&subs[0], &data, &len);
    count_ok = op == 1 && len == 2 && memcmp(data, "20", 2) == 0;
    free(data);
    CHECK(got == N, "publish reached %d of %d", got, N);
    CHECK(count_ok, "publish reported 20 receivers");
    int closed_before = read_counter(&g_closes);
    for (int i = 0; i < N; i++) {
        wsc_close(&subs[i]); /* dropped TCP: on_close with 1006 */
    }
    wait_for(&g_closes, closed_before + N);
    pthread_mutex_lock(&g_lock);
    CHECK(g_closes == closed_before + N && g_last_close_code == 1006, "drops seen: %d closes, code %d", g_closes - closed_before, g_last_close_code);
    pthread_mutex_unlock(&g_lock);

    /* backpressure: a client that stops reading gets FWS_ERR_BACKPRESSURE and is dropped; memory stays bounded */
    CHECK(wsc_connect(&c, port) == 0, "connect");
    int rcvbuf = 4096;
    setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    CHECK(wsc_handshake(&c, "/ev/slow", NULL, NULL, 0) == 101, "handshake");
    closed_before = read_counter(&g_closes);
    wsc_send_frame(&c, 1, 0, 1, "flood", 5);
    wait_for(&g_closes, closed_before + 1);
    pthread_mutex_lock(&g_lock);
    CHECK(g_backpressure_rc == FWS_ERR_BACKPRESSURE, "flood ended with %d", g_backpressure_rc);
    CHECK(g_closes == closed_before + 1 && g_last_close_code == 1006, "slow client dropped (closes %d, code %d)", g_closes - closed_before, g_last_close_code);
    fws_conn* stale = g_flood_conn;
    pthread_mutex_unlock(&g_lock);
    CHECK(fws_conn_send(stale, FWS_TEXT_MESSAGE, (const uint8_t*)"x", 1, NULL) == FWS_ERR_INVALID_ARGUMENT, "handle invalid after on_close");
    wsc_close(&c);

    /* idle timeout: a client that answers pings stays; one that never answers is closed */
    CHECK(wsc_connect(&c, port) == 0, "connect");
    CHECK(wsc_handshake(&c, "/idle", NULL, NULL, 0) == 101, "handshake idle");
    wsc_frame f;
    int read_rc = wsc_read_frame(&c, &f);
    int ping_seen = read_rc == 0 && f.opcode == 9;
    free(f.payload);
    CHECK(ping_seen, "automatic ping at half the idle timeout (read %d, opcode %d)", read_rc, f.opcode);
    closed_before = read_counter(&g_closes);
    CHECK(wsc_wait_eof(&c, 3000), "quiet client closed after the idle timeout");
    wsc_close(&c);
    wait_for(&g_closes, closed_before + 1);
    CHECK(read_counter(&g_closes) == closed_before + 1, "on_close after idle timeout");

    /* blocking-only and event-only calls are refused on the other kind */
    CHECK(g_order_ok, "on_close came after on_open, with a valid conn");
    CHECK(fws_app_shutdown(app, 2000) == FWS_OK, "shutdown: %s", fws_last_error());
    CHECK(fws_app_free(app) == FWS_OK, "free");
    free(big);
    return wsc_summary("test_events");
}
