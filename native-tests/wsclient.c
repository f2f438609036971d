#define _GNU_SOURCE
#include "wsclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int wsc_passed = 0;
int wsc_failed = 0;

void wsc_check(int ok, const char* file, int line, const char* expr, const char* fmt, ...)
{
    if (ok) {
        wsc_passed++;
        return;
    }
    wsc_failed++;
    fprintf(stderr, "FAIL %s:%d: %s: ", file, line, expr);
    va_list args;
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fputc('\n', stderr);
}

int wsc_summary(const char* suite)
{
    printf("%s: %d passed, %d failed\n", suite, wsc_passed, wsc_failed);
    return wsc_failed == 0 && wsc_passed > 0 ? 0 : 1;
}

int wsc_connect(wsc* c, int port)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        return -1;
    }
    struct timeval tv = { 5, 0 };
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr*)&sa, sizeof sa) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

void wsc_close(wsc* c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

int wsc_send(wsc* c, const void* data, size_t len)
{
    const uint8_t* p = data;
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Receives more bytes into the buffer; returns bytes read, 0 on EOF, -1 on error/timeout. */
static ssize_t fill(wsc* c)
{
    if (c->cap - c->len < 65536) {
        size_t cap = c->cap ? c->cap * 2 : 131072;
        uint8_t* grown = realloc(c->buf, cap);
        if (!grown) {
            return -1;
        }
        c->buf = grown;
        c->cap = cap;
    }
    ssize_t n;
    do {
        n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        c->len += (size_t)n;
    }
    return n;
}

static int need(wsc* c, size_t n)
{
    while (c->len < n) {
        if (fill(c) <= 0) {
            return -1;
        }
    }
    return 0;
}

static void consume(wsc* c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Reads up to and including the blank line; returns the head length or -1. */
static int read_head(wsc* c, char* head_out, size_t head_cap)
{
    for (;;) {
        if (c->len >= 4) {
            uint8_t* end = memmem(c->buf, c->len, "\r\n\r\n", 4);
            if (end) {
                size_t head_len = (size_t)(end - c->buf) + 4;
                if (head_out && head_cap > 0) {
                    size_t n = head_len < head_cap - 1 ? head_len : head_cap - 1;
                    memcpy(head_out, c->buf, n);
                    head_out[n] = 0;
                }
                return (int)head_len;
            }
        }
        if (fill(c) <= 0) {
            return -1;
        }
    }
}

static int status_of(const wsc* c)
{
    /* c->buf is not NUL-terminated (sscanf on it read past the received bytes, and past the block when it was
       full, found by valgrind): parse a terminated copy of the status line's start. */
    char line[32];
    size_t n = c->len < sizeof line - 1 ? c->len : sizeof line - 1;
    memcpy(line, c->buf, n);
    line[n] = 0;
    int status = -1;
    if (n >= 12 && sscanf(line, "HTTP/1.1 %d", &status) == 1) {
        return status;
    }
    return -1;
}

int wsc_handshake(wsc* c, const char* path, const char* extra_headers, char* head_out, size_t head_cap)
{
    char request[4096];
    int n = snprintf(request, sizeof request,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                     path, extra_headers ? extra_headers : "");
    if (n <= 0 || (size_t)n >= sizeof request || wsc_send(c, request, (size_t)n) != 0) {
        return -1;
    }
    int head_len = read_head(c, head_out, head_cap);
    if (head_len < 0) {
        return -1;
    }
    int status = status_of(c);
    consume(c, (size_t)head_len);
    return status;
}

int wsc_request(wsc* c, const char* request, char* response_out, size_t cap)
{
    if (wsc_send(c, request, strlen(request)) != 0) {
        return -1;
    }
    char head[8192];
    int head_len = read_head(c, head, sizeof head);
    if (head_len < 0) {
        return -1;
    }
    int status = status_of(c);
    size_t body = 0;
    const char* cl = strcasestr(head, "\r\nContent-Length:");
    if (cl) {
        body = (size_t)strtoul(cl + 17, NULL, 10);
    }
    if (need(c, (size_t)head_len + body) != 0) {
        return -1;
    }
    if (response_out && cap > 0) {
        size_t total = (size_t)head_len + body;
        size_t n = total < cap - 1 ? total : cap - 1;
        memcpy(response_out, c->buf, n);
        response_out[n] = 0;
    }
    consume(c, (size_t)head_len + body);
    return status;
}

static int send_frame(wsc* c, int fin, int rsv, int opcode, const void* payload, size_t len, int mask)
{
    uint8_t header[14];
    size_t h = 0;
    header[h++] = (uint8_t)((fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0F));
    uint8_t mbit = mask ? 0x80 : 0;
    if (len < 126) {
        header[h++] = (uint8_t)(mbit | len);
    } else if (len <= 0xFFFF) {
        header[h++] = mbit | 126;
        header[h++] = (uint8_t)(len >> 8);
        header[h++] = (uint8_t)len;
    } else {
        header[h++] = mbit | 127;
        for (int i = 7; i >= 0; i--) {
            header[h++] = (uint8_t)((uint64_t)len >> (8 * i));
        }
    }
    uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
    if (mask) {
        memcpy(header + h, key, 4);
        h += 4;
    }
    uint8_t* frame = malloc(h + len + 1);
    if (!frame) {
        return -1;
    }
    memcpy(frame, header, h);
    const uint8_t* p = payload;
    for (size_t i = 0; i < len; i++) {
        frame[h + i] = mask ? (uint8_t)(p[i] ^ key[i & 3]) : p[i];
    }
    int rc = wsc_send(c, frame, h + len);
    free(frame);
    return rc;
}

int wsc_send_frame(wsc* c, int fin, int rsv, int opcode, const void* payload, size_t len)
{
    return send_frame(c, fin, rsv, opcode, payload, len, 1);
}

int wsc_send_unmasked(wsc* c, int opcode, const void* payload, size_t len)
{
    return send_frame(c, 1, 0, opcode, payload, len, 0);
}

int wsc_read_frame(wsc* c, wsc_frame* f)
{
    memset(f, 0, sizeof *f);
    if (need(c, 2) != 0) {
        return -1;
    }
    f->fin = (c->buf[0] & 0x80) != 0;
    f->rsv = (c->buf[0] >> 4) & 7;
    f->opcode = c->buf[0] & 0x0F;
    f->masked = (c->buf[1] & 0x80) != 0;
    size_t h = 2;
    uint64_t len = c->buf[1] & 0x7F;
    if (len == 126) {
        if (need(c, 4) != 0) {
            return -1;
        }
        len = ((uint64_t)c->buf[2] << 8) | c->buf[3];
        h = 4;
    } else if (len == 127) {
        if (need(c, 10) != 0) {
            return -1;
        }
        len = 0;
        for (int i = 0; i < 8; i++) {
            len = (len << 8) | c->buf[2 + i];
        }
        h = 10;
    }
    if (f->masked) {
        h += 4;
    }
    if (need(c, h + (size_t)len) != 0) {
        return -1;
    }
    f->payload = malloc((size_t)len + 1);
    if (!f->payload) {
        return -1;
    }
    memcpy(f->payload, c->buf + h, (size_t)len);
    f->payload[len] = 0;
    f->len = (size_t)len;
    consume(c, h + (size_t)len);
    return 0;
}

int wsc_read_message(wsc* c, uint8_t** data, size_t* len)
{
    *data = NULL;
    *len = 0;
    int opcode = -1;
    for (;;) {
        wsc_frame f;
        if (wsc_read_frame(c, &f) != 0) {
            free(*data);
            *data = NULL;
            return -1;
        }
        if (f.opcode >= 8) {
            /* a control frame: return it as its own message if no data message is in progress */
            if (opcode < 0) {
                *data = f.payload;
                *len = f.len;
                return f.opcode;
            }
            free(f.payload);
            continue;
        }
        if (opcode < 0) {
            opcode = f.opcode;
        }
        uint8_t* grown = realloc(*data, *len + f.len + 1);
        if (!grown) {
            free(f.payload);
            return -1;
        }
        *data = grown;
        memcpy(*data + *len, f.payload, f.len);
        *len += f.len;
        (*data)[*len] = 0;
        free(f.payload);
        if (f.fin) {
            return opcode;
        }
    }
}

int wsc_expect_close(wsc* c)
{
    for (int i = 0; i < 10000; i++) {
        wsc_frame f;
        if (wsc_read_frame(c, &f) != 0) {
            return -1;
        }
        int code = -1;
        if (f.opcode == 8) {
            code = f.len >= 2 ? (f.payload[0] << 8) | f.payload[1] : 1005;
        }
        free(f.payload);
        if (code >= 0) {
            return code;
        }
    }
    return -1;
}

int wsc_wait_eof(wsc* c, int timeout_ms)
{
    struct pollfd p = { c->fd, POLLIN, 0 };
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        if (poll(&p, 1, 50) > 0) {
            uint8_t tmp[4096];
            ssize_t n = recv(c->fd, tmp, sizeof tmp, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno == ECONNRESET)) {
                return 1;
            }
        }
    }
    return 0;
}

int wsc_header_value(const char* head, const char* name, char* out, size_t cap)
{
    char needle[128];
    snprintf(needle, sizeof needle, "\r\n%s:", name);
    const char* p = strcasestr(head, needle);
    out[0] = 0;
    if (!p) {
        return 0;
    }
    p += strlen(needle);
    while (*p == ' ') {
        p++;
    }
    size_t n = strcspn(p, "\r\n");
    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(out, p, n);
    out[n] = 0;
    return 1;
}
