/* RFC 6455 behaviour seen through a raw client: payload length forms, large and heavily fragmented messages,
 * control frames, every protocol violation a client can commit (close code + TCP close), bytes that arrive with
 * the handshake, and the HTTP-level answers of the upgrade route and the request parser. */
#define _GNU_SOURCE
#include <fiberws.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "wsclient.h"

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

static int g_port;

/* Connects and upgrades on path; returns 0 when the handshake answered 101. */
static int open_ws(wsc* c, const char* path)
{
    if (wsc_connect(c, g_port) != 0) {
        CHECK(0, "connect to %d", g_port);
        return -1;
    }
    int status = wsc_handshake(c, path, NULL, NULL, 0);
    CHECK(status == 101, "handshake on %s: status %d", path, status);
    return status == 101 ? 0 : -1;
}

static void fill_pattern(uint8_t* p, size_t len, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
}

/* Sends one frame of len bytes and expects the same bytes back as one message of the same opcode. */
static void check_echo(wsc* c, int opcode, const uint8_t* data, size_t len, const char* what)
{
    CHECK(wsc_send_frame(c, 1, 0, opcode, data, len) == 0, "%s: send", what);
    uint8_t* got = NULL;
    size_t got_len = 0;
    int op = wsc_read_message(c, &got, &got_len);
    CHECK(op == opcode, "%s: opcode %d, expected %d", what, op, opcode);
    CHECK(got_len == len, "%s: length %zu, expected %zu", what, got_len, len);
    CHECK(got_len == len && (len == 0 || memcmp(got, data, len) == 0), "%s: payload differs", what);
    free(got);
}

static void payload_lengths(void)
{
    static const size_t sizes[] = { 1, 125, 126, 65535, 65536, 1 << 20 };
    wsc c;
    if (open_ws(&c, "/echo") != 0) {
        return;
    }
    uint8_t* buf = malloc(1 << 20);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        fill_pattern(buf, sizes[i], (unsigned)i);
        char what[64];
        snprintf(what, sizeof what, "binary echo of %zu bytes", sizes[i]);
        check_echo(&c, 2, buf, sizes[i], what);
    }
    /* the frame header the server chose: 7-bit, 16-bit and 64-bit length forms */
    static const struct { size_t len; uint8_t len7; size_t header; } forms[] = {
        { 125, 125, 2 }, { 126, 126, 4 }, { 65535, 126, 4 }, { 65536, 127, 10 },
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        fill_pattern(buf, forms[i].len, 99);
        wsc_send_frame(&c, 1, 0, 2, buf, forms[i].len);
        /* peek at the raw header in the socket before the client consumes it (its buffer is empty here) */
        uint8_t hdr[10] = { 0 };
        ssize_t got = -1;
        if (c.len == 0) {
            for (int tries = 0; tries < 100; tries++) {
                got = recv(c.fd, hdr, forms[i].header, MSG_PEEK);
                if (got < 0 || (size_t)got >= forms[i].header) {
                    break;
                }
                struct timespec ts = { 0, 10 * 1000 * 1000 };
                nanosleep(&ts, NULL);
            }
        }
        CHECK(got == (ssize_t)forms[i].header && (hdr[1] & 0x7F) == forms[i].len7,
              "%zu bytes use the minimal length form (len7 %d, expected %d)", forms[i].len, hdr[1] & 0x7F,
              forms[i].len7);
        wsc_frame f;
        int rc = wsc_read_frame(&c, &f);
        CHECK(rc == 0 && f.fin && f.opcode == 2 && !f.masked && f.len == forms[i].len && memcmp(f.payload, buf, f.len) == 0,
              "single unmasked frame of %zu bytes (rc %d fin %d op %d masked %d len %zu)", forms[i].len, rc, f.fin,
              f.opcode, f.masked, f.len);
        free(f.payload);
    }
    free(buf);
    /* text with 2-, 3- and 4-byte characters */
    const char* t = "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80";
    check_echo(&c, 1, (const uint8_t*)t, strlen(t), "text echo (multibyte)");
    wsc_close(&c);
}

static void big_message(void)
{
    wsc c;
    if (open_ws(&c, "/echo") != 0) {
        return;
    }
    size_t len = (size_t)16 << 20;
    uint8_t* buf = malloc(len);
    fill_pattern(buf, len, 16);
    check_echo(&c, 2, buf, len, "16 MiB binary echo");
    free(buf);
    wsc_close(&c);
}

