/*
 * A configurable echo server for benchmarks and interop tests. Echoes every message on /ws/:id and /echo.
 *
 *   echoserver [--addr HOST:PORT] [--events]
 *
 * --addr    listen address (default 127.0.0.1:8080; ":8080" for every interface)
 * --events  serve with the event API (callbacks on the I/O loop) instead of a blocking handler per connection
 *
 * It prints "listening on PORT" once it accepts connections and runs until SIGINT/SIGTERM.
 */
#include <fiberws.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static void on_message(void* user, fws_conn* c, int32_t type, const uint8_t* data, size_t len)
{
    (void)user;
    fws_conn_send(c, type, data, len, NULL);
}

static void usage(void)
{
    fprintf(stderr, "usage: echoserver [--addr HOST:PORT] [--events]\n");
    exit(2);
}

int main(int argc, char** argv)
{
    const char* addr = "127.0.0.1:8080";
    int events = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--addr") == 0 && i + 1 < argc) {
            addr = argv[++i];
        } else if (strcmp(argv[i], "--events") == 0) {
            events = 1;
        } else {
            usage();
        }
    }
    /* Block the stop signals before the library starts its threads, so they inherit the mask and sigwait gets them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    fws_app* app;
    if (fws_app_new(NULL, &app) != FWS_OK) {
        fprintf(stderr, "fws_app_new: %s\n", fws_last_error());
        return 1;
    }
    fws_ws_events ev;
    fws_ws_events_init(&ev);
    ev.on_message = on_message;
    int32_t rc = events ? fws_app_websocket_events(app, "/ws/:id", &ev, NULL, NULL) : fws_app_websocket(app, "/ws/:id", echo_handler, NULL, NULL);
    if (rc == FWS_OK) {
        rc = events ? fws_app_websocket_events(app, "/echo", &ev, NULL, NULL) : fws_app_websocket(app, "/echo", echo_handler, NULL, NULL);
    }
    if (rc != FWS_OK) {
        fprintf(stderr, "route: %s\n", fws_last_error());
        return 1;
    }
    int port = 0;
    if (fws_app_start(app, addr, &port) != FWS_OK) {
        fprintf(stderr, "start: %s\n", fws_last_error());
        return 1;
    }
    printf("listening on %d\n", port);
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    fws_app_shutdown(app, 2000);
    fws_app_free(app);
    return 0;
}
