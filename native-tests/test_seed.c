/* The seed scenario in-process: Use("/ws") with IsWebSocketUpgrade + Locals("allowed"), the "/ws/:id" handler
 * reading Locals, Params, Query, Cookies and echoing; a raw client drives it over loopback. */
#include <fiberws.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "wsclient.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_allowed[16], g_id[64], g_v[64], g_session[64], g_header[128], g_ip[64];
static int g_session_rc, g_read_rc, g_close_code, g_handlers_done, g_stale_rc, g_last_error_code;
static fws_conn* g_last_conn;

static int32_t upgrade(void* user, fws_ctx* c)
{
    (void)user;
    if (fws_ctx_is_websocket_upgrade(c) == 1) {
        fws_ctx_locals_set(c, "allowed", (void*)1);
        return FWS_NEXT;
    }
    return 426;
}

static int32_t handler(void* user, fws_conn* c)
{
    (void)user;
    void* allowed = NULL;
    const char *id, *v, *session, *header, *ip;
    size_t len;
    fws_conn_locals_get(c, "allowed", &allowed);
    fws_conn_param(c, "id", &id, &len);
    fws_conn_query(c, "v", &v, NULL);
    int session_rc = fws_conn_cookie(c, "session", &session, NULL);
    fws_conn_header(c, "x-test", &header, NULL);
    fws_conn_ip(c, &ip, NULL);
    pthread_mutex_lock(&g_lock);
    snprintf(g_allowed, sizeof g_allowed, "%s", allowed ? "true" : "false");
    snprintf(g_id, sizeof g_id, "%s", id);
    snprintf(g_v, sizeof g_v, "%s", v);
    snprintf(g_session, sizeof g_session, "%s", session);
    snprintf(g_header, sizeof g_header, "%s", header);
    snprintf(g_ip, sizeof g_ip, "%s", ip);
    g_session_rc = session_rc;
    pthread_mutex_unlock(&g_lock);

    int32_t mt, rc, last_code = -1;
    const uint8_t* msg;
    for (;;) {
        if ((rc = fws_conn_read_message(c, &mt, &msg, &len)) != FWS_OK) {
            last_code = fws_last_error_close_code(); /* thread-local: read right after the failing call */
            break;
        }
        if (fws_conn_write_message(c, mt, msg, len) != FWS_OK) {
            break;
        }
    }
    int32_t code = 0;
    fws_conn_close_code(c, &code);
    pthread_mutex_lock(&g_lock);
    g_read_rc = rc;
    g_close_code = code;
    g_last_error_code = last_code;
    g_last_conn = c;
    g_handlers_done++;
    pthread_mutex_unlock(&g_lock);
    return 0;
}

static int handlers_done(void)
{
    pthread_mutex_lock(&g_lock);
    int n = g_handlers_done;
    pthread_mutex_unlock(&g_lock);
    return n;
}