static void many_fragments(void)
{
    wsc c;
    if (open_ws(&c, "/echo") != 0) {
        return;
    }
    enum { N = 3000, FRAG = 10 };
    uint8_t* msg = malloc((size_t)N * FRAG);
    fill_pattern(msg, (size_t)N * FRAG, 3000);
    int pings = 0;
    int sent_ok = 1;
    for (int i = 0; i < N; i++) {
        int opcode = i == 0 ? 2 : 0;
        int fin = i == N - 1;
        if (wsc_send_frame(&c, fin, 0, opcode, msg + (size_t)i * FRAG, FRAG) != 0) {
            sent_ok = 0;
            break;
        }
        if (i % 500 == 250) {
            char p[32];
            int n = snprintf(p, sizeof p, "ping-%d", pings++);
            wsc_send_frame(&c, 1, 0, 9, p, (size_t)n);
        }
    }
    CHECK(sent_ok, "sending 3000 fragments");
    int pongs = 0, pong_ok = 1, got_msg = 0;
    uint8_t* data = NULL;
    size_t data_len = 0;
    int data_op = -1, frames = 0;
    for (int i = 0; i < 100 && (!got_msg || pongs < pings); i++) {
        wsc_frame f;
        if (wsc_read_frame(&c, &f) != 0) {
            break;
        }
        frames++;
        if (f.opcode == 10) {
            char want[32];
            int n = snprintf(want, sizeof want, "ping-%d", pongs);
            if (f.len != (size_t)n || memcmp(f.payload, want, f.len) != 0) {
                pong_ok = 0;
            }
            pongs++;
        } else if (f.opcode == 2 || f.opcode == 0) {
            if (data_op < 0) {
                data_op = f.opcode;
            }
            data = realloc(data, data_len + f.len + 1);
            memcpy(data + data_len, f.payload, f.len);
            data_len += f.len;
            if (f.fin) {
                got_msg = 1;
            }
        }
        free(f.payload);
    }
    CHECK(got_msg && data_op == 2, "fragmented message echoed (got %d, first opcode %d)", got_msg, data_op);
    CHECK(data_len == (size_t)N * FRAG && memcmp(data, msg, data_len) == 0, "3000-fragment message intact (len %zu)",
          data_len);
    CHECK(pongs == pings && pong_ok, "pongs %d of %d pings, payloads ok %d", pongs, pings, pong_ok);
    free(data);
    free(msg);
    wsc_close(&c);
}

static void empty_and_control(void)
{
    wsc c;
    if (open_ws(&c, "/echo") != 0) {
        return;
    }
    check_echo(&c, 1, (const uint8_t*)"", 0, "empty text");
    check_echo(&c, 2, (const uint8_t*)"", 0, "empty binary");

    uint8_t p[125];
    fill_pattern(p, sizeof p, 125);
    wsc_send_frame(&c, 1, 0, 9, p, sizeof p);
    wsc_frame f;
    int rc = wsc_read_frame(&c, &f);
    CHECK(rc == 0 && f.opcode == 10 && f.fin && f.len == 125 && memcmp(f.payload, p, 125) == 0,
          "125-byte ping answered by pong with the same payload (rc %d op %d len %zu)", rc, f.opcode, f.len);
    free(f.payload);

    wsc_send_frame(&c, 1, 0, 9, "", 0);
    rc = wsc_read_frame(&c, &f);
    CHECK(rc == 0 && f.opcode == 10 && f.len == 0, "empty ping answered by empty pong (op %d len %zu)", f.opcode, f.len);
    free(f.payload);

    wsc_send_frame(&c, 1, 0, 10, "unsolicited", 11);
    check_echo(&c, 1, (const uint8_t*)"after pong", 10, "echo after an unsolicited pong");
    /* the first frame after the unsolicited pong was the echo itself (checked above: not a pong) */
    wsc_close(&c);
}

typedef void (*violation_fn)(wsc* c);

/* Opens a connection on path, commits a violation, expects the close code and then the TCP close. */
static void expect_violation(const char* path, const char* what, violation_fn fn, int expected)
{
    wsc c;
    if (open_ws(&c, path) != 0) {
        return;
    }
    fn(&c);
    int code = wsc_expect_close(&c);
    CHECK(code == expected, "%s: close code %d, expected %d", what, code, expected);
    CHECK(wsc_wait_eof(&c, 3000) == 1, "%s: server closes TCP after its close frame", what);
    wsc_close(&c);
}

