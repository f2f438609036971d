/* No caller input crashes the process: NULL, forged, freed, stale and wrong-type handles, NULL strings and
 * out-params, bad config struct sizes, bad lengths, types and close codes, and calls in the wrong state all
 * return the documented code with a specific fws_last_error(). Also: the helpers that need no handle, the
 * recover handler, IsCloseError/IsUnexpectedCloseError and the thread-local last error. */
#define _GNU_SOURCE
#include <fiberws.h>

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "wsclient.h"

/* Checks run on the main thread, handler threads and the event loop: make CHECK thread-safe. */
static pthread_mutex_t g_check_lock = PTHREAD_MUTEX_INITIALIZER;
static void tcheck(int ok, const char* file, int line, const char* expr, const char* fmt, ...)
{
    char msg[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(msg, sizeof msg, fmt, args);
    va_end(args);
    pthread_mutex_lock(&g_check_lock);
    wsc_check(ok, file, line, expr, "%s", msg);
    pthread_mutex_unlock(&g_check_lock);
}
#undef CHECK
#define CHECK(cond, ...) tcheck((cond) != 0, __FILE__, __LINE__, #cond, __VA_ARGS__)

/* Before each expected failure, a different failure is provoked (a too small buffer) so that a call that fails
 * without setting its own message is caught: the message must differ from this sentinel. */
static char g_sentinel[512];

static void prime_error(void)
{
    uint8_t b[1];
    size_t n;
    fws_format_close_message(1000, "sentinel", b, sizeof b, &n);
}

static void expect_err_at(const char* file, int line, const char* call, int32_t rc, int32_t expected,
                          const char* needle)
{
    const char* e = fws_last_error();
    int ok = rc == expected && e != NULL && e[0] != 0 && strcmp(e, g_sentinel) != 0 &&
             (needle == NULL || strstr(e, needle) != NULL);
    tcheck(ok, file, line, call, "rc %d (%s), expected %s; last_error \"%s\"%s%s", rc, fws_result_name(rc),
           fws_result_name(expected), e ? e : "(NULL)", needle ? ", should mention " : "", needle ? needle : "");
}

#define EXPECT_ERR(call, expected, needle)                                                  \
    do {                                                                                    \
        prime_error();                                                                      \
        int32_t rc_ = (int32_t)(call);                                                      \
        expect_err_at(__FILE__, __LINE__, #call, rc_, (expected), (needle));                \
    } while (0)
#define EXPECT_INVALID(call, needle) EXPECT_ERR(call, FWS_ERR_INVALID_ARGUMENT, needle)

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static int32_t noop_mw(void* user, fws_ctx* ctx)
{
    (void)user;
    (void)ctx;
    return FWS_NEXT;
}

static int32_t echo(void* user, fws_conn* c)
{
    (void)user;
    int32_t mt;
    const uint8_t* msg;
    size_t len;
    while (fws_conn_read_message(c, &mt, &msg, &len) == FWS_OK) {
        if (fws_conn_write_message(c, mt, msg, len) != FWS_OK) {
            break;
        }
    }
    return 0;
}

static int32_t http_ok(void* user, fws_ctx* ctx)
{
    (void)user;
    return fws_ctx_send(ctx, 200, "text/plain", "ok", 2);
}

/* ---- every function with a handle that is not a live one ------------------------------------------------ */

static void all_app_calls(fws_app* app, const char* needle)
{
    int32_t port;
    EXPECT_INVALID(fws_app_use(app, "/x", noop_mw, NULL), needle);
    EXPECT_INVALID(fws_app_websocket(app, "/x", echo, NULL, NULL), needle);
    EXPECT_INVALID(fws_app_start(app, "127.0.0.1:0", &port), needle);
    EXPECT_INVALID(fws_app_listen(app, "127.0.0.1:0"), needle); /* must fail at once, not block */
    EXPECT_INVALID(fws_app_start_tls(app, "127.0.0.1:0", "cert.pem", "key.pem", &port), needle);
    EXPECT_INVALID(fws_app_get(app, "/x", http_ok, NULL), needle);
    fws_stats st;
    st.struct_size = sizeof st;
    EXPECT_INVALID(fws_app_stats(app, &st), needle);
    EXPECT_INVALID(fws_app_listen_tls(app, "127.0.0.1:0", "cert.pem", "key.pem"), needle);
    EXPECT_INVALID(fws_app_shutdown(app, 0), needle);
    fws_ws_events ev;
    fws_ws_events_init(&ev);
    EXPECT_INVALID(fws_app_websocket_events(app, "/x", &ev, NULL, NULL), needle);
    EXPECT_INVALID(fws_app_publish(app, "t", FWS_TEXT_MESSAGE, (const uint8_t*)"x", 1, NULL), needle);
    if (app != NULL) {
        EXPECT_INVALID(fws_app_free(app), needle);
    }
}

static void all_ctx_calls(fws_ctx* ctx, const char* needle)
{
    void* v = NULL;
    const char* s = NULL;
    size_t n = 0;
    EXPECT_INVALID(fws_ctx_is_websocket_upgrade(ctx), needle);
    EXPECT_INVALID(fws_ctx_locals_set(ctx, "k", &v), needle);
    EXPECT_INVALID(fws_ctx_locals_get(ctx, "k", &v), needle);
    EXPECT_INVALID(fws_ctx_param(ctx, "id", &s, &n), needle);
    EXPECT_INVALID(fws_ctx_query(ctx, "q", &s, &n), needle);
    EXPECT_INVALID(fws_ctx_cookie(ctx, "c", &s, &n), needle);
    EXPECT_INVALID(fws_ctx_header(ctx, "Host", &s, &n), needle);
    EXPECT_INVALID(fws_ctx_path(ctx, &s, &n), needle);
    EXPECT_INVALID(fws_ctx_send(ctx, 200, "text/plain", "x", 1), needle);
    EXPECT_INVALID(fws_ctx_ip(ctx, &s, &n), needle);
}

static void all_conn_calls(fws_conn* conn, const char* needle)
{
    int32_t t, code;
    const uint8_t* d;
    const char* s;
    size_t n;
    void* v;
    EXPECT_INVALID(fws_conn_read_message(conn, &t, &d, &n), needle);
    EXPECT_INVALID(fws_conn_write_message(conn, FWS_TEXT_MESSAGE, (const uint8_t*)"x", 1), needle);
    EXPECT_INVALID(fws_conn_write_control(conn, FWS_PING_MESSAGE, (const uint8_t*)"x", 1, 0), needle);
    EXPECT_INVALID(fws_conn_close(conn, 1000, "bye"), needle);
    EXPECT_INVALID(fws_conn_close_code(conn, &code), needle);
    EXPECT_INVALID(fws_conn_close_text(conn, &s, &n), needle);
    EXPECT_INVALID(fws_conn_set_read_limit(conn, 100), needle);
    EXPECT_INVALID(fws_conn_locals_set(conn, "k", &v), needle);
    EXPECT_INVALID(fws_conn_locals_get(conn, "k", &v), needle);
    EXPECT_INVALID(fws_conn_param(conn, "id", &s, &n), needle);
    EXPECT_INVALID(fws_conn_query(conn, "q", &s, &n), needle);
    EXPECT_INVALID(fws_conn_cookie(conn, "c", &s, &n), needle);
    EXPECT_INVALID(fws_conn_header(conn, "Host", &s, &n), needle);
    EXPECT_INVALID(fws_conn_ip(conn, &s, &n), needle);
    EXPECT_INVALID(fws_conn_subprotocol(conn, &s, &n), needle);
    EXPECT_INVALID(fws_conn_send(conn, FWS_TEXT_MESSAGE, (const uint8_t*)"x", 1, &n), needle);
    EXPECT_INVALID(fws_conn_buffered_amount(conn, &n), needle);
    EXPECT_INVALID(fws_conn_subscribe(conn, "t"), needle);
    EXPECT_INVALID(fws_conn_unsubscribe(conn, "t"), needle);
}

/* ---- the middleware: NULL strings and out-params with a live ctx, wrong-type casts ---------------------- */

static fws_app* g_app;
static fws_ctx* g_saved_ctx;
static int g_mw_runs;

static int32_t checking_mw(void* user, fws_ctx* ctx)
{
    (void)user;
    void* v = NULL;
    const char* s = NULL;
    size_t n = 0;
    EXPECT_INVALID(fws_ctx_locals_set(ctx, NULL, &v), "key");
    EXPECT_INVALID(fws_ctx_locals_get(ctx, NULL, &v), "key");
    EXPECT_INVALID(fws_ctx_locals_get(ctx, "k", NULL), "value_out");
    EXPECT_INVALID(fws_ctx_param(ctx, NULL, &s, &n), "name");
    EXPECT_INVALID(fws_ctx_param(ctx, "id", NULL, &n), "value_out");
    EXPECT_INVALID(fws_ctx_query(ctx, NULL, &s, &n), "name");
    EXPECT_INVALID(fws_ctx_query(ctx, "q", NULL, &n), "value_out");
    EXPECT_INVALID(fws_ctx_cookie(ctx, NULL, &s, &n), "name");
    EXPECT_INVALID(fws_ctx_cookie(ctx, "c", NULL, &n), "value_out");
    EXPECT_INVALID(fws_ctx_header(ctx, NULL, &s, &n), "name");
    EXPECT_INVALID(fws_ctx_header(ctx, "Host", NULL, &n), "value_out");
    EXPECT_INVALID(fws_ctx_path(ctx, NULL, &n), "value_out");
    EXPECT_INVALID(fws_ctx_ip(ctx, NULL, &n), "value_out");
    /* len_out may be NULL */
    CHECK(fws_ctx_path(ctx, &s, NULL) == FWS_OK && strcmp(s, "/mw") == 0, "ctx_path with len_out NULL: %s", fws_last_error());
    /* a ctx handle passed as a conn or an app */
    EXPECT_INVALID(fws_conn_close((fws_conn*)ctx, 1000, NULL), "fws_conn");
    EXPECT_INVALID(fws_app_shutdown((fws_app*)ctx, 0), "fws_app");
    EXPECT_ERR(fws_app_free(g_app), FWS_ERR_INVALID_STATE, NULL);
    CHECK(fws_ctx_is_websocket_upgrade(ctx) == 0, "the live ctx still works");
    pthread_mutex_lock(&g_lock);
    g_saved_ctx = ctx;
    g_mw_runs++;
    pthread_mutex_unlock(&g_lock);
    return 403;
}

/* ---- the handler: bad writes, closes and out-params with a live conn ----------------------------------- */

static fws_conn* g_saved_conn;
static int g_checks_done;

static int32_t checking_handler(void* user, fws_conn* c)
{
    (void)user;
    int32_t t;
    const uint8_t* d;
    size_t n;
    const char* s;
    void* v;
    int rc = fws_conn_read_message(c, &t, &d, &n);
    CHECK(rc == FWS_OK && n == 2 && memcmp(d, "go", 2) == 0, "first read: %d %s", rc, fws_last_error());

    static const uint8_t buf[256] = { 'x' };
    EXPECT_INVALID(fws_conn_write_message(c, 0, buf, 1), NULL);
    EXPECT_INVALID(fws_conn_write_message(c, 3, buf, 1), NULL);
    EXPECT_INVALID(fws_conn_write_message(c, 77, buf, 1), NULL);
    EXPECT_INVALID(fws_conn_write_message(c, -1, buf, 1), NULL);
    EXPECT_INVALID(fws_conn_write_message(c, FWS_TEXT_MESSAGE, (const uint8_t*)"a\xC0\x80", 3), "UTF-8");
    EXPECT_INVALID(fws_conn_write_message(c, FWS_TEXT_MESSAGE, (const uint8_t*)"\xED\xA0\x80", 3), "UTF-8");
    EXPECT_INVALID(fws_conn_write_message(c, FWS_BINARY_MESSAGE, NULL, 5), "NULL");
    /* a length over 2 GiB with a valid pointer: refused before anything is read */
    EXPECT_INVALID(fws_conn_write_message(c, FWS_BINARY_MESSAGE, buf, (size_t)1 << 40), "len");
    EXPECT_INVALID(fws_conn_write_message(c, FWS_BINARY_MESSAGE, buf, ((size_t)2 << 30) + 1), "len");
    EXPECT_INVALID(fws_conn_write_control(c, FWS_PING_MESSAGE, buf, 126, 0), "125");
    EXPECT_INVALID(fws_conn_write_control(c, FWS_PING_MESSAGE, buf, (size_t)1 << 40, 0), NULL);
    EXPECT_INVALID(fws_conn_write_control(c, FWS_PING_MESSAGE, NULL, 5, 0), NULL);
    EXPECT_INVALID(fws_conn_write_control(c, FWS_TEXT_MESSAGE, buf, 1, 0), NULL);
    EXPECT_INVALID(fws_conn_write_control(c, FWS_PING_MESSAGE, buf, 1, -1), "timeout_ms");
    EXPECT_INVALID(fws_conn_close(c, 999, NULL), "999");
    EXPECT_INVALID(fws_conn_close(c, 1004, NULL), "1004");
    EXPECT_INVALID(fws_conn_close(c, 1006, NULL), "1006");
    EXPECT_INVALID(fws_conn_close(c, 5000, NULL), "5000");
    char reason[201];
    memset(reason, 'r', 200);
    reason[200] = 0;
    EXPECT_INVALID(fws_conn_close(c, 1000, reason), NULL);
    EXPECT_INVALID(fws_conn_set_read_limit(c, -1), "limit");
    EXPECT_INVALID(fws_conn_read_message(c, &t, NULL, &n), "data_out");
    EXPECT_INVALID(fws_conn_read_message(c, &t, &d, NULL), "len_out");
    EXPECT_INVALID(fws_conn_close_code(c, NULL), "code_out");
    EXPECT_INVALID(fws_conn_close_text(c, NULL, &n), "value_out");
    EXPECT_INVALID(fws_conn_locals_set(c, NULL, &v), "key");
    EXPECT_INVALID(fws_conn_locals_get(c, NULL, &v), "key");
    EXPECT_INVALID(fws_conn_locals_get(c, "k", NULL), "value_out");
    EXPECT_INVALID(fws_conn_param(c, NULL, &s, &n), "name");
    EXPECT_INVALID(fws_conn_param(c, "id", NULL, &n), "value_out");
    EXPECT_INVALID(fws_conn_query(c, NULL, &s, &n), "name");
    EXPECT_INVALID(fws_conn_query(c, "q", NULL, &n), "value_out");
    EXPECT_INVALID(fws_conn_cookie(c, NULL, &s, &n), "name");
    EXPECT_INVALID(fws_conn_cookie(c, "c", NULL, &n), "value_out");
    EXPECT_INVALID(fws_conn_header(c, NULL, &s, &n), "name");
    EXPECT_INVALID(fws_conn_header(c, "Host", NULL, &n), "value_out");
    EXPECT_INVALID(fws_conn_ip(c, NULL, &n), "value_out");
    EXPECT_INVALID(fws_conn_subprotocol(c, NULL, &n), "value_out");
    /* event-API functions on a blocking connection */
    EXPECT_ERR(fws_conn_subscribe(c, "t"), FWS_ERR_INVALID_STATE, NULL);
    EXPECT_ERR(fws_conn_unsubscribe(c, "t"), FWS_ERR_INVALID_STATE, NULL);
    EXPECT_INVALID(fws_conn_send(c, 77, buf, 1, NULL), NULL);
    EXPECT_INVALID(fws_conn_send(c, FWS_BINARY_MESSAGE, NULL, 5, NULL), "NULL");
    EXPECT_INVALID(fws_conn_send(c, FWS_BINARY_MESSAGE, buf, (size_t)1 << 40, NULL), "len");
    EXPECT_INVALID(fws_conn_send(c, FWS_TEXT_MESSAGE, (const uint8_t*)"a\xC0\x80", 3, NULL), "UTF-8");
    EXPECT_INVALID(fws_conn_buffered_amount(c, NULL), "amount_out");
    size_t amount = 99;
    CHECK(fws_conn_buffered_amount(c, &amount) == FWS_OK && amount == 0, "buffered_amount of a blocking conn: %zu", amount);
    /* a conn handle passed as an app; freeing the app from its own handler */
    EXPECT_INVALID(fws_app_use((fws_app*)c, "/x", noop_mw, NULL), "fws_app");
    EXPECT_INVALID(fws_app_shutdown((fws_app*)c, 0), "fws_app");
    EXPECT_ERR(fws_app_free(g_app), FWS_ERR_INVALID_STATE, NULL);

    /* none of that disturbed the connection: the next frame the client sees is "ok" */
    rc = fws_conn_write_message(c, FWS_TEXT_MESSAGE, (const uint8_t*)"ok", 2);
    CHECK(rc == FWS_OK, "write after the bad calls: %d %s", rc, fws_last_error());
    rc = fws_conn_close(c, 1000, "bye");
    CHECK(rc == FWS_OK, "close(1000, bye): %d %s", rc, fws_last_error());
    EXPECT_ERR(fws_conn_write_message(c, FWS_TEXT_MESSAGE, (const uint8_t*)"late", 4), FWS_ERR_CLOSE_SENT, NULL);
    EXPECT_ERR(fws_conn_write_control(c, FWS_PING_MESSAGE, (const uint8_t*)"p", 1, 0), FWS_ERR_CLOSE_SENT, NULL);
    EXPECT_ERR(fws_conn_send(c, FWS_TEXT_MESSAGE, (const uint8_t*)"late", 4, NULL), FWS_ERR_CLOSE_SENT, NULL);
    rc = fws_conn_close(c, 1000, "bye");
    CHECK(rc == FWS_OK, "second close is a no-op: %d %s", rc, fws_last_error());
    rc = fws_conn_close(c, 3000, "other");
    CHECK(rc == FWS_OK, "third close, other code, is a no-op: %d %s", rc, fws_last_error());
    pthread_mutex_lock(&g_lock);
    g_saved_conn = c;
    g_checks_done++;
    pthread_mutex_unlock(&g_lock);
    return 0;
}

/* ---- an event-API route: bad calls inside on_open (event loop thread), the conn after on_close --------- */

static fws_conn* g_ev_saved;
static int g_ev_open_done, g_ev_closed, g_ev_close_code;

static int32_t ev_open(void* user, fws_conn* c)
{
    (void)user;
    int32_t t;
    const uint8_t* d;
    size_t n;
    static const uint8_t buf[256] = { 'x' };
    EXPECT_ERR(fws_conn_read_message(c, &t, &d, &n), FWS_ERR_INVALID_STATE, NULL);
    EXPECT_INVALID(fws_conn_send(c, 0, buf, 1, NULL), NULL);
    EXPECT_INVALID(fws_conn_send(c, 3, buf, 1, NULL), NULL);
    EXPECT_INVALID(fws_conn_send(c, 77, buf, 1, NULL), NULL);
    EXPECT_INVALID(fws_conn_send(c, FWS_BINARY_MESSAGE, NULL, 5, NULL), "NULL");
    EXPECT_INVALID(fws_conn_send(c, FWS_BINARY_MESSAGE, buf, (size_t)1 << 40, NULL), "len");
    EXPECT_INVALID(fws_conn_send(c, FWS_TEXT_MESSAGE, (const uint8_t*)"a\xC0\x80", 3, NULL), "UTF-8");
    EXPECT_INVALID(fws_conn_write_message(c, 77, buf, 1), NULL);
    EXPECT_INVALID(fws_conn_write_control(c, FWS_PING_MESSAGE, buf, 126, 0), "125");
    EXPECT_INVALID(fws_conn_close(c, 999, NULL), "999");
    EXPECT_INVALID(fws_conn_subscribe(c, NULL), "topic");
    EXPECT_INVALID(fws_conn_unsubscribe(c, NULL), "topic");
    EXPECT_ERR(fws_conn_unsubscribe(c, "never"), FWS_ERR_NOT_FOUND, "never");
    EXPECT_INVALID(fws_conn_buffered_amount(c, NULL), "amount_out");
    EXPECT_INVALID(fws_conn_param(c, NULL, NULL, NULL), NULL);
    EXPECT_INVALID(fws_app_use((fws_app*)c, "/x", noop_mw, NULL), "fws_app");
    EXPECT_ERR(fws_app_free(g_app), FWS_ERR_INVALID_STATE, NULL);
    int32_t rc = fws_conn_send(c, FWS_TEXT_MESSAGE, (const uint8_t*)"ok", 2, NULL);
    CHECK(rc == FWS_OK, "send from on_open after the bad calls: %d %s", rc, fws_last_error());
    rc = fws_conn_close(c, 1000, "bye");
    CHECK(rc == FWS_OK, "close from on_open: %d %s", rc, fws_last_error());
    EXPECT_ERR(fws_conn_send(c, FWS_TEXT_MESSAGE, (const uint8_t*)"late", 4, NULL), FWS_ERR_CLOSE_SENT, NULL);
    pthread_mutex_lock(&g_lock);
    g_ev_open_done++;
    pthread_mutex_unlock(&g_lock);
    return 0;
}

static void ev_close(void* user, fws_conn* c, int32_t code, const uint8_t* reason, size_t reason_len)
{
    (void)user;
    (void)reason;
    (void)reason_len;
    pthread_mutex_lock(&g_lock);
    g_ev_saved = c;
    g_ev_close_code = code;
    g_ev_closed++;
    pthread_mutex_unlock(&g_lock);
}

/* ---- failing handlers and the recover handler ---------------------------------------------------------- */

/* a close reason that is not UTF-8 (separate connection: if it were accepted, the close would be sent) */
static int g_bad_reason_done;
static int32_t bad_reason_handler(void* user, fws_conn* c)
{
    (void)user;
    EXPECT_INVALID(fws_conn_close(c, 1000, "bad \xC0\x80 reason"), NULL);
    pthread_mutex_lock(&g_lock);
    g_bad_reason_done++;
    pthread_mutex_unlock(&g_lock);
    return 0;
}

static int32_t failing_handler(void* user, fws_conn* c)
{
    (void)user;
    (void)c;
    return 7;
}

static int g_recover_calls, g_recover_conn_ok, g_recover_write_rc = 99, g_marker;
static void* g_recover_user;
static char g_recover_error[256];

static void recover(void* user, fws_conn* conn, const char* error)
{
    int32_t rc = fws_conn_write_message(conn, FWS_TEXT_MESSAGE, (const uint8_t*)"recovered", 9);
    pthread_mutex_lock(&g_lock);
    g_recover_calls++;
    g_recover_user = user;
    g_recover_conn_ok = conn != NULL;
    g_recover_write_rc = rc;
    snprintf(g_recover_error, sizeof g_recover_error, "%s", error ? error : "(NULL)");
    pthread_mutex_unlock(&g_lock);
}

static int g_old_recover_calls;
static void old_recover(void* user, fws_conn* conn, const char* error)
{
    (void)user;
    (void)conn;
    (void)error;
    pthread_mutex_lock(&g_lock);
    g_old_recover_calls++;
    pthread_mutex_unlock(&g_lock);
}

/* ---- IsCloseError / IsUnexpectedCloseError, evaluated on the handler thread ---------------------------- */

typedef struct close_result {
    int done;
    int32_t rc, code, is_close, is_unexpected, is_close_1006, is_close_none, is_close_null, is_unexpected_none;
} close_result;
static close_result g_close_a, g_close_b;

static int32_t close_error_handler(void* user, fws_conn* c)
{
    (void)user;
    const char* who = "";
    fws_conn_query(c, "who", &who, NULL);
    close_result* r = strcmp(who, "a") == 0 ? &g_close_a : &g_close_b;
    int32_t mt, rc;
    const uint8_t* d;
    size_t n;
    for (int i = 0; i < 100; i++) {
        rc = fws_conn_read_message(c, &mt, &d, &n);
        if (rc != FWS_OK) {
            break;
        }
    }
    static const int32_t normal[] = { 1000, 1001 };
    static const int32_t abnormal[] = { 1006 };
    close_result out;
    out.rc = rc;
    out.is_close = fws_is_close_error(rc, normal, 2);
    out.is_unexpected = fws_is_unexpected_close_error(rc, normal, 2);
    out.is_close_1006 = fws_is_close_error(rc, abnormal, 1);
    out.is_close_none = fws_is_close_error(rc, NULL, 0);
    out.is_close_null = fws_is_close_error(rc, NULL, 2);
    out.is_unexpected_none = fws_is_unexpected_close_error(rc, NULL, 0);
    out.code = 0;
    fws_conn_close_code(c, &out.code);
    out.done = 1;
    pthread_mutex_lock(&g_lock);
    *r = out;
    pthread_mutex_unlock(&g_lock);
    return 0;
}

/* ---- the thread-local last error --------------------------------------------------------------------- */

static char g_thread_initial[256], g_thread_after[256];
static int32_t g_thread_rc;

static void* other_thread(void* arg)
{
    (void)arg;
    snprintf(g_thread_initial, sizeof g_thread_initial, "%s", fws_last_error());
    g_thread_rc = fws_conn_close((fws_conn*)0x1234, 1000, NULL);
    snprintf(g_thread_after, sizeof g_thread_after, "%s", fws_last_error());
    return NULL;
}

/* ---- helpers ------------------------------------------------------------------------------------------ */

static int wait_for(int* counter, int n)
{
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&g_lock);
        int v = *counter;
        pthread_mutex_unlock(&g_lock);
        if (v >= n) {
            return 1;
        }
        sleep_ms(10);
    }
    return 0;
}

