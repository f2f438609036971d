/*
 * A configurable echo server for benchmarks and interop tests. Echoes every message on /ws/:id and /echo.
 *
 *   echoserver [--addr HOST:PORT] [--events] [--broadcast] [--subprotocols a,b] [--origins o1,o2] [--compress]
 *              [--read-limit N] [--handshake-timeout-ms N] [--read-buffer N] [--write-buffer N]
 *              [--idle-timeout-ms N] [--max-backpressure N] [--tls-cert FILE --tls-key FILE]
 *
 * --addr                  listen address (default 127.0.0.1:8080; ":8080" for every interface)
 * --events                serve with the event API (callbacks on the I/O loop) instead of a thread per connection
 * --broadcast             event API only (else exit status 2): every connection on /ws/:id and /echo subscribes to
 *                         the topic "all", and every message received on /publish is published to "all"
 *                         (fws_app_publish); the /publish connections themselves receive nothing
 * --subprotocols a,b      supported subprotocols, in order of preference (Config.Subprotocols)
 * --origins o1,o2         allowed Origin values; others get 403 (Config.Origins)
 * --compress              negotiate permessage-deflate (Config.EnableCompression)
 * --read-limit N          largest message in bytes; larger ones close with 1009 (SetReadLimit)
 * --handshake-timeout-ms  the whole upgrade must finish within N ms (Config.HandshakeTimeout)
 * --read-buffer N         read buffer size (Config.ReadBufferSize)
 * --write-buffer N        write buffer size (Config.WriteBufferSize)
 * --idle-timeout-ms N     event API: drop clients quiet for N ms (pinged at N/2)
 * --max-backpressure N    event API: bytes queued per connection before a slow client is dropped
 * --tls-cert FILE         serve wss:// with this PEM certificate chain (needs --tls-key)
 * --tls-key FILE          the certificate's unencrypted PEM private key
 *
 * It prints "listening on PORT" once it accepts connections and runs until SIGINT/SIGTERM.
 * SIGUSR1 gives malloc's free memory back to the system (malloc_trim) and prints
 * "memory malloc_in_use=BYTES malloc_mmap=BYTES" (glibc's mallinfo2: bytes allocated and not freed, in the arenas and
 * in mmapped blocks), for the soak test's leak check.
 */
#include <fiberws.h>

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int32_t echo_handler(void* user, fws_conn* c)
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

static int32_t on_message(void* user, fws_conn* c, int32_t type, const uint8_t* data, size_t len)
{
    (void)user;
    fws_conn_send(c, type, data, len, NULL);
    return 0;
}

static int32_t on_open_subscribe(void* user, fws_conn* c)
{
    (void)user;
    return fws_conn_subscribe(c, "all") == FWS_OK ? 0 : 1;
}

/* user = the app */
static int32_t on_publish(void* user, fws_conn* c, int32_t type, const uint8_t* data, size_t len)
{
    (void)c;
    return fws_app_publish((fws_app*)user, "all", type, data, len, NULL) == FWS_OK ? 0 : 1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: echoserver [--addr HOST:PORT] [--events] [--broadcast] [--subprotocols a,b] [--origins o1,o2]\n"
            "                  [--compress] [--read-limit N] [--handshake-timeout-ms N] [--read-buffer N]\n"
            "                  [--write-buffer N] [--idle-timeout-ms N] [--max-backpressure N]\n"
            "                  [--tls-cert FILE --tls-key FILE]\n");
    exit(2);
}

/* Splits "a,b,c" in place into a NULL-free array; returns the count. */
static size_t split_list(char* text, const char** items, size_t cap)
{
    size_t n = 0;
    for (char* tok = strtok(text, ","); tok && n < cap; tok = strtok(NULL, ",")) {
        items[n++] = tok;
    }
    return n;
}

static long long number(const char* text)
{
    char* end;
    long long v = strtoll(text, &end, 10);
    if (*text == 0 || *end != 0 || v < 0) {
        fprintf(stderr, "echoserver: '%s' is not a non-negative number\n", text);
        exit(2);
    }
    return v;
}

