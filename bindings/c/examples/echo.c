/*
 * The seed example of gofiber/contrib websocket, line for line, in C:
 *
 *   app := fiber.New()
 *   app.Use("/ws", func(c *fiber.Ctx) error { ... IsWebSocketUpgrade ... c.Locals("allowed", true) ... })
 *   app.Get("/ws/:id", websocket.New(func(c *websocket.Conn) { ... ReadMessage / WriteMessage loop ... }))
 *   log.Fatal(app.Listen(":3000"))
 *
 * Usage: echo [ADDR]      (default ":3000"; e.g. "127.0.0.1:8080", "[::1]:0")
 * Access the websocket server: ws://localhost:3000/ws/123?v=1.0
 */
#include <fiberws.h>

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

/* Go's log.Println / log.Printf: a "2006/01/02 15:04:05 " prefix, one line per call. */
static void log_printf(const char* format, ...)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y/%m/%d %H:%M:%S", &tm);
    va_list args;
    va_start(args, format);
    flockfile(stdout);
    printf("%s ", stamp);
    vprintf(format, args);
    putchar('\n');
    funlockfile(stdout);
    fflush(stdout);
    va_end(args);
}

static int32_t upgrade(void* user, fws_ctx* c)
{
    (void)user;
    /* IsWebSocketUpgrade returns true if the client
       requested upgrade to the WebSocket protocol. */
    if (fws_ctx_is_websocket_upgrade(c) == 1) {
        fws_ctx_locals_set(c, "allowed", (void*)1); /* c.Locals("allowed", true) */
        return FWS_NEXT;                            /* return c.Next() */
    }
    return 426; /* return fiber.ErrUpgradeRequired */
}

static int32_t handler(void* user, fws_conn* c)
{
    (void)user;
    /* c.Locals is added to the *websocket.Conn */
    void* allowed = NULL;
    const char* id;
    const char* v;
    const char* session;
    fws_conn_locals_get(c, "allowed", &allowed);
    fws_conn_param(c, "id", &id, NULL);
    fws_conn_query(c, "v", &v, NULL);
    fws_conn_cookie(c, "session", &session, NULL);
    log_printf("%s", allowed ? "true" : "false"); /* true */
    log_printf("%s", id);                         /* 123 */
    log_printf("%s", v);                          /* 1.0 */
    log_printf("%s", session);                    /* "" */

    int32_t mt;
    const uint8_t* msg;
    size_t len;
    int32_t err;
    for (;;) {
        if ((err = fws_conn_read_message(c, &mt, &msg, &len)) != FWS_OK) {
            log_printf("read: %s", fws_last_error());
            break;
        }
        /* Long messages are logged by their first 256 bytes so that 16 MiB echoes stay quick. */
        if (len <= 256) {
            log_printf("recv: %.*s", (int)len, (const char*)msg);
        } else {
            log_printf("recv: %.*s... (%zu bytes)", 256, (const char*)msg, len);
        }
        if ((err = fws_conn_write_message(c, mt, msg, len)) != FWS_OK) {
            log_printf("write: %s", fws_last_error());
            break;
        }
    }
    return 0;
}

int main(int argc, char** argv)
{
    const char* addr = argc > 1 ? argv[1] : ":3000";
    fws_app* app;
    if (fws_app_new(NULL, &app) != FWS_OK) {
        fprintf(stderr, "fws_app_new: %s\n", fws_last_error());
        return 1;
    }
    fws_app_use(app, "/ws", upgrade, NULL);
    fws_app_websocket(app, "/ws/:id", handler, NULL, NULL);
    log_printf("listening on %s", addr);
    if (fws_app_listen(app, addr) != FWS_OK) { /* log.Fatal(app.Listen(":3000")) */
        log_printf("%s", fws_last_error());
        fws_app_free(app);
        return 1;
    }
    fws_app_free(app);
    return 0;
}