static int http_status(int port, const char* request)
{
    wsc c;
    if (wsc_connect(&c, port) != 0) {
        return -1;
    }
    int s = wsc_request(&c, request, NULL, 0);
    wsc_close(&c);
    return s;
}

static void version_and_helpers(void)
{
    CHECK(fws_version() == FWS_VERSION_HEX, "fws_version %u", fws_version());
    CHECK(fws_version() >> 16 == FWS_VERSION_MAJOR, "major");
    CHECK(fws_version_string() != NULL && strcmp(fws_version_string(), "0.1.0") == 0, "version string %s",
          fws_version_string() ? fws_version_string() : "(NULL)");
    CHECK(fws_last_error() != NULL && fws_last_error()[0] == 0, "no error yet: \"%s\"",
          fws_last_error() ? fws_last_error() : "(NULL)");
    CHECK(strcmp(fws_result_name(FWS_ERR_CLOSED), "FWS_ERR_CLOSED") == 0, "%s", fws_result_name(FWS_ERR_CLOSED));
    CHECK(strcmp(fws_result_name(FWS_OK), "FWS_OK") == 0, "%s", fws_result_name(FWS_OK));
    CHECK(strcmp(fws_result_name(FWS_ERR_INVALID_ARGUMENT), "FWS_ERR_INVALID_ARGUMENT") == 0, "%s",
          fws_result_name(FWS_ERR_INVALID_ARGUMENT));
    CHECK(strcmp(fws_result_name(FWS_ERR_BUFFER_TOO_SMALL), "FWS_ERR_BUFFER_TOO_SMALL") == 0, "%s",
          fws_result_name(FWS_ERR_BUFFER_TOO_SMALL));
    CHECK(strcmp(fws_result_name(FWS_ERR_BUSY), "FWS_ERR_BUSY") == 0, "%s", fws_result_name(FWS_ERR_BUSY));
    CHECK(strcmp(fws_result_name(-9999), "FWS_UNKNOWN_RESULT") == 0, "%s", fws_result_name(-9999));
    CHECK(strcmp(fws_result_name(1), "FWS_UNKNOWN_RESULT") == 0, "%s", fws_result_name(1));
    CHECK(strcmp(fws_result_name(INT32_MIN), "FWS_UNKNOWN_RESULT") == 0, "%s", fws_result_name(INT32_MIN));

    uint8_t buf[200];
    size_t len = 0;
    int32_t rc = fws_format_close_message(1000, "bye", buf, sizeof buf, &len);
    CHECK(rc == FWS_OK && len == 5 && memcmp(buf, "\x03\xE8" "bye", 5) == 0, "format 1000 bye: rc %d len %zu", rc, len);
    len = 99;
    rc = fws_format_close_message(1000, NULL, buf, sizeof buf, &len);
    CHECK(rc == FWS_OK && len == 2 && buf[0] == 0x03 && buf[1] == 0xE8, "format 1000 no text: rc %d len %zu", rc, len);
    len = 99;
    rc = fws_format_close_message(1005, NULL, buf, sizeof buf, &len);
    CHECK(rc == FWS_OK && len == 0, "format 1005: rc %d len %zu", rc, len);
    len = 99;
    rc = fws_format_close_message(4999, "x", buf, sizeof buf, &len);
    CHECK(rc == FWS_OK && len == 3 && buf[0] == 0x13 && buf[1] == 0x87, "format 4999: rc %d len %zu", rc, len);
    len = 0;
    EXPECT_ERR(fws_format_close_message(1000, "bye", buf, 4, &len), FWS_ERR_BUFFER_TOO_SMALL, NULL);
    CHECK(len == 5, "len_out set on BUFFER_TOO_SMALL: %zu", len);
    len = 0;
    rc = fws_format_close_message(1000, "bye", NULL, 0, &len);
    CHECK(rc == FWS_ERR_BUFFER_TOO_SMALL && len == 5, "size query with NULL buf: rc %d len %zu", rc, len);
    EXPECT_INVALID(fws_format_close_message(1004, NULL, buf, sizeof buf, &len), "1004");
    EXPECT_INVALID(fws_format_close_message(999, NULL, buf, sizeof buf, &len), "999");
    EXPECT_INVALID(fws_format_close_message(5000, NULL, buf, sizeof buf, &len), "5000");
    char long_text[125];
    memset(long_text, 't', 124);
    long_text[124] = 0;
    EXPECT_INVALID(fws_format_close_message(1000, long_text, buf, sizeof buf, &len), "123");
    long_text[123] = 0;
    rc = fws_format_close_message(1000, long_text, buf, sizeof buf, &len);
    CHECK(rc == FWS_OK && len == 125, "123-byte reason fits: rc %d len %zu", rc, len);
    EXPECT_INVALID(fws_format_close_message(1000, "bye", buf, sizeof buf, NULL), "len_out");
    EXPECT_INVALID(fws_format_close_message(1000, "a\xC0\x80", buf, sizeof buf, &len), NULL);

    /* IsCloseError with results that are not FWS_ERR_CLOSED */
    static const int32_t codes[] = { 1000, 1001 };
    CHECK(fws_is_close_error(FWS_OK, codes, 2) == 0, "is_close_error(OK)");
    CHECK(fws_is_unexpected_close_error(FWS_OK, codes, 2) == 0, "is_unexpected_close_error(OK)");
    CHECK(fws_is_close_error(FWS_ERR_PROTOCOL, codes, 2) == 0, "is_close_error(PROTOCOL)");
    CHECK(fws_is_unexpected_close_error(FWS_ERR_INVALID_ARGUMENT, NULL, 5) == 0, "is_unexpected(INVALID, NULL, 5)");
}