static void v_unmasked(wsc* c) { wsc_send_unmasked(c, 1, "hi", 2); }
static void v_rsv1(wsc* c) { wsc_send_frame(c, 1, 4, 1, "hi", 2); }
static void v_rsv2(wsc* c) { wsc_send_frame(c, 1, 2, 1, "hi", 2); }
static void v_rsv3(wsc* c) { wsc_send_frame(c, 1, 1, 1, "hi", 2); }
static void v_op3(wsc* c) { wsc_send_frame(c, 1, 0, 3, "hi", 2); }
static void v_op11(wsc* c) { wsc_send_frame(c, 1, 0, 11, "hi", 2); }
static void v_frag_ping(wsc* c) { wsc_send_frame(c, 0, 0, 9, "p", 1); }
static void v_ping126(wsc* c)
{
    uint8_t p[126];
    memset(p, 'x', sizeof p);
    wsc_send_frame(c, 1, 0, 9, p, sizeof p); /* 126 bytes uses the 16-bit length form */
}
static void v_cont_no_start(wsc* c) { wsc_send_frame(c, 1, 0, 0, "x", 1); }
static void v_text_in_frag(wsc* c)
{
    wsc_send_frame(c, 0, 0, 1, "a", 1);
    wsc_send_frame(c, 1, 0, 1, "b", 1);
}
static void v_utf8_overlong(wsc* c) { wsc_send_frame(c, 1, 0, 1, "\xC0\x80", 2); }
static void v_utf8_surrogate(wsc* c) { wsc_send_frame(c, 1, 0, 1, "\xED\xA0\x80", 3); }
static void v_utf8_split_invalid(wsc* c)
{
    /* 0xC0 can never start a valid sequence: the first fragment is already invalid; the last is never sent */
    wsc_send_frame(c, 0, 0, 1, "ok\xC0", 3);
}
static void v_close_1byte(wsc* c) { wsc_send_frame(c, 1, 0, 8, "\x03", 1); }
static int g_bad_close_code;
static void v_close_code(wsc* c)
{
    uint8_t p[2] = { (uint8_t)(g_bad_close_code >> 8), (uint8_t)g_bad_close_code };
    wsc_send_frame(c, 1, 0, 8, p, 2);
}
static void v_close_bad_reason(wsc* c) { wsc_send_frame(c, 1, 0, 8, "\x03\xE8" "a\xC0\x80", 5); }
static void v_over_limit(wsc* c)
{
    /* only the header of a masked text frame announcing 2000 bytes: the limit is known from the header */
    const uint8_t h[] = { 0x81, 0x80 | 126, 0x07, 0xD0, 1, 2, 3, 4 };
    wsc_send(c, h, sizeof h);
}
static void v_over_limit_fragments(wsc* c)
{
    /* 3 fragments of 400 bytes: 1200 > 1024 after reassembly */
    uint8_t p[400];
    memset(p, 'z', sizeof p);
    wsc_send_frame(c, 0, 0, 2, p, sizeof p);
    wsc_send_frame(c, 0, 0, 0, p, sizeof p);
    wsc_send_frame(c, 1, 0, 0, p, sizeof p);
}

static void violations(void)
{
    expect_violation("/echo", "unmasked frame", v_unmasked, 1002);
    expect_violation("/echo", "RSV1 set", v_rsv1, 1002);
    expect_violation("/echo", "RSV2 set", v_rsv2, 1002);
    expect_violation("/echo", "RSV3 set", v_rsv3, 1002);
    expect_violation("/echo", "opcode 3", v_op3, 1002);
    expect_violation("/echo", "opcode 11", v_op11, 1002);
    expect_violation("/echo", "fragmented ping", v_frag_ping, 1002);
    expect_violation("/echo", "ping with 126 bytes", v_ping126, 1002);
    expect_violation("/echo", "continuation without a start", v_cont_no_start, 1002);
    expect_violation("/echo", "text frame inside a fragmented message", v_text_in_frag, 1002);
    expect_violation("/echo", "invalid UTF-8 C0 80", v_utf8_overlong, 1007);
    expect_violation("/echo", "invalid UTF-8 ED A0 80", v_utf8_surrogate, 1007);
    expect_violation("/echo", "invalid UTF-8 in the first fragment (fail fast)", v_utf8_split_invalid, 1007);
    expect_violation("/echo", "close with a 1-byte payload", v_close_1byte, 1002);
    static const int bad_codes[] = { 999, 1004, 1005, 1006, 1016, 5000 };
    for (size_t i = 0; i < sizeof bad_codes / sizeof bad_codes[0]; i++) {
        char what[64];
        g_bad_close_code = bad_codes[i];
        snprintf(what, sizeof what, "close code %d", bad_codes[i]);
        expect_violation("/echo", what, v_close_code, 1002);
    }
    expect_violation("/echo", "close with an invalid UTF-8 reason", v_close_bad_reason, 1002);
    expect_violation("/limited", "frame header announcing 2000 bytes over a 1024 limit", v_over_limit, 1009);
    expect_violation("/limited", "fragments adding up to 1200 bytes over a 1024 limit", v_over_limit_fragments, 1009);
}

