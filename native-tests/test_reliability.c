/* Reliability limits and operations, through the C ABI: the connection cap (503), max frames per message, keepalive
 * pings with dead-peer detection on both APIs, plain HTTP routes, fws_app_stats, the log callback, and that an app
 * shut down and freed gives back every thread and file descriptor it took. */
#include "wsclient.h"

#include <fiberws.h>

#include <dirent.h>
#include <signal.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int count_dir(const char* path)
{
    DIR* d = opendir(path);
    if (!d) {
        return -1;
    }
    int n = 0;
    struct dirent* e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n;
}

static int http_status(int port, const char* request, char* response, size_t cap)
{
    wsc c;
    if (wsc_connect(&c, port) != 0) {
        return -1;
    }
    int s = wsc_request(&c, request, response, cap);
    wsc_close(&c);
    return s;
}

/* ---- handlers ------------------------------------------------------------------------------------------ */

static _Atomic int g_handler_close_code;
static char g_handler_error[512];
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static int32_t echo(void* user, fws_conn* c)
{
    (void)user;
    int32_t mt;
    const uint8_t* msg;
    size_t len;
    int32_t rc;
    while ((rc = fws_conn_read_message(c, &mt, &msg, &len)) == FWS_OK) {
        if (fws_conn_write_message(c, mt, msg, len) != FWS_OK) {
            break;
        }
    }
    pthread_mutex_lock(&g_lock);
    snprintf(g_handler_error, sizeof g_handler_error, "%s", fws_last_error());
    pthread_mutex_unlock(&g_lock);
    g_handler_close_code = fws_last_error_close_code();
    return 0;
}

static int32_t page(void* user, fws_ctx* ctx)
{
    (void)user;
    const char* name;
    size_t name_len;
    fws_ctx_query(ctx, "name", &name, &name_len);
    char body[128];
    snprintf(body, sizeof body, "<h1>hello %s</h1>", name[0] ? name : "world");
    return fws_ctx_send(ctx, 200, "text/html; charset=utf-8", body, strlen(body));
}

static _Atomic int g_bad_send_checks;

/* Bad arguments to fws_ctx_send from inside a live handler: each is refused, and the good call after them wins. */
static int32_t picky_page(void* user, fws_ctx* ctx)
{
    (void)user;
    int refused = 0;
    refused += fws_ctx_send(ctx, 99, "text/plain", "x", 1) == FWS_ERR_INVALID_ARGUMENT;
    refused += fws_ctx_send(ctx, 600, "text/plain", "x", 1) == FWS_ERR_INVALID_ARGUMENT;
    refused += fws_ctx_send(ctx, 200, "text/plain\r\nX-Evil: 1", "x", 1) == FWS_ERR_INVALID_ARGUMENT;
    refused += fws_ctx_send(ctx, 200, NULL, "x", 1) == FWS_ERR_INVALID_ARGUMENT;
    refused += fws_ctx_send(ctx, 200, "text/plain", NULL, 5) == FWS_ERR_INVALID_ARGUMENT;
    g_bad_send_checks = refused;
    return fws_ctx_send(ctx, 201, "text/plain", NULL, 0);
}

static int32_t failing_page(void* user, fws_ctx* ctx)
{
    (void)user;
    (void)ctx;
    return 3;
}

static _Atomic int g_event_close_code;
static char g_event_close_reason[128];

static int32_t on_msg(void* user, fws_conn* c, int32_t type, const uint8_t* data, size_t len)
{
    (void)user;
    return fws_conn_send(c, type, data, len, NULL) == FWS_OK ? 0 : 1;
}

static void on_close(void* user, fws_conn* c, int32_t code, const uint8_t* reason, size_t len)
{
    (void)user;
    (void)c;
    pthread_mutex_lock(&g_lock);
    snprintf(g_event_close_reason, sizeof g_event_close_reason, "%.*s", (int)len, (const char*)reason);
    pthread_mutex_unlock(&g_lock);
    g_event_close_code = code;
}

/* ---- log callback --------------------------------------------------------------------------------------- */

static _Atomic int g_log_errors;
static char g_log_last[512];

static void log_sink(void* user, int32_t level, const char* message)
{
    (void)user;
    if (level == FWS_LOG_ERROR) {
        g_log_errors++;
    }
    pthread_mutex_lock(&g_lock);
    snprintf(g_log_last, sizeof g_log_last, "%s", message);
    pthread_mutex_unlock(&g_lock);
}