static void thread_local_errors(void)
{
    EXPECT_INVALID(fws_app_use(NULL, "/x", noop_mw, NULL), "app");
    char mine[512];
    snprintf(mine, sizeof mine, "%s", fws_last_error());
    /* a successful call leaves it unchanged */
    uint8_t buf[8];
    size_t len;
    CHECK(fws_format_close_message(1000, NULL, buf, sizeof buf, &len) == FWS_OK, "format ok");
    CHECK(fws_version() == FWS_VERSION_HEX, "version");
    CHECK(strcmp(fws_last_error(), mine) == 0, "success left the error: \"%s\" vs \"%s\"", fws_last_error(), mine);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, other_thread, NULL) == 0, "pthread_create");
    pthread_join(t, NULL);
    CHECK(g_thread_initial[0] == 0, "a new thread starts with \"\": \"%s\"", g_thread_initial);
    CHECK(g_thread_rc == FWS_ERR_INVALID_ARGUMENT && strstr(g_thread_after, "fws_conn") != NULL,
          "the other thread's own error: %d \"%s\"", g_thread_rc, g_thread_after);
    CHECK(strcmp(fws_last_error(), mine) == 0, "the other thread's error did not change ours: \"%s\" vs \"%s\"",
          fws_last_error(), mine);
}