int main(int argc, char** argv)
{
    const char* addr = "127.0.0.1:8080";
    int events = 0;
    int broadcast = 0;
    const char* tls_cert = NULL;
    const char* tls_key = NULL;
    static const char* subprotocols[32];
    static const char* origins[32];
    fws_ws_config cfg;
    fws_ws_config_init(&cfg);
    for (int i = 1; i < argc; i++) {
        const char* a = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(a, "--events") == 0) {
            events = 1;
        } else if (strcmp(a, "--broadcast") == 0) {
            broadcast = 1;
        } else if (strcmp(a, "--compress") == 0) {
            cfg.enable_compression = 1;
        } else if (!has_value) {
            usage();
        } else if (strcmp(a, "--addr") == 0) {
            addr = argv[++i];
        } else if (strcmp(a, "--subprotocols") == 0) {
            cfg.subprotocols = subprotocols;
            cfg.subprotocols_count = split_list(argv[++i], subprotocols, 32);
        } else if (strcmp(a, "--origins") == 0) {
            cfg.origins = origins;
            cfg.origins_count = split_list(argv[++i], origins, 32);
        } else if (strcmp(a, "--read-limit") == 0) {
            cfg.read_limit = number(argv[++i]);
        } else if (strcmp(a, "--handshake-timeout-ms") == 0) {
            cfg.handshake_timeout_ms = (int32_t)number(argv[++i]);
        } else if (strcmp(a, "--read-buffer") == 0) {
            cfg.read_buffer_size = (int32_t)number(argv[++i]);
        } else if (strcmp(a, "--write-buffer") == 0) {
            cfg.write_buffer_size = (int32_t)number(argv[++i]);
        } else if (strcmp(a, "--idle-timeout-ms") == 0) {
            cfg.idle_timeout_ms = (int32_t)number(argv[++i]);
        } else if (strcmp(a, "--max-backpressure") == 0) {
            cfg.max_backpressure = number(argv[++i]);
        } else if (strcmp(a, "--tls-cert") == 0) {
            tls_cert = argv[++i];
        } else if (strcmp(a, "--tls-key") == 0) {
            tls_key = argv[++i];
        } else {
            usage();
        }
    }
    if (broadcast && !events) {
        fprintf(stderr, "echoserver: --broadcast needs --events (topics are an event-API feature)\n");
        return 2;
    }
    if ((tls_cert == NULL) != (tls_key == NULL)) {
        fprintf(stderr, "echoserver: --tls-cert and --tls-key go together\n");
        return 2;
    }
    /* Block the stop signals before the library starts its threads, so they inherit the mask and sigwait gets them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    fws_app* app;
    if (fws_app_new(NULL, &app) != FWS_OK) {
        fprintf(stderr, "fws_app_new: %s\n", fws_last_error());
        return 1;
    }
    fws_ws_events ev;
    fws_ws_events_init(&ev);
    ev.on_message = on_message;
    if (broadcast) {
        ev.on_open = on_open_subscribe;
        fws_ws_events pub;
        fws_ws_events_init(&pub);
        pub.on_message = on_publish;
        if (fws_app_websocket_events(app, "/publish", &pub, &cfg, app) != FWS_OK) {
            fprintf(stderr, "echoserver: /publish: %s\n", fws_last_error());
            return 1;
        }
    }
    const char* routes[] = { "/ws/:id", "/echo" };
    for (int r = 0; r < 2; r++) {
        int32_t rc = events ? fws_app_websocket_events(app, routes[r], &ev, &cfg, NULL)
                            : fws_app_websocket(app, routes[r], echo_handler, &cfg, NULL);
        if (rc != FWS_OK) {
            fprintf(stderr, "echoserver: %s: %s\n", routes[r], fws_last_error());
            return 1;
        }
    }
    int port = 0;
    int32_t started = tls_cert ? fws_app_start_tls(app, addr, tls_cert, tls_key, &port) : fws_app_start(app, addr, &port);
    if (started != FWS_OK) {
        fprintf(stderr, "echoserver: %s\n", fws_last_error());
        return 1;
    }
    printf("listening on %d\n", port);
    fflush(stdout);
    for (;;) {
        int sig = 0;
        sigwait(&set, &sig);
        if (sig != SIGUSR1) {
            break;
        }
        malloc_trim(0);
        struct mallinfo2 mi = mallinfo2();
        printf("memory malloc_in_use=%zu malloc_mmap=%zu\n", mi.uordblks, mi.hblkhd);
        fflush(stdout);
    }
    fws_app_shutdown(app, 2000);
    fws_app_free(app);
    return 0;
}