static int32_t failing_handler(void* user, fws_conn* c)
{
    (void)user;
    (void)c;
    return 7;
}

/* ---- tests ---------------------------------------------------------------------------------------------- */

static void connection_cap(void)
{
    fws_app_config ac;
    fws_app_config_init(&ac);
    CHECK(ac.max_connections == 100000, "default max_connections %d", ac.max_connections);
    ac.max_connections = 4;
    fws_app* app;
    CHECK(fws_app_new(&ac, &app) == FWS_OK, "new: %s", fws_last_error());
    CHECK(fws_app_websocket(app, "/echo", echo, NULL, NULL) == FWS_OK, "route");
    int32_t port = 0;
    CHECK(fws_app_start(app, "127.0.0.1:0", &port) == FWS_OK, "start: %s", fws_last_error());
    wsc conns[4];
    int opened = 0;
    for (int i = 0; i < 4; i++) {
        if (wsc_connect(&conns[i], port) == 0 && wsc_handshake(&conns[i], "/echo", NULL, NULL, 0) == 101) {
            opened++;
        }
    }
    CHECK(opened == 4, "4 connections under the cap: %d", opened);
    char response[1024];
    int s = http_status(port, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", response, sizeof response);
    CHECK(s == 503, "the fifth connection gets 503: %d", s);
    CHECK(strstr(response, "Retry-After: 1") != NULL, "503 carries Retry-After: %s", response);
    fws_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    CHECK(fws_app_stats(app, &st) == FWS_OK, "stats: %s", fws_last_error());
    CHECK(st.refused_too_many_connections == 1, "refused_too_many_connections %lld", (long long)st.refused_too_many_connections);
    CHECK(st.websockets_open == 4, "websockets_open %lld", (long long)st.websockets_open);
    /* One leaves: a new connection gets in again. */
    wsc_send_frame(&conns[0], 1, 0, 8, "\x03\xe8", 2);
    wsc_expect_close(&conns[0]);
    wsc_close(&conns[0]);
    int ok = 0;
    for (int attempt = 0; attempt < 50 && !ok; attempt++) {
        wsc c;
        if (wsc_connect(&c, port) == 0) {
            int status = wsc_handshake(&c, "/echo", NULL, NULL, 0);
            ok = status == 101;
            if (ok) {
                wsc_send_frame(&c, 1, 0, 1, "hi", 2);
                uint8_t* data = NULL;
                size_t len = 0;
                CHECK(wsc_read_message(&c, &data, &len) == 1 && len == 2, "echo after a slot freed");
                free(data);
            }
            wsc_close(&c);
        }
        if (!ok) {
            sleep_ms(20);
        }
    }
    CHECK(ok, "a slot freed by a closed connection is reused");
    for (int i = 1; i < 4; i++) {
        wsc_close(&conns[i]);
    }
    CHECK(fws_app_shutdown(app, 2000) == FWS_OK, "shutdown: %s", fws_last_error());
    fws_app_free(app);
}

static void frames_per_message(void)
{
    fws_ws_config wc;
    fws_ws_config_init(&wc);
    CHECK(wc.max_frames_per_message == 100000, "default max_frames_per_message %d", wc.max_frames_per_message);
    wc.max_frames_per_message = 10;
    fws_app* app;
    fws_app_new(NULL, &app);
    CHECK(fws_app_websocket(app, "/echo", echo, &wc, NULL) == FWS_OK, "route");
    fws_ws_events ev;
    fws_ws_events_init(&ev);
    ev.on_message = on_msg;
    CHECK(fws_app_websocket_events(app, "/events", &ev, &wc, NULL) == FWS_OK, "events route");
    int32_t port = 0;
    fws_app_start(app, "127.0.0.1:0", &port);
    const char* paths[] = { "/echo", "/events" };
    for (int p = 0; p < 2; p++) {
        for (int frames = 10; frames <= 11; frames++) {
            wsc c;
            if (wsc_connect(&c, port) != 0 || wsc_handshake(&c, paths[p], NULL, NULL, 0) != 101) {
                CHECK(0, "handshake %s", paths[p]);
                continue;
            }
            for (int i = 0; i < frames; i++) {
                wsc_send_frame(&c, i == frames - 1, 0, i == 0 ? 2 : 0, "ab", 2);
            }
            if (frames == 10) {
                uint8_t* data = NULL;
                size_t len = 0;
                int op = wsc_read_message(&c, &data, &len);
                CHECK(op == 2 && len == 20, "%s: 10 frames are one message (op %d len %zu)", paths[p], op, len);
                free(data);
            } else {
                int code = wsc_expect_close(&c);
                CHECK(code == 1009, "%s: 11 frames close with 1009: %d", paths[p], code);
            }
            wsc_close(&c);
        }
    }
    fws_app_shutdown(app, 2000);
    fws_app_free(app);
}

/* Answers pings like a live client would, for duration_ms; returns how many pings arrived (-1 if the server closed). */
static int live_client(wsc* c, int duration_ms)
{
    long end = now_ms() + duration_ms;
    int pings = 0;
    while (now_ms() < end) {
        wsc_frame f;
        if (wsc_read_frame(c, &f) != 0) {
            return -1;
        }
        if (f.opcode == 9) {
            pings++;
            wsc_send_frame(c, 1, 0, 10, f.payload, f.len);
        } else if (f.opcode == 8) {
            free(f.payload);
            return -1;
        }
        free(f.payload);
    }
    return pings;
}

static void keepalive(void)
{
    fws_ws_config wc;
    fws_ws_config_init(&wc);
    CHECK(wc.ping_interval_ms == 0 && wc.pong_timeout_ms == 0, "keepalive is off by default");
    wc.ping_interval_ms = 200;
    wc.pong_timeout_ms = 300;
    fws_app* app;
    fws_app_new(NULL, &app);
    CHECK(fws_app_websocket(app, "/echo", echo, &wc, NULL) == FWS_OK, "route");
    fws_ws_events ev;
    fws_ws_events_init(&ev);
    ev.on_message = on_msg;
    ev.on_close = on_close;
    CHECK(fws_app_websocket_events(app, "/events", &ev, &wc, NULL) == FWS_OK, "events route");
    int32_t port = 0;
    fws_app_start(app, "127.0.0.1:0", &port);
    const char* paths[] = { "/echo", "/events" };
    for (int p = 0; p < 2; p++) {
        /* A live client that answers pings stays connected. */
        wsc live;
        if (wsc_connect(&live, port) != 0 || wsc_handshake(&live, paths[p], NULL, NULL, 0) != 101) {
            CHECK(0, "handshake %s", paths[p]);
            continue;
        }
        int pings = live_client(&live, 1500);
        CHECK(pings >= 4, "%s: a live client gets pings every 200 ms and stays (%d pings in 1.5 s)", paths[p], pings);
        wsc_send_frame(&live, 1, 0, 1, "still here", 10);
        uint8_t* data = NULL;
        size_t len = 0;
        int op;
        do {
            free(data);
            data = NULL;
            op = wsc_read_message(&live, &data, &len);
        } while (op == 9);
        CHECK(op == 1 && len == 10, "%s: echo after keepalive rounds (op %d)", paths[p], op);
        free(data);
        wsc_send_frame(&live, 1, 0, 8, "\x03\xe8", 2);
        wsc_expect_close(&live);
        wsc_close(&live);
        sleep_ms(200); /* let that connection's handler or on_close finish before watching the next one */

        /* A dead peer (never answers, never sends) is closed within interval + timeout + a tick. */
        g_handler_close_code = 0;
        g_event_close_code = 0;
        wsc dead;
        if (wsc_connect(&dead, port) != 0 || wsc_handshake(&dead, paths[p], NULL, NULL, 0) != 101) {
            CHECK(0, "handshake %s", paths[p]);
            continue;
        }
        long start = now_ms();
        int eof = 0;
        while (!eof && now_ms() - start < 3000) {
            wsc_frame f;
            if (wsc_read_frame(&dead, &f) != 0) {
                eof = 1;
            } else {
                free(f.payload); /* pings we ignore */
            }
        }
        long took = now_ms() - start;
        CHECK(eof && took < 2000, "%s: a dead peer is closed after %ld ms (eof %d)", paths[p], took, eof);
        for (int i = 0; i < 100 && (p == 0 ? g_handler_close_code : g_event_close_code) == 0; i++) {
            sleep_ms(10);
        }
        if (p == 0) {
            CHECK(g_handler_close_code == 1006, "handler's read ended with 1006: %d", g_handler_close_code);
            pthread_mutex_lock(&g_lock);
            CHECK(strstr(g_handler_error, "keepalive") != NULL, "the handler's error names the keepalive: %s", g_handler_error);
            pthread_mutex_unlock(&g_lock);
        } else {
            CHECK(g_event_close_code == 1006, "on_close with 1006: %d", g_event_close_code);
            pthread_mutex_lock(&g_lock);
            CHECK(strstr(g_event_close_reason, "keepalive") != NULL, "on_close reason: %s", g_event_close_reason);
            pthread_mutex_unlock(&g_lock);
        }
        wsc_close(&dead);
    }
    fws_app_shutdown(app, 2000);
    fws_app_free(app);
}

static void http_routes_and_stats(void)
{
    fws_app* app;
    fws_app_new(NULL, &app);
    CHECK(fws_app_get(app, "/", page, NULL) == FWS_OK, "get route: %s", fws_last_error());
    CHECK(fws_app_get(app, "/broken", failing_page, NULL) == FWS_OK, "get route");
    CHECK(fws_app_get(app, "/picky", picky_page, NULL) == FWS_OK, "get route");
    CHECK(fws_app_get(app, NULL, page, NULL) == FWS_ERR_INVALID_ARGUMENT, "NULL pattern");
    CHECK(fws_app_get(app, "/x", NULL, NULL) == FWS_ERR_INVALID_ARGUMENT, "NULL handler");
    CHECK(fws_app_websocket(app, "/echo", echo, NULL, NULL) == FWS_OK, "ws route");
    int32_t port = 0;
    fws_app_start(app, "127.0.0.1:0", &port);
    char response[2048];
    int s = http_status(port, "GET /?name=fiber HTTP/1.1\r\nHost: x\r\n\r\n", response, sizeof response);
    CHECK(s == 200, "GET / -> %d", s);
    CHECK(strstr(response, "Content-Type: text/html; charset=utf-8") != NULL, "content type: %s", response);
    CHECK(strstr(response, "<h1>hello fiber</h1>") != NULL, "body: %s", response);
    wsc c;
    if (wsc_connect(&c, port) == 0) {
        const char* head = "HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        wsc_send(&c, head, strlen(head));
        char buf[1024];
        size_t got = 0;
        for (;;) { /* until the server closes (Connection: close); the socket has a 5 s receive timeout */
            ssize_t n = recv(c.fd, buf + got, sizeof buf - 1 - got, 0);
            if (n <= 0 || got + (size_t)n >= sizeof buf - 1) {
                break;
            }
            got += (size_t)n;
        }
        buf[got] = 0;
        CHECK(strncmp(buf, "HTTP/1.1 200", 12) == 0, "HEAD status: %s", buf);
        CHECK(strstr(buf, "Content-Length: 20") != NULL && strstr(buf, "<h1>") == NULL, "HEAD: length, no body: %s", buf);
        wsc_close(&c);
    }
    s = http_status(port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", response, sizeof response);
    CHECK(s == 405, "POST / -> %d", s);
    s = http_status(port, "GET /picky HTTP/1.1\r\nHost: x\r\n\r\n", response, sizeof response);
    CHECK(s == 201 && g_bad_send_checks == 5, "bad fws_ctx_send arguments refused (%d of 5), the good one answered %d",
          g_bad_send_checks, s);
    CHECK(strstr(response, "X-Evil") == NULL, "no header injection: %s", response);
    s = http_status(port, "GET /broken HTTP/1.1\r\nHost: x\r\n\r\n", response, sizeof response);
    CHECK(s == 500, "a failing HTTP handler -> %d", s);
    s = http_status(port, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n", response, sizeof response);
    CHECK(s == 404, "GET /nothing -> %d", s);
    s = http_status(port, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", response, sizeof response);
    CHECK(s == 426, "plain GET on a WebSocket route -> %d", s);
    s = http_status(port, "GARBAGE\r\n\r\n", response, sizeof response);
    CHECK(s == 400, "garbage -> %d", s);

    /* 10 echoes of 100 bytes each. */
    if (wsc_connect(&c, port) == 0 && wsc_handshake(&c, "/echo", NULL, NULL, 0) == 101) {
        uint8_t payload[100];
        memset(payload, 'x', sizeof payload);
        for (int i = 0; i < 10; i++) {
            wsc_send_frame(&c, 1, 0, 2, payload, sizeof payload);
            uint8_t* data = NULL;
            size_t len = 0;
            wsc_read_message(&c, &data, &len);
            free(data);
        }
        fws_stats st;
        memset(&st, 0, sizeof st);
        st.struct_size = sizeof st;
        /* A write is counted once it returned: the last echo may reach us a moment before its counter moves. */
        for (int i = 0; i < 100; i++) {
            CHECK(fws_app_stats(app, &st) == FWS_OK, "stats: %s", fws_last_error());
            if (st.messages_out >= 10) {
                break;
            }
            sleep_ms(10);
        }
        CHECK(st.messages_in == 10 && st.messages_out == 10, "messages in/out %lld/%lld", (long long)st.messages_in,
              (long long)st.messages_out);
        CHECK(st.bytes_in == 1000 && st.bytes_out == 1000, "bytes in/out %lld/%lld", (long long)st.bytes_in, (long long)st.bytes_out);
        CHECK(st.websockets_open == 1 && st.websockets_opened == 1, "websockets open %lld opened %lld",
              (long long)st.websockets_open, (long long)st.websockets_opened);
        CHECK(st.refused_not_found == 2, "refused_not_found %lld (POST /, /nothing)", (long long)st.refused_not_found);
        CHECK(st.refused_upgrade_required == 1, "refused_upgrade_required %lld", (long long)st.refused_upgrade_required);
        CHECK(st.refused_bad_request == 1, "refused_bad_request %lld", (long long)st.refused_bad_request);
        CHECK(st.connections_accepted >= 8, "connections_accepted %lld", (long long)st.connections_accepted);
        /* An older, smaller struct: only its fields are written. */
        struct { uint32_t struct_size; int64_t connections_open; int64_t canary; } small;
        small.struct_size = 16;
        small.canary = 12345;
        CHECK(fws_app_stats(app, (fws_stats*)(void*)&small) == FWS_OK && small.canary == 12345 && small.connections_open >= 1,
              "a 16-byte stats struct: open %lld canary %lld", (long long)small.connections_open, (long long)small.canary);
        wsc_close(&c);
    } else {
        CHECK(0, "handshake /echo");
    }
    CHECK(fws_app_stats(app, NULL) == FWS_ERR_INVALID_ARGUMENT, "NULL stats");
    fws_stats zero;
    memset(&zero, 0, sizeof zero);
    CHECK(fws_app_stats(app, &zero) == FWS_ERR_INVALID_ARGUMENT && strstr(fws_last_error(), "struct_size"), "struct_size 0: %s",
          fws_last_error());
    CHECK(fws_app_stats(NULL, &zero) == FWS_ERR_INVALID_ARGUMENT, "NULL app");
    fws_app_shutdown(app, 2000);
    fws_app_free(app);
}

static void log_callback(void)
{
    CHECK(fws_set_log_callback(log_sink, NULL, 9) == FWS_ERR_INVALID_ARGUMENT, "min_level out of range");
    CHECK(fws_set_log_callback(log_sink, NULL, FWS_LOG_DEBUG) == FWS_OK, "set: %s", fws_last_error());
    fws_app* app;
    fws_app_new(NULL, &app);
    fws_app_websocket(app, "/fail", failing_handler, NULL, NULL);
    int32_t port = 0;
    fws_app_start(app, "127.0.0.1:0", &port);
    wsc c;
    if (wsc_connect(&c, port) == 0 && wsc_handshake(&c, "/fail", NULL, NULL, 0) == 101) {
        wsc_expect_close(&c);
    }
    wsc_close(&c);
    for (int i = 0; i < 100 && g_log_errors == 0; i++) {
        sleep_ms(10);
    }
    CHECK(g_log_errors >= 1, "a failing handler is reported through the callback (%d)", g_log_errors);
    pthread_mutex_lock(&g_lock);
    CHECK(strstr(g_log_last, "/fail") != NULL, "the message names the route: %s", g_log_last);
    pthread_mutex_unlock(&g_lock);
    CHECK(fws_set_log_callback(NULL, NULL, 0) == FWS_OK, "restore the default");
    fws_app_shutdown(app, 2000);
    fws_app_free(app);
}

/* An app started, used by every kind of connection, shut down and freed leaves no thread or descriptor behind. */
static void nothing_leaks(void)
{
    /* Round 0 warms up: the runtime opens some process-wide things lazily (e.g. /dev/urandom, its own threads). */
    int threads_before = -1;
    int fds_before = -1;
    for (int round = 0; round < 4; round++) {
        if (round == 1) {
            sleep_ms(200);
            threads_before = count_dir("/proc/self/task");
            fds_before = count_dir("/proc/self/fd");
        }
        fws_ws_config wc;
        fws_ws_config_init(&wc);
        wc.ping_interval_ms = 100;
        fws_app* app;
        fws_app_new(NULL, &app);
        fws_app_websocket(app, "/echo", echo, &wc, NULL);
        fws_ws_events ev;
        fws_ws_events_init(&ev);
        ev.on_message = on_msg;
        fws_app_websocket_events(app, "/events", &ev, NULL, NULL);
        int32_t port = 0;
        fws_app_start(app, "127.0.0.1:0", &port);
        wsc conns[20];
        for (int i = 0; i < 20; i++) {
            if (wsc_connect(&conns[i], port) == 0) {
                wsc_handshake(&conns[i], i % 2 ? "/echo" : "/events", NULL, NULL, 0);
                wsc_send_frame(&conns[i], 1, 0, 1, "x", 1);
            }
        }
        sleep_ms(150);
        /* Half are still open at shutdown; the rest vanished without a close frame. */
        for (int i = 0; i < 10; i++) {
            wsc_close(&conns[i]);
        }
        CHECK(fws_app_shutdown(app, 3000) == FWS_OK, "shutdown round %d: %s", round, fws_last_error());
        CHECK(fws_app_free(app) == FWS_OK, "free round %d", round);
        for (int i = 10; i < 20; i++) {
            wsc_close(&conns[i]);
        }
    }
    int threads_after = -1, fds_after = -1;
    for (int i = 0; i < 100; i++) {
        threads_after = count_dir("/proc/self/task");
        fds_after = count_dir("/proc/self/fd");
        if (threads_after <= threads_before && fds_after <= fds_before) {
            break;
        }
        sleep_ms(20);
    }
    CHECK(threads_after <= threads_before, "threads back to %d after 3 apps: %d", threads_before, threads_after);
    CHECK(fds_after <= fds_before, "descriptors back to %d after 3 apps: %d", fds_before, fds_after);
}

/* The library's threads block the host's asynchronous signals, even when the host called into the library before
 * blocking them itself: a SIGTERM sent to the process reaches the host's sigwait and never kills it. */
static void host_signals_stay_with_the_host(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    fws_app* app;
    fws_app_new(NULL, &app);
    fws_app_websocket(app, "/echo", echo, NULL, NULL);
    int32_t port = 0;
    fws_app_start(app, "127.0.0.1:0", &port);
    wsc c;
    if (wsc_connect(&c, port) == 0 && wsc_handshake(&c, "/echo", NULL, NULL, 0) == 101) {
        wsc_send_frame(&c, 1, 0, 1, "x", 1);
        uint8_t* data = NULL;
        size_t len = 0;
        wsc_read_message(&c, &data, &len);
        free(data);
    }
    /* Every library thread (loop, handler, runtime finalizer) has SIGTERM blocked. */
    DIR* d = opendir("/proc/self/task");
    int checked = 0, unblocked = 0;
    struct dirent* e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char path[300], comm[64] = "", line[256];
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE* f = fopen(path, "r");
        if (!f) {
            continue;
        }
        if (!fgets(comm, sizeof comm, f)) {
            comm[0] = 0;
        }
        fclose(f);
        if (strncmp(comm, "fiberws", 7) != 0 && strncmp(comm, ".NET", 4) != 0) {
            continue;
        }
        snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
        f = fopen(path, "r");
        while (f && fgets(line, sizeof line, f)) {
            unsigned long long mask;
            if (sscanf(line, "SigBlk: %llx", &mask) == 1) {
                checked++;
                if (!(mask & (1ULL << (SIGTERM - 1)))) {
                    unblocked++;
                    fprintf(stderr, "thread %s does not block SIGTERM (SigBlk %llx)\n", comm, mask);
                }
            }
        }
        if (f) {
            fclose(f);
        }
    }
    if (d) {
        closedir(d);
    }
    CHECK(checked >= 3 && unblocked == 0, "library threads block SIGTERM: %d checked, %d not", checked, unblocked);
    kill(getpid(), SIGTERM);
    struct timespec wait = { 2, 0 };
    int sig = sigtimedwait(&set, NULL, &wait);
    CHECK(sig == SIGTERM, "SIGTERM reached the host's sigwait (got %d)", sig);
    wsc_close(&c);
    fws_app_shutdown(app, 2000);
    fws_app_free(app);
}

int main(void)
{
    /* Called into the library (which starts the runtime and its finalizer thread) before any signal is blocked. */
    fws_ws_config early;
    fws_ws_config_init(&early);
    nothing_leaks();
    connection_cap();
    frames_per_message();
    keepalive();
    http_routes_and_stats();
    log_callback();
    host_signals_stay_with_the_host();
    return wsc_summary("test_reliability");
}