static void configs(void)
{
    fws_app_config ac;
    memset(&ac, 0xAB, sizeof ac);
    fws_app_config_init(&ac);
    CHECK(ac.struct_size == sizeof(fws_app_config), "app config struct_size %u, C sizeof %zu", ac.struct_size,
          sizeof(fws_app_config));
    CHECK(ac.max_header_bytes == 8192 && ac.header_read_timeout_ms == 10000 && ac.handler_stack_kib == 1024 &&
              ac.close_timeout_ms == 1000,
          "app config defaults %d %d %d %d", ac.max_header_bytes, ac.header_read_timeout_ms, ac.handler_stack_kib,
          ac.close_timeout_ms);
    fws_ws_config wc;
    memset(&wc, 0xAB, sizeof wc);
    fws_ws_config_init(&wc);
    CHECK(wc.struct_size == sizeof(fws_ws_config), "ws config struct_size %u, C sizeof %zu", wc.struct_size,
          sizeof(fws_ws_config));
    CHECK(wc.read_limit == (int64_t)64 << 20 && wc.subprotocols == NULL && wc.subprotocols_count == 0 &&
              wc.origins == NULL && wc.origins_count == 0 && wc.enable_compression == 0 && wc.filter == NULL &&
              wc.filter_user == NULL && wc.recover_handler == NULL && wc.recover_user == NULL,
          "ws config defaults (read_limit %lld)", (long long)wc.read_limit);
    fws_app_config_init(NULL);
    fws_ws_config_init(NULL);

    fws_app* app = (fws_app*)0x99;
    EXPECT_INVALID(fws_app_new(NULL, NULL), "app_out");
    union {
        fws_app_config c;
        uint8_t raw[sizeof(fws_app_config) + 64];
    } big;
    memset(&big, 0, sizeof big);
    fws_app_config_init(&big.c);
    static const uint32_t bad_sizes[] = { 0, 2, 3, sizeof(fws_app_config) + 1, sizeof(fws_app_config) + 8, 0xFFFFFFFFu };
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        big.c.struct_size = bad_sizes[i];
        app = (fws_app*)0x99;
        EXPECT_INVALID(fws_app_new(&big.c, &app), "struct_size");
        CHECK(app == NULL, "app_out is NULL after a failed fws_app_new (struct_size %u)", bad_sizes[i]);
    }
    fws_app_config_init(&ac);
    ac.handler_stack_kib = 0;
    EXPECT_INVALID(fws_app_new(&ac, &app), NULL);
    fws_app_config_init(&ac);
    ac.close_timeout_ms = -5;
    EXPECT_INVALID(fws_app_new(&ac, &app), NULL);

    /* an older, shorter fws_app_config (only struct_size): max_header_bytes past it is not read */
    fws_app_config_init(&ac);
    ac.struct_size = (uint32_t)offsetof(fws_app_config, max_header_bytes);
    ac.max_header_bytes = 300;
    fws_app* old_app = NULL;
    CHECK(fws_app_new(&ac, &old_app) == FWS_OK, "older app config accepted: %s", fws_last_error());
    /* the same value with the full size is honoured: proves the field is the one that matters */
    fws_app_config_init(&ac);
    ac.max_header_bytes = 300;
    fws_app* small_app = NULL;
    CHECK(fws_app_new(&ac, &small_app) == FWS_OK, "app with max_header_bytes 300: %s", fws_last_error());
    int old_port = 0, small_port = 0;
    CHECK(fws_app_start(old_app, "127.0.0.1:0", &old_port) == FWS_OK, "start old: %s", fws_last_error());
    CHECK(fws_app_start(small_app, "127.0.0.1:0", &small_port) == FWS_OK, "start small: %s", fws_last_error());
    char req[1200];
    int n = snprintf(req, sizeof req, "GET /nothing HTTP/1.1\r\nHost: x\r\nX-Pad: ");
    memset(req + n, 'p', 1000);
    strcpy(req + n + 1000, "\r\n\r\n");
    int s = http_status(old_port, req);
    CHECK(s == 404, "older config keeps max_header_bytes 8192: a 1 KiB head gets %d", s);
    s = http_status(small_port, req);
    CHECK(s == 431, "max_header_bytes 300 honoured: a 1 KiB head gets %d", s);
    CHECK(fws_app_free(old_app) == FWS_OK, "free old");
    CHECK(fws_app_free(small_app) == FWS_OK, "free small");

    /* fws_ws_config: bad sizes, bad string arrays, NULL pattern/handler; the handler of a failed call is unused */
    fws_app* a = NULL;
    CHECK(fws_app_new(NULL, &a) == FWS_OK, "new");
    union {
        fws_ws_config c;
        uint8_t raw[sizeof(fws_ws_config) + 64];
    } bigw;
    memset(&bigw, 0, sizeof bigw);
    fws_ws_config_init(&bigw.c);
    static const uint32_t bad_ws_sizes[] = { 0, 2, sizeof(fws_ws_config) + 1, sizeof(fws_ws_config) + 8 };
    for (size_t i = 0; i < sizeof bad_ws_sizes / sizeof bad_ws_sizes[0]; i++) {
        bigw.c.struct_size = bad_ws_sizes[i];
        EXPECT_INVALID(fws_app_websocket(a, "/bad", echo, &bigw.c, NULL), "struct_size");
    }
    fws_ws_config_init(&wc);
    wc.subprotocols = NULL;
    wc.subprotocols_count = 3;
    EXPECT_INVALID(fws_app_websocket(a, "/bad", echo, &wc, NULL), "subprotocols");
    const char* with_null[] = { "chat", NULL };
    wc.subprotocols = with_null;
    wc.subprotocols_count = 2;
    EXPECT_INVALID(fws_app_websocket(a, "/bad", echo, &wc, NULL), "subprotocols");
    fws_ws_config_init(&wc);
    wc.origins = with_null;
    wc.origins_count = 2;
    EXPECT_INVALID(fws_app_websocket(a, "/bad", echo, &wc, NULL), "origins");
    fws_ws_config_init(&wc);
    wc.handshake_timeout_ms = -1;
    EXPECT_INVALID(fws_app_websocket(a, "/bad", echo, &wc, NULL), NULL);
    EXPECT_INVALID(fws_app_websocket(a, NULL, echo, NULL, NULL), "pattern");
    EXPECT_INVALID(fws_app_websocket(a, "/bad", NULL, NULL, NULL), "handler");
    EXPECT_INVALID(fws_app_use(a, NULL, noop_mw, NULL), "prefix");
    EXPECT_INVALID(fws_app_use(a, "/bad", NULL, NULL), "fn");
    EXPECT_INVALID(fws_app_websocket(a, "ws", echo, NULL, NULL), NULL);
    EXPECT_INVALID(fws_app_websocket(a, "/a/:", echo, NULL, NULL), NULL);
    EXPECT_INVALID(fws_app_websocket(a, "", echo, NULL, NULL), NULL);
    EXPECT_INVALID(fws_app_use(a, "ws", noop_mw, NULL), NULL);

    /* fws_ws_events: init, bad sizes, NULL */
    fws_ws_events_init(NULL);
    union {
        fws_ws_events e;
        uint8_t raw[sizeof(fws_ws_events) + 64];
    } ev;
    memset(&ev, 0xAB, sizeof ev);
    fws_ws_events_init(&ev.e);
    CHECK(ev.e.struct_size == sizeof(fws_ws_events) && ev.e.on_open == NULL && ev.e.on_message == NULL &&
              ev.e.on_drain == NULL && ev.e.on_close == NULL,
          "fws_ws_events_init: struct_size %u, C sizeof %zu", ev.e.struct_size, sizeof(fws_ws_events));
    EXPECT_INVALID(fws_app_websocket_events(a, "/bad", NULL, NULL, NULL), "events");
    EXPECT_INVALID(fws_app_websocket_events(a, NULL, &ev.e, NULL, NULL), "pattern");
    EXPECT_INVALID(fws_app_websocket_events(a, "ws", &ev.e, NULL, NULL), NULL);
    static const uint32_t bad_ev_sizes[] = { 0, 2, sizeof(fws_ws_events) + 1, sizeof(fws_ws_events) + 8 };
    for (size_t i = 0; i < sizeof bad_ev_sizes / sizeof bad_ev_sizes[0]; i++) {
        ev.e.struct_size = bad_ev_sizes[i];
        EXPECT_INVALID(fws_app_websocket_events(a, "/bad", &ev.e, NULL, NULL), "struct_size");
    }
    fws_ws_events_init(&ev.e);
    bigw.c.struct_size = 2;
    EXPECT_INVALID(fws_app_websocket_events(a, "/bad", &ev.e, &bigw.c, NULL), "struct_size");
    EXPECT_ERR(fws_app_publish(a, "t", FWS_TEXT_MESSAGE, (const uint8_t*)"x", 1, NULL), FWS_ERR_INVALID_STATE, NULL);

    /* an older fws_ws_config: read_limit (past struct_size) keeps the 64 MiB default */
    fws_ws_config_init(&wc);
    wc.struct_size = (uint32_t)offsetof(fws_ws_config, read_limit);
    wc.read_limit = 10;
    CHECK(fws_app_websocket(a, "/old-limit", echo, &wc, NULL) == FWS_OK, "older ws config: %s", fws_last_error());
    /* an older fws_ws_config without recover_handler: the default recovery runs, old_recover is never read */
    fws_ws_config_init(&wc);
    wc.struct_size = (uint32_t)offsetof(fws_ws_config, recover_handler);
    wc.recover_handler = old_recover;
    CHECK(fws_app_websocket(a, "/old-recover", failing_handler, &wc, NULL) == FWS_OK, "older ws config: %s",
          fws_last_error());
    int32_t port = 0, rc;
    EXPECT_INVALID(fws_app_start(a, NULL, &port), "addr");
    EXPECT_INVALID(fws_app_listen(a, NULL), "addr");
    EXPECT_INVALID(fws_app_start_tls(a, "127.0.0.1:0", NULL, "k.pem", &port), "cert_file");
    EXPECT_INVALID(fws_app_start_tls(a, "127.0.0.1:0", "c.pem", NULL, &port), "key_file");
    EXPECT_INVALID(fws_app_listen_tls(a, NULL, "c.pem", "k.pem"), "addr");
    EXPECT_INVALID(fws_app_start_tls(a, "127.0.0.1:0", "/nonexistent/cert.pem", "/nonexistent/key.pem", &port), "not found");
    CHECK(fws_app_start(a, "127.0.0.1:0", &port) == FWS_OK, "start: %s", fws_last_error());

    s = http_status(port, "GET /bad HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(s == 404, "routes whose registration failed do not exist: %d", s);
    wsc c;
    if (wsc_connect(&c, port) == 0 && wsc_handshake(&c, "/old-limit", NULL, NULL, 0) == 101) {
        uint8_t p[100];
        memset(p, 'q', sizeof p);
        wsc_send_frame(&c, 1, 0, 2, p, sizeof p);
        uint8_t* data = NULL;
        size_t dlen = 0;
        int op = wsc_read_message(&c, &data, &dlen);
        CHECK(op == 2 && dlen == 100, "older ws config kept the default read limit: op %d len %zu", op, dlen);
        free(data);
    } else {
        CHECK(0, "handshake /old-limit");
    }
    wsc_close(&c);
    if (wsc_connect(&c, port) == 0 && wsc_handshake(&c, "/old-recover", NULL, NULL, 0) == 101) {
        uint8_t* data = NULL;
        size_t dlen = 0;
        int op = wsc_read_message(&c, &data, &dlen);
        CHECK(op == 1 && dlen > 9 && memcmp(data, "{\"error\":", 9) == 0, "older config: default recovery message (op %d): %s",
              op, data ? (char*)data : "");
        free(data);
        int code = wsc_expect_close(&c);
        CHECK(code == 1011, "older config: close %d", code);
    } else {
        CHECK(0, "handshake /old-recover");
    }
    wsc_close(&c);
    sleep_ms(100);
    pthread_mutex_lock(&g_lock);
    CHECK(g_old_recover_calls == 0, "recover_handler past struct_size was called %d times", g_old_recover_calls);
    pthread_mutex_unlock(&g_lock);

    /* publish with bad arguments on a running app */
    {
        static const uint8_t pb[8] = { 0 };
        int32_t receivers = 99;
        EXPECT_INVALID(fws_app_publish(a, NULL, FWS_TEXT_MESSAGE, pb, 1, NULL), "topic");
        EXPECT_INVALID(fws_app_publish(a, "t", 77, pb, 1, NULL), NULL);
        EXPECT_INVALID(fws_app_publish(a, "t", 0, pb, 1, NULL), NULL);
        EXPECT_INVALID(fws_app_publish(a, "t", FWS_BINARY_MESSAGE, NULL, 5, NULL), "NULL");
        EXPECT_INVALID(fws_app_publish(a, "t", FWS_BINARY_MESSAGE, pb, (size_t)1 << 40, NULL), "len");
        EXPECT_INVALID(fws_app_publish(a, "t", FWS_TEXT_MESSAGE, (const uint8_t*)"a\xC0\x80", 3, NULL), "UTF-8");
        rc = fws_app_publish(a, "t", FWS_TEXT_MESSAGE, (const uint8_t*)"x", 1, &receivers);
        CHECK(rc == FWS_OK && receivers == -1, "publish from outside the loop: rc %d receivers %d", rc, receivers);
    }
    /* running: no more configuration; starting twice */
    EXPECT_ERR(fws_app_use(a, "/late", noop_mw, NULL), FWS_ERR_INVALID_STATE, NULL);
    EXPECT_ERR(fws_app_websocket(a, "/late", echo, NULL, NULL), FWS_ERR_INVALID_STATE, NULL);
    EXPECT_ERR(fws_app_websocket_events(a, "/late", &ev.e, NULL, NULL), FWS_ERR_INVALID_STATE, NULL);
    EXPECT_ERR(fws_app_start(a, "127.0.0.1:0", NULL), FWS_ERR_INVALID_STATE, NULL);
    EXPECT_ERR(fws_app_listen(a, "127.0.0.1:0"), FWS_ERR_INVALID_STATE, NULL);
    /* a port in use */
    fws_app* b = NULL;
    CHECK(fws_app_new(NULL, &b) == FWS_OK, "new");
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    prime_error();
    rc = fws_app_start(b, addr, NULL);
    CHECK(rc == FWS_ERR_IO && strcasestr(fws_last_error(), "bind") != NULL, "binding a port in use: %d (%s) \"%s\"",
          rc, fws_result_name(rc), fws_last_error());
    CHECK(fws_app_free(b) == FWS_OK, "free b: %s", fws_last_error());
    CHECK(fws_app_shutdown(a, 2000) == FWS_OK, "shutdown: %s", fws_last_error());
    CHECK(fws_app_shutdown(a, 2000) == FWS_OK, "shutdown is idempotent: %s", fws_last_error());
    EXPECT_INVALID(fws_app_shutdown(a, -1), "timeout_ms");
    CHECK(fws_app_free(a) == FWS_OK, "free a: %s", fws_last_error());

    /* bad listen addresses */
    static const char* bad_addrs[] = { "nope", "1.2.3.4.5:80", ":99999", "127.0.0.1:-1", "", "[::1", "127.0.0.1:http" };
    for (size_t i = 0; i < sizeof bad_addrs / sizeof bad_addrs[0]; i++) {
        fws_app* x = NULL;
        CHECK(fws_app_new(NULL, &x) == FWS_OK, "new");
        prime_error();
        rc = fws_app_start(x, bad_addrs[i], NULL);
        const char* e = fws_last_error();
        CHECK(rc < 0 && e[0] != 0 && strcmp(e, g_sentinel) != 0, "bad address \"%s\": %d (%s) \"%s\"", bad_addrs[i],
              rc, fws_result_name(rc), e);
        CHECK(fws_app_free(x) == FWS_OK, "free: %s", fws_last_error());
    }
}