static void valid_split_and_close(void)
{
    wsc c;
    if (open_ws(&c, "/echo") != 0) {
        return;
    }
    /* U+20AC split after its second byte */
    wsc_send_frame(&c, 0, 0, 1, "a\xE2\x82", 3);
    wsc_send_frame(&c, 1, 0, 0, "\xAC", 1);
    uint8_t* data;
    size_t len;
    int op = wsc_read_message(&c, &data, &len);
    CHECK(op == 1 && len == 4 && memcmp(data, "a\xE2\x82\xAC", 4) == 0, "multibyte split across fragments echoed (op %d len %zu)", op, len);
    free(data);
    /* a message under the limit on the limited route passes */
    wsc_close(&c);
    if (open_ws(&c, "/limited") != 0) {
        return;
    }
    uint8_t p[1024];
    fill_pattern(p, sizeof p, 1024);
    check_echo(&c, 2, p, sizeof p, "exactly 1024 bytes on the 1024-limited route");
    wsc_close(&c);

    static const int codes[] = { 1000, 3000, 4999 };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        if (open_ws(&c, "/echo") != 0) {
            return;
        }
        uint8_t cp[16] = { (uint8_t)(codes[i] >> 8), (uint8_t)codes[i], 'b', 'y', 'e' };
        wsc_send_frame(&c, 1, 0, 8, cp, 5);
        int code = wsc_expect_close(&c);
        CHECK(code == codes[i], "close %d with a reason: echoed %d", codes[i], code);
        CHECK(wsc_wait_eof(&c, 3000) == 1, "close %d: server closes TCP", codes[i]);
        wsc_close(&c);
    }
    /* a close without a code is answered by a close without a code */
    if (open_ws(&c, "/echo") != 0) {
        return;
    }
    wsc_send_frame(&c, 1, 0, 8, "", 0);
    int code = wsc_expect_close(&c);
    CHECK(code == 1005, "empty close answered with an empty close: %d", code);
    CHECK(wsc_wait_eof(&c, 3000) == 1, "empty close: server closes TCP");
    wsc_close(&c);
}

static void bytes_with_handshake(void)
{
    wsc c;
    if (wsc_connect(&c, g_port) != 0) {
        CHECK(0, "connect");
        return;
    }
    /* handshake and a masked text frame "hi" (mask 01 02 03 04) in one send; no byte is NUL */
    char request[512];
    int n = snprintf(request, sizeof request,
                     "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                     "\x81\x82\x01\x02\x03\x04%c%c",
                     'h' ^ 1, 'i' ^ 2);
    CHECK(n > 0 && (size_t)n == strlen(request), "request built");
    char head[1024];
    int status = wsc_request(&c, request, head, sizeof head);
    CHECK(status == 101, "handshake in one packet with a frame: status %d", status);
    uint8_t* data;
    size_t len;
    int op = wsc_read_message(&c, &data, &len);
    CHECK(op == 1 && len == 2 && memcmp(data, "hi", 2) == 0, "frame sent with the handshake echoed (op %d len %zu)", op, len);
    free(data);
    wsc_close(&c);
}

static int http(const char* request, char* response, size_t cap)
{
    wsc c;
    if (wsc_connect(&c, g_port) != 0) {
        return -1;
    }
    int status = wsc_request(&c, request, response, cap);
    wsc_close(&c);
    return status;
}

