/* A minimal raw WebSocket client for the C tests: plain sockets, hand-written handshake and masked frames,
 * so the tests see exactly the bytes the server sends. Every call is bounded by a receive timeout. */
#ifndef FWS_TEST_WSCLIENT_H
#define FWS_TEST_WSCLIENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct wsc {
    int fd;
    uint8_t* buf;   /* received, not yet consumed */
    size_t len;
    size_t cap;
} wsc;

typedef struct wsc_frame {
    int fin;
    int rsv;        /* the three RSV bits, as 0..7 */
    int opcode;
    int masked;
    uint8_t* payload; /* malloc'ed; free with free() */
    size_t len;
} wsc_frame;

/* Test bookkeeping: CHECK records a failure and goes on; the summary line is "N passed, N failed". */
extern int wsc_passed;
extern int wsc_failed;
#define CHECK(cond, ...) wsc_check((cond) != 0, __FILE__, __LINE__, #cond, __VA_ARGS__)
void wsc_check(int ok, const char* file, int line, const char* expr, const char* fmt, ...);
int wsc_summary(const char* suite);

/* Connects to 127.0.0.1:port with a 5 s receive timeout. Returns 0 or -1. */
int wsc_connect(wsc* c, int port);
void wsc_close(wsc* c);
/* Sends raw bytes. */
int wsc_send(wsc* c, const void* data, size_t len);
/* Sends a GET upgrade request for path with a fixed valid key plus extra header lines ("Name: v\r\n..."),
 * reads the response head; returns the HTTP status (or -1), and copies the head into head_out if given. */
int wsc_handshake(wsc* c, const char* path, const char* extra_headers, char* head_out, size_t head_cap);
/* Sends any request text and reads one response head + Content-Length body; returns status or -1. */
int wsc_request(wsc* c, const char* request, char* response_out, size_t cap);
/* Sends one masked frame. rsv is 0..7. */
int wsc_send_frame(wsc* c, int fin, int rsv, int opcode, const void* payload, size_t len);
/* Sends an unmasked frame (a protocol violation from a client). */
int wsc_send_unmasked(wsc* c, int opcode, const void* payload, size_t len);
/* Reads one frame. Returns 0, or -1 on timeout/EOF/error. */
int wsc_read_frame(wsc* c, wsc_frame* f);
/* Reads a whole message (reassembling fragments, skipping nothing). Returns opcode or -1. *data is malloc'ed. */
int wsc_read_message(wsc* c, uint8_t** data, size_t* len);
/* Reads frames until a close frame; returns its code (1005 if empty) or -1 if none arrived. */
int wsc_expect_close(wsc* c);
/* Copies the value of a response header (name case-insensitive) from a response head into out; 1 if present. */
int wsc_header_value(const char* head, const char* name, char* out, size_t cap);
/* Returns 1 if the server closed TCP (EOF) within timeout_ms, else 0. */
int wsc_wait_eof(wsc* c, int timeout_ms);

#endif