static void bad_handles(void)
{
    all_app_calls(NULL, "app");
    all_app_calls((fws_app*)0x1234, "fws_app");
    all_app_calls((fws_app*)(uintptr_t)-1, "fws_app");
    all_ctx_calls(NULL, "ctx");
    all_ctx_calls((fws_ctx*)0x1234, "fws_ctx");
    all_ctx_calls((fws_ctx*)(uintptr_t)-1, "fws_ctx");
    all_conn_calls(NULL, "conn");
    all_conn_calls((fws_conn*)0x1234, "fws_conn");
    all_conn_calls((fws_conn*)(uintptr_t)-1, "fws_conn");
    CHECK(fws_app_free(NULL) == FWS_OK, "fws_app_free(NULL)");

    /* a freed app, also after its slot was reused by a new app */
    fws_app* freed = NULL;
    CHECK(fws_app_new(NULL, &freed) == FWS_OK, "new");
    CHECK(fws_app_free(freed) == FWS_OK, "free");
    all_app_calls(freed, "fws_app");
    fws_app* reuse = NULL;
    CHECK(fws_app_new(NULL, &reuse) == FWS_OK, "new");
    all_app_calls(freed, "fws_app");
    CHECK(fws_app_websocket(reuse, "/x", echo, NULL, NULL) == FWS_OK, "the new app is untouched: %s", fws_last_error());
    CHECK(fws_app_free(reuse) == FWS_OK, "free");
}