static void http_level(void)
{
    char r[8192];
    int s;
    s = http("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", r, sizeof r);
    CHECK(s == 405, "POST to the WS route: %d", s);
    CHECK(strstr(r, "\r\nAllow: GET") != NULL, "405 has Allow: GET: %s", r);

    s = http("GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
             r, sizeof r);
    CHECK(s == 400, "missing Sec-WebSocket-Key: %d", s);

    s = http("GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
             r, sizeof r);
    CHECK(s == 400, "Sec-WebSocket-Key of 10 bytes: %d", s);

    s = http("GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: !!notbase64!!notbase64!!\r\nSec-WebSocket-Version: 13\r\n\r\n",
             r, sizeof r);
    CHECK(s == 400, "Sec-WebSocket-Key not base64: %d", s);

    s = http("GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
             r, sizeof r);
    CHECK(s == 426, "Sec-WebSocket-Version 8: %d", s);
    CHECK(strstr(r, "\r\nSec-WebSocket-Version: 13\r\n") != NULL, "426 names version 13: %s", r);

    s = http("GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: foo\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
             r, sizeof r);
    CHECK(s == 400, "Upgrade: foo: %d", s);

    s = http("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", r, sizeof r);
    CHECK(s == 426, "plain GET to the WS route: %d", s);
    CHECK(strstr(r, "\r\nUpgrade: websocket\r\n") != NULL, "426 has Upgrade: websocket: %s", r);

    {
        size_t big = 9000;
        char* req = malloc(big + 128);
        int n = snprintf(req, 128, "GET /nothing HTTP/1.1\r\nHost: x\r\nX-Big: ");
        memset(req + n, 'a', big);
        strcpy(req + n + big, "\r\n\r\n");
        s = http(req, r, sizeof r);
        CHECK(s == 431, "request head over 8 KiB: %d", s);
        free(req);
    }

    s = http("GARBAGE\r\n\r\n", r, sizeof r);
    CHECK(s == 400, "malformed request line: %d", s);
    s = http("GET /nothing HTTP/1.1 extra\r\nHost: x\r\n\r\n", r, sizeof r);
    CHECK(s == 400, "request line with four parts: %d", s);

    s = http("GET /nothing HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n", r, sizeof r);
    CHECK(s == 400, "obs-folded header: %d", s);

    s = http("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n", r, sizeof r);
    CHECK(s == 404, "unknown path: %d", s);

    wsc c;
    if (wsc_connect(&c, g_port) == 0) {
        s = wsc_request(&c, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n", r, sizeof r);
        CHECK(s == 404, "keep-alive, first request: %d", s);
        s = wsc_request(&c, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n", r, sizeof r);
        CHECK(s == 404, "keep-alive, second request on the same connection: %d", s);
        s = wsc_request(&c, "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r, sizeof r);
        CHECK(s == 426, "third request with Connection: close: %d", s);
        CHECK(wsc_wait_eof(&c, 3000) == 1, "server closes after answering Connection: close");
        wsc_close(&c);
    } else {
        CHECK(0, "connect");
    }
    if (wsc_connect(&c, g_port) == 0) {
        s = wsc_request(&c, "GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", r, sizeof r);
        CHECK(s == 404, "Connection: close request answered: %d", s);
        CHECK(wsc_wait_eof(&c, 3000) == 1, "server closes after a 404 with Connection: close");
        wsc_close(&c);
    } else {
        CHECK(0, "connect");
    }
}

int main(void)
{
    fws_app* app = NULL;
    CHECK(fws_app_new(NULL, &app) == FWS_OK, "fws_app_new: %s", fws_last_error());
    CHECK(fws_app_websocket(app, "/echo", echo, NULL, NULL) == FWS_OK, "websocket /echo: %s", fws_last_error());
    fws_ws_config cfg;
    fws_ws_config_init(&cfg);
    cfg.read_limit = 1024;
    CHECK(fws_app_websocket(app, "/limited", echo, &cfg, NULL) == FWS_OK, "websocket /limited: %s", fws_last_error());
    CHECK(fws_app_start(app, "127.0.0.1:0", &g_port) == FWS_OK, "start: %s", fws_last_error());
    if (g_port <= 0) {
        return wsc_summary("test_protocol");
    }

    payload_lengths();
    big_message();
    many_fragments();
    empty_and_control();
    violations();
    valid_split_and_close();
    bytes_with_handshake();
    http_level();

    CHECK(fws_app_shutdown(app, 5000) == FWS_OK, "shutdown: %s", fws_last_error());
    CHECK(fws_app_free(app) == FWS_OK, "free: %s", fws_last_error());
    return wsc_summary("test_protocol");
}