static void wait_handlers(int n)
{
    for (int i = 0; i < 200 && handlers_done() < n; i++) {
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

int main(void)
{
    fws_app* app;
    CHECK(fws_app_new(NULL, &app) == FWS_OK, "fws_app_new: %s", fws_last_error());
    CHECK(fws_app_use(app, "/ws", upgrade, NULL) == FWS_OK, "use: %s", fws_last_error());
    CHECK(fws_app_websocket(app, "/ws/:id", handler, NULL, NULL) == FWS_OK, "websocket: %s", fws_last_error());
    int port = 0;
    CHECK(fws_app_start(app, "127.0.0.1:0", &port) == FWS_OK, "start: %s", fws_last_error());
    CHECK(port > 0, "port %d", port);

    /* ws://localhost:PORT/ws/123?v=1.0 -> the seed's values, then an echo */
    wsc c;
    CHECK(wsc_connect(&c, port) == 0, "connect");
    char head[2048];
    int status = wsc_handshake(&c, "/ws/123?v=1.0", "X-Test: hello\r\n", head, sizeof head);
    CHECK(status == 101, "status %d", status);
    CHECK(strstr(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != NULL, "accept header in: %s", head);
    CHECK(strstr(head, "Upgrade: websocket\r\n") != NULL, "upgrade header");
    const char* text = "hello fiberws";
    CHECK(wsc_send_frame(&c, 1, 0, 1, text, strlen(text)) == 0, "send");
    uint8_t* data;
    size_t len;
    int op = wsc_read_message(&c, &data, &len);
    CHECK(op == 1 && len == strlen(text) && memcmp(data, text, len) == 0, "echo op=%d len=%zu", op, len);
    free(data);
    const uint8_t bin[] = { 0, 1, 2, 255, 0 };
    wsc_send_frame(&c, 1, 0, 2, bin, sizeof bin);
    op = wsc_read_message(&c, &data, &len);
    CHECK(op == 2 && len == sizeof bin && memcmp(data, bin, len) == 0, "binary echo op=%d", op);
    free(data);
    /* client closes with 1000: the server echoes 1000, the handler's read ends with FWS_ERR_CLOSED / 1000 */
    uint8_t close_payload[2] = { 0x03, 0xE8 };
    wsc_send_frame(&c, 1, 0, 8, close_payload, 2);
    int code = wsc_expect_close(&c);
    CHECK(code == 1000, "close echo %d", code);
    CHECK(wsc_wait_eof(&c, 3000) == 1, "server closes TCP after the closing handshake");
    wsc_close(&c);
    wait_handlers(1);
    pthread_mutex_lock(&g_lock);
    CHECK(strcmp(g_allowed, "true") == 0, "Locals(allowed) = %s", g_allowed);
    CHECK(strcmp(g_id, "123") == 0, "Params(id) = %s", g_id);
    CHECK(strcmp(g_v, "1.0") == 0, "Query(v) = %s", g_v);
    CHECK(strcmp(g_session, "") == 0 && g_session_rc == FWS_ERR_NOT_FOUND, "Cookies(session) = '%s' rc %d", g_session, g_session_rc);
    CHECK(strcmp(g_header, "hello") == 0, "Headers(X-Test) = %s", g_header);
    CHECK(strcmp(g_ip, "127.0.0.1") == 0, "IP = %s", g_ip);
    CHECK(g_read_rc == FWS_ERR_CLOSED, "read rc %d", g_read_rc);
    CHECK(g_close_code == 1000, "close code %d", g_close_code);
    CHECK(g_last_error_code == 1000, "fws_last_error_close_code %d", g_last_error_code);
    fws_conn* stale = g_last_conn;
    pthread_mutex_unlock(&g_lock);

    /* a handle used after its handler returned is refused, never someone else's connection */
    const uint8_t* sdata;
    size_t slen;
    int32_t stype;
    g_stale_rc = fws_conn_read_message(stale, &stype, &sdata, &slen);
    CHECK(g_stale_rc == FWS_ERR_INVALID_ARGUMENT, "stale handle rc %d", g_stale_rc);
    CHECK(strstr(fws_last_error(), "conn") != NULL, "stale handle message: %s", fws_last_error());

    /* a plain request to /ws/... is answered 426 by the seed's middleware; other paths are 404 */
    CHECK(wsc_connect(&c, port) == 0, "connect");
    char response[4096];
    status = wsc_request(&c, "GET /ws/123 HTTP/1.1\r\nHost: x\r\n\r\n", response, sizeof response);
    CHECK(status == 426, "plain request status %d", status);
    status = wsc_request(&c, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n", response, sizeof response);
    CHECK(status == 404, "keep-alive second request: status %d", status);
    wsc_close(&c);

    /* the handler returning normally ends with a close handshake (1000), not a dropped TCP (Fiber v2's 1006) */
    CHECK(wsc_connect(&c, port) == 0, "connect");
    CHECK(wsc_handshake(&c, "/ws/7", NULL, NULL, 0) == 101, "handshake");
    shutdown(c.fd, SHUT_WR); /* the handler's read sees 1006, returns, and the server sends close 1000 */
    code = wsc_expect_close(&c);
    CHECK(code == 1000, "close after handler returned: %d", code);
    wsc_close(&c);
    wait_handlers(2);
    pthread_mutex_lock(&g_lock);
    CHECK(g_close_code == 1006, "TCP drop seen as 1006, got %d", g_close_code);
    pthread_mutex_unlock(&g_lock);

    CHECK(fws_app_shutdown(app, 2000) == FWS_OK, "shutdown: %s", fws_last_error());
    CHECK(fws_app_free(app) == FWS_OK, "free");
    return wsc_summary("test_seed");
}