static void live_handles(void)
{
    fws_app* app = NULL;
    CHECK(fws_app_new(NULL, &app) == FWS_OK, "new");
    g_app = app;
    fws_ws_config rc_cfg;
    fws_ws_config_init(&rc_cfg);
    rc_cfg.recover_handler = recover;
    rc_cfg.recover_user = &g_marker;
    CHECK(fws_app_use(app, "/mw", checking_mw, NULL) == FWS_OK, "use: %s", fws_last_error());
    CHECK(fws_app_websocket(app, "/h", checking_handler, NULL, NULL) == FWS_OK, "ws: %s", fws_last_error());
    CHECK(fws_app_websocket(app, "/fail", failing_handler, NULL, NULL) == FWS_OK, "ws: %s", fws_last_error());
    CHECK(fws_app_websocket(app, "/fail-recover", failing_handler, &rc_cfg, NULL) == FWS_OK, "ws: %s", fws_last_error());
    CHECK(fws_app_websocket(app, "/badreason", bad_reason_handler, NULL, NULL) == FWS_OK, "ws: %s", fws_last_error());
    fws_ws_events evs;
    fws_ws_events_init(&evs);
    evs.on_open = ev_open;
    evs.on_close = ev_close;
    CHECK(fws_app_websocket_events(app, "/ev", &evs, NULL, NULL) == FWS_OK, "events: %s", fws_last_error());
    CHECK(fws_app_websocket(app, "/ce", close_error_handler, NULL, NULL) == FWS_OK, "ws: %s", fws_last_error());
    int port = 0;
    CHECK(fws_app_start(app, "127.0.0.1:0", &port) == FWS_OK, "start: %s", fws_last_error());
    if (port <= 0) {
        return;
    }

    /* the middleware's checks; its ctx afterwards */
    int s = http_status(port, "GET /mw HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(s == 403, "middleware answered: %d", s);
    CHECK(wait_for(&g_mw_runs, 1), "middleware ran");
    pthread_mutex_lock(&g_lock);
    fws_ctx* stale_ctx = g_saved_ctx;
    pthread_mutex_unlock(&g_lock);
    all_ctx_calls(stale_ctx, "fws_ctx");

    /* the handler's checks */
    wsc c;
    if (wsc_connect(&c, port) == 0 && wsc_handshake(&c, "/h", NULL, NULL, 0) == 101) {
        wsc_send_frame(&c, 1, 0, 1, "go", 2);
        uint8_t* data = NULL;
        size_t len = 0;
        int op = wsc_read_message(&c, &data, &len);
        CHECK(op == 1 && len == 2 && memcmp(data, "ok", 2) == 0, "first frame after the bad calls is \"ok\": op %d len %zu",
              op, len);
        free(data);
        wsc_frame f;
        int rc = wsc_read_frame(&c, &f);
        CHECK(rc == 0 && f.opcode == 8 && f.len == 5 && memcmp(f.payload, "\x03\xE8" "bye", 5) == 0,
              "close frame 1000 \"bye\" (op %d len %zu)", f.opcode, f.len);
        free(f.payload);
        wsc_send_frame(&c, 1, 0, 8, "\x03\xE8", 2);
        CHECK(wsc_wait_eof(&c, 3000) == 1, "TCP closed after the closing handshake (and no second close frame)");
    } else {
        CHECK(0, "handshake /h");
    }
    wsc_close(&c);
    CHECK(wait_for(&g_checks_done, 1), "handler checks ran");
    sleep_ms(50);
    pthread_mutex_lock(&g_lock);
    fws_conn* stale_conn = g_saved_conn;
    pthread_mutex_unlock(&g_lock);
    all_conn_calls(stale_conn, "fws_conn");
    all_app_calls((fws_app*)stale_conn, "fws_app");
    all_ctx_calls((fws_ctx*)stale_conn, "fws_ctx");

    /* the event-API route: on_open's checks, then "ok" and close 1000 "bye"; the conn is dead after on_close */
    if (wsc_connect(&c, port) == 0 && wsc_handshake(&c, "/ev", NULL, NULL, 0) == 101) {
        uint8_t* data = NULL;
        size_t len = 0;
        int op = wsc_read_message(&c, &data, &len);
        CHECK(op == 1 && len == 2 && memcmp(data, "ok", 2) == 0, "event conn: first frame is \"ok\": op %d len %zu", op, len);
        free(data);
        wsc_frame f;
        int rc = wsc_read_frame(&c, &f);
        CHECK(rc == 0 && f.opcode == 8 && f.len == 5 && memcmp(f.payload, "\x03\xE8" "bye", 5) == 0,
              "event conn: close frame 1000 \"bye\" (op %d len %zu)", f.opcode, f.len);
        free(f.payload);
        wsc_send_frame(&c, 1, 0, 8, "\x03\xE8", 2);
        CHECK(wsc_wait_eof(&c, 3000) == 1, "event conn: TCP closed after the closing handshake");
    } else {
        CHECK(0, "handshake /ev");
    }
    wsc_close(&c);
    CHECK(wait_for(&g_ev_open_done, 1) && wait_for(&g_ev_closed, 1), "on_open and on_close ran");
    pthread_mutex_lock(&g_lock);
    fws_conn* stale_ev = g_ev_saved;
    int ev_code = g_ev_close_code;
    pthread_mutex_unlock(&g_lock);
    CHECK(ev_code == 1000, "on_close code %d", ev_code);
    all_conn_calls(stale_ev, "fws_conn");

    /* the close with a non-UTF-8 reason was refused: the close the client gets is the one after the handler */
    if (wsc_connect(&c, port) == 0 && wsc_handshake(&c, "/badreason", NULL, NULL, 0) == 101) {
        wsc_frame f;
        int rc = wsc_read_frame(&c, &f);
        CHECK(rc == 0 && f.opcode == 8 && f.len >= 2 && (f.payload[0] << 8 | f.payload[1]) == 1000 &&
                  memmem(f.payload, f.len, "reason", 6) == NULL,
              "close after the refused reason: op %d len %zu payload \"%s\"", f.opcode, f.len,
              f.len > 2 ? (char*)f.payload + 2 : "");
        free(f.payload);
    } else {
        CHECK(0, "handshake /badreason");
    }
    wsc_close(&c);
    CHECK(wait_for(&g_bad_reason_done, 1), "bad reason handler ran");

    /* handler returning non-zero: default recovery sends {"error":...} then 1011 */
    if (wsc_connect(&c, port) == 0 && wsc_handshake(&c, "/fail", NULL, NULL, 0) == 101) {
        uint8_t* data = NULL;
        size_t len = 0;
        int op = wsc_read_message(&c, &data, &len);
        CHECK(op == 1 && len > 9 && memcmp(data, "{\"error\":", 9) == 0, "default recovery message (op %d): %s", op,
              data ? (char*)data : "");
        free(data);
        int code = wsc_expect_close(&c);
        CHECK(code == 1011, "close after a failing handler: %d", code);
    } else {
        CHECK(0, "handshake /fail");
    }
    wsc_close(&c);

    /* with a recover handler: it is called with the conn and a text, and the default message is not sent */
    if (wsc_connect(&c, port) == 0 && wsc_handshake(&c, "/fail-recover", NULL, NULL, 0) == 101) {
        uint8_t* data = NULL;
        size_t len = 0;
        int op = wsc_read_message(&c, &data, &len);
        CHECK(op == 1 && len == 9 && memcmp(data, "recovered", 9) == 0,
              "first frame is the recover handler's message, not {\"error\":...} (op %d): %s", op,
              data ? (char*)data : "");
        free(data);
        int code = wsc_expect_close(&c);
        CHECK(code == 1011, "close after recovery: %d", code);
    } else {
        CHECK(0, "handshake /fail-recover");
    }
    wsc_close(&c);
    CHECK(wait_for(&g_recover_calls, 1), "recover handler called");
    pthread_mutex_lock(&g_lock);
    CHECK(g_recover_calls == 1 && g_recover_user == &g_marker && g_recover_conn_ok,
          "recover: calls %d, user ok %d, conn ok %d", g_recover_calls, g_recover_user == &g_marker, g_recover_conn_ok);
    CHECK(g_recover_error[0] != 0 && strstr(g_recover_error, "7") != NULL, "recover error text: \"%s\"", g_recover_error);
    CHECK(g_recover_write_rc == FWS_OK, "write from the recover handler: %d", g_recover_write_rc);
    pthread_mutex_unlock(&g_lock);

    /* IsCloseError: a: close 1001; b: TCP dropped (1006) */
    wsc cb;
    if (wsc_connect(&c, port) == 0 && wsc_handshake(&c, "/ce?who=a", NULL, NULL, 0) == 101) {
        wsc_send_frame(&c, 1, 0, 8, "\x03\xE9" "away", 6);
        int code = wsc_expect_close(&c);
        CHECK(code == 1001, "close 1001 echoed: %d", code);
    } else {
        CHECK(0, "handshake /ce?who=a");
    }
    wsc_close(&c);
    if (wsc_connect(&cb, port) == 0 && wsc_handshake(&cb, "/ce?who=b", NULL, NULL, 0) == 101) {
        sleep_ms(50);
    } else {
        CHECK(0, "handshake /ce?who=b");
    }
    wsc_close(&cb); /* drops TCP without a close frame */
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&g_lock);
        int done = g_close_a.done && g_close_b.done;
        pthread_mutex_unlock(&g_lock);
        if (done) {
            break;
        }
        sleep_ms(10);
    }
    pthread_mutex_lock(&g_lock);
    close_result a = g_close_a, b = g_close_b;
    pthread_mutex_unlock(&g_lock);
    CHECK(a.done && a.rc == FWS_ERR_CLOSED && a.code == 1001, "a: done %d rc %d code %d", a.done, a.rc, a.code);
    CHECK(a.is_close == 1, "a: is_close_error(rc, {1000,1001}) = %d", a.is_close);
    CHECK(a.is_unexpected == 0, "a: is_unexpected_close_error(rc, {1000,1001}) = %d", a.is_unexpected);
    CHECK(a.is_close_1006 == 0 && a.is_close_none == 0 && a.is_close_null == 0, "a: other sets %d %d %d",
          a.is_close_1006, a.is_close_none, a.is_close_null);
    CHECK(a.is_unexpected_none == 1, "a: is_unexpected_close_error(rc, NULL, 0) = %d", a.is_unexpected_none);
    CHECK(b.done && b.rc == FWS_ERR_CLOSED && b.code == 1006, "b: done %d rc %d code %d", b.done, b.rc, b.code);
    CHECK(b.is_unexpected == 1, "b: is_unexpected_close_error(rc, {1000,1001}) = %d", b.is_unexpected);
    CHECK(b.is_close == 0 && b.is_close_1006 == 1, "b: is_close_error {1000,1001} %d, {1006} %d", b.is_close,
          b.is_close_1006);

    CHECK(fws_app_shutdown(app, 3000) == FWS_OK, "shutdown: %s", fws_last_error());
    CHECK(fws_app_free(app) == FWS_OK, "free: %s", fws_last_error());
    all_app_calls(app, "fws_app");
}

int main(void)
{
    version_and_helpers(); /* first: checks that fws_last_error() is "" before any failure */
    prime_error();
    snprintf(g_sentinel, sizeof g_sentinel, "%s", fws_last_error());
    CHECK(g_sentinel[0] != 0, "sentinel error set");
    thread_local_errors();
    configs();
    bad_handles();
    live_handles();
    return wsc_summary("test_abi_safety");
}
