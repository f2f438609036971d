/* permessage-deflate (RFC 7692) through the C API, on a blocking route and an event-API route: negotiation
 * (Sec-WebSocket-Extensions in the 101), compressed echo of text and binary from 0 B to 1 MiB with context
 * takeover both ways, no_context_takeover both ways, server_max_window_bits, RSV1 on a control frame, a zip
 * bomb against the read limit, compression_threshold, fws_conn_extensions, fws_conn_set_compression_level,
 * fws_conn_enable_write_compression and config validation. The client side deflates and inflates with zlib
 * (raw deflate, sync flush, 00 00 FF FF tail removed/appended), independently of the library's own zlib. */
#define _GNU_SOURCE
#include <fiberws.h>

#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "wsclient.h"

static int g_port;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* ---- client-side permessage-deflate with zlib ----------------------------------------------------------- */

static const uint8_t k_tail[4] = { 0x00, 0x00, 0xFF, 0xFF };

/* Compresses one message: deflate with Z_SYNC_FLUSH, then the 00 00 FF FF tail removed (RFC 7692 §7.2.1).
 * zlib emits nothing for an empty message right after another flush, so an empty result becomes 0x00 (the
 * header of an empty stored block, §7.2.3.6). Returns a malloc'ed buffer. */
static uint8_t* pmd_compress(z_stream* z, const uint8_t* data, size_t len, size_t* out_len)
{
    size_t cap = len + len / 100 + 1024, used = 0;
    uint8_t* out = malloc(cap);
    z->next_in = (Bytef*)data;
    z->avail_in = (uInt)len;
    for (;;) {
        if (cap - used < 64) {
            cap *= 2;
            out = realloc(out, cap);
        }
        z->next_out = out + used;
        z->avail_out = (uInt)(cap - used);
        int rc = deflate(z, Z_SYNC_FLUSH);
        used = cap - z->avail_out;
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            fprintf(stderr, "client deflate failed: %d\n", rc);
            break;
        }
        if (z->avail_in == 0 && z->avail_out != 0) {
            break;
        }
    }
    if (used >= 4 && memcmp(out + used - 4, k_tail, 4) == 0) {
        used -= 4;
    }
    if (used == 0) {
        out[used++] = 0x00;
    }
    *out_len = used;
    return out;
}

/* Inflates one message (the tail appended). Returns 0, or -1 when the data is invalid for this inflater. */
static int pmd_inflate(z_stream* z, const uint8_t* data, size_t len, uint8_t** out, size_t* out_len)
{
    size_t cap = len * 4 + 4096, used = 0;
    uint8_t* buf = malloc(cap);
    int result = 0;
    for (int part = 0; part < 2 && result == 0; part++) {
        z->next_in = (Bytef*)(part == 0 ? data : k_tail);
        z->avail_in = (uInt)(part == 0 ? len : 4);
        do {
            if (cap - used < 4096) {
                cap *= 2;
                buf = realloc(buf, cap);
            }
            z->next_out = buf + used;
            z->avail_out = (uInt)(cap - used);
            int rc = inflate(z, Z_SYNC_FLUSH);
            used = cap - z->avail_out;
            if (rc == Z_STREAM_END) {
                inflateReset(z);
                continue;
            }
            if (rc != Z_OK && rc != Z_BUF_ERROR) {
                fprintf(stderr, "client inflate: %d %s\n", rc, z->msg ? z->msg : "");
                result = -1;
                break;
            }
            if (rc == Z_BUF_ERROR && z->avail_out != 0) {
                break;
            }
        } while (z->avail_in > 0 || z->avail_out == 0);
    }
    *out = buf;
    *out_len = used;
    return result;
}

static void deflater_init(z_stream* z, int bits)
{
    memset(z, 0, sizeof *z);
    int rc = deflateInit2(z, 6, Z_DEFLATED, -bits, 8, Z_DEFAULT_STRATEGY);
    CHECK(rc == Z_OK, "deflateInit2: %d", rc);
}

static void inflater_init(z_stream* z, int bits)
{
    memset(z, 0, sizeof *z);
    int rc = inflateInit2(z, -bits);
    CHECK(rc == Z_OK, "inflateInit2: %d", rc);
}

/* ---- frames ---------------------------------------------------------------------------------------------- */

/* One data message as the server sent it. */
typedef struct {
    int opcode;       /* -1 on failure; the opcode of a control frame met first (with its payload) */
    int rsv1;         /* RSV1 on the first frame */
    int bad_rsv;      /* RSV bits on a continuation frame, or RSV2/RSV3 anywhere */
    int frames;
    uint8_t* payload; /* malloc'ed */
    size_t len;
} server_msg;

static server_msg read_msg(wsc* c)
{
    server_msg m = { -1, 0, 0, 0, NULL, 0 };
    for (;;) {
        wsc_frame f;
        if (wsc_read_frame(c, &f) != 0) {
            free(m.payload);
            m.payload = NULL;
            m.opcode = -1;
            return m;
        }
        if (f.opcode >= 8 && m.frames == 0) {
            m.opcode = f.opcode;
            m.rsv1 = (f.rsv & 4) != 0;
            m.payload = f.payload;
            m.len = f.len;
            m.frames = 1;
            return m;
        }
        if (m.frames == 0) {
            m.opcode = f.opcode;
            m.rsv1 = (f.rsv & 4) != 0;
            m.bad_rsv |= (f.rsv & 3) != 0;
        } else {
            m.bad_rsv |= f.rsv != 0 || f.opcode != 0;
        }
        m.frames++;
        m.payload = realloc(m.payload, m.len + f.len + 1);
        memcpy(m.payload + m.len, f.payload, f.len);
        m.len += f.len;
        free(f.payload);
        if (f.fin) {
            return m;
        }
    }
}

/* Sends a compressed message; big ones in three fragments (RSV1 on the first only). */
static void send_compressed(wsc* c, z_stream* z, int opcode, const uint8_t* data, size_t len)
{
    size_t plen;
    uint8_t* packed = pmd_compress(z, data, len, &plen);
    if (plen > 3000) {
        size_t a = plen / 3, b = plen / 3;
        wsc_send_frame(c, 0, 4, opcode, packed, a);
        wsc_send_frame(c, 0, 0, 0, packed + a, b);
        wsc_send_frame(c, 1, 0, 0, packed + a + b, plen - a - b);
    } else {
        wsc_send_frame(c, 1, 4, opcode, packed, plen);
    }
    free(packed);
}

/* Reads a reply that must be compressed and inflate (with z) to want. */
static void expect_compressed(wsc* c, z_stream* z, int opcode, const uint8_t* want, size_t want_len, const char* what)
{
    server_msg m = read_msg(c);
    if (m.opcode == 8) {
        fprintf(stderr, "%s: close %d '%.*s'\n", what, m.len >= 2 ? m.payload[0] << 8 | m.payload[1] : 1005,
                m.len > 2 ? (int)m.len - 2 : 0, m.len > 2 ? (const char*)m.payload + 2 : "");
    }
    CHECK(m.opcode == opcode, "%s: opcode %d, want %d", what, m.opcode, opcode);
    CHECK(m.rsv1, "%s: RSV1 set on the first frame", what);
    CHECK(!m.bad_rsv, "%s: no RSV bits on continuation frames (%d frames)", what, m.frames);
    if (m.opcode == opcode && m.rsv1) {
        uint8_t* out;
        size_t out_len;
        int rc = pmd_inflate(z, m.payload, m.len, &out, &out_len);
        CHECK(rc == 0 && out_len == want_len && memcmp(out, want, want_len) == 0,
              "%s: inflates to the original (rc %d, %zu bytes, want %zu)", what, rc, out_len, want_len);
        free(out);
    }
    free(m.payload);
}

/* Connects, offers `offer` (NULL = no offer), checks 101 and the response's extension header (want NULL = absent). */
static int open_ws(wsc* c, const char* path, const char* offer, const char* want_ext)
{
    if (wsc_connect(c, g_port) != 0) {
        CHECK(0, "connect");
        return -1;
    }
    char extra[512] = "";
    if (offer) {
        snprintf(extra, sizeof extra, "Sec-WebSocket-Extensions: %s\r\n", offer);
    }
    char head[4096];
    int status = wsc_handshake(c, path, extra, head, sizeof head);
    CHECK(status == 101, "%s: handshake status %d", path, status);
    if (status != 101) {
        return -1;
    }
    char ext[512];
    int has = wsc_header_value(head, "Sec-WebSocket-Extensions", ext, sizeof ext);
    if (want_ext) {
        CHECK(has && strcmp(ext, want_ext) == 0, "%s offer '%s': Sec-WebSocket-Extensions '%s', want '%s'", path, offer,
              has ? ext : "(absent)", want_ext);
    } else {
        CHECK(!has, "%s offer '%s': no Sec-WebSocket-Extensions expected, got '%s'", path, offer ? offer : "(none)", ext);
    }
    return 0;
}

static uint32_t g_rng = 12345;

static uint32_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 17;
    g_rng ^= g_rng << 5;
    return g_rng;
}

/* Text: valid UTF-8 with multi-byte characters, compressible. */
static uint8_t* make_text(size_t len)
{
    static const char phrase[] = "h\xC3\xA9llo w\xC3\xB6rld \xE2\x82\xAC 42 ";
    uint8_t* d = malloc(len + 1);
    size_t plen = sizeof phrase - 1;
    for (size_t i = 0; i < len; i++) {
        d[i] = (uint8_t)phrase[i % plen];
    }
    /* do not end inside a multi-byte sequence: replace a cut last character with ASCII */
    if (len > 0) {
        size_t j = len - 1;
        while (j > 0 && (d[j] & 0xC0) == 0x80) {
            j--;
        }
        size_t need = d[j] < 0x80 ? 1 : d[j] < 0xE0 ? 2 : d[j] < 0xF0 ? 3 : 4;
        if (len - j < need) {
            memset(d + j, 'x', len - j);
        }
    }
    return d;
}

static uint8_t* make_random(size_t len)
{
    uint8_t* d = malloc(len + 1);
    for (size_t i = 0; i < len; i++) {
        d[i] = (uint8_t)rnd();
    }
    return d;
}

/* A random block repeated: matches at a distance of `block` bytes. */
static uint8_t* make_repeated_block(size_t len, size_t block)
{
    uint8_t* d = make_random(len);
    for (size_t i = block; i < len; i++) {
        d[i] = d[i - block];
    }
    return d;
}

/* ---- server side ----------------------------------------------------------------------------------------- */

enum { M_ECHO = 0, M_EXT = 1, M_NOWRITE = 2 };

static char g_ext_seen[8][256];
static int32_t g_level_rc[8][3];
static int g_ext_count;

static void record_ext(fws_conn* c)
{
    const char* v = "?";
    size_t n = 0;
    int32_t rc = fws_conn_extensions(c, &v, &n);
    int32_t l10 = fws_conn_set_compression_level(c, 10);
    int32_t l0 = fws_conn_set_compression_level(c, 0);
    int32_t l9 = fws_conn_set_compression_level(c, 9);
    pthread_mutex_lock(&g_lock);
    if (g_ext_count < 8) {
        snprintf(g_ext_seen[g_ext_count], sizeof g_ext_seen[0], "%s(%d,%d)", rc == FWS_OK ? v : "ERR", rc,
                 rc == FWS_OK && strlen(v) == n);
        g_level_rc[g_ext_count][0] = l10;
        g_level_rc[g_ext_count][1] = l0;
        g_level_rc[g_ext_count][2] = l9;
        g_ext_count++;
    }
    pthread_mutex_unlock(&g_lock);
}

static int32_t blocking_handler(void* user, fws_conn* c)
{
    int mode = (int)(intptr_t)user;
    if (mode == M_EXT) {
        record_ext(c);
    }
    if (mode == M_NOWRITE) {
        fws_conn_enable_write_compression(c, 0);
    }
    int32_t mt;
    const uint8_t* d;
    size_t n;
    while (fws_conn_read_message(c, &mt, &d, &n) == FWS_OK) {
        if (fws_conn_write_message(c, mt, d, n) != FWS_OK) {
            break;
        }
    }
    return 0;
}

static int32_t ev_open(void* user, fws_conn* c)
{
    int mode = (int)(intptr_t)user;
    if (mode == M_EXT) {
        record_ext(c);
    }
    if (mode == M_NOWRITE) {
        fws_conn_enable_write_compression(c, 0);
    }
    return 0;
}

static int32_t ev_message(void* user, fws_conn* c, int32_t type, const uint8_t* data, size_t len)
{
    (void)user;
    fws_conn_send(c, type, data, len, NULL);
    return 0;
}

/* ---- scenarios ------------------------------------------------------------------------------------------- */

static const size_t k_sizes[] = { 0, 1, 125, 126, 1000, 65535, 65536, 200000, 1 << 20 };
#define NSIZES (sizeof k_sizes / sizeof k_sizes[0])

/* Context takeover both ways: one client deflater and one inflater for the whole connection. */
static void test_echo(const char* path)
{
    wsc c;
    if (open_ws(&c, path, "permessage-deflate; client_max_window_bits", "permessage-deflate") != 0) {
        wsc_close(&c);
        return;
    }
    z_stream def, inf;
    deflater_init(&def, 15);
    inflater_init(&inf, 15);
    char what[128];
    for (size_t i = 0; i < NSIZES; i++) {
        /* one empty message only, the first: an empty one after another is test_empty_after_message's case */
        for (int binary = k_sizes[i] == 0 ? 1 : 0; binary < 2; binary++) {
            size_t len = k_sizes[i];
            uint8_t* data = binary ? make_random(len) : make_text(len);
            int op = binary ? FWS_BINARY_MESSAGE : FWS_TEXT_MESSAGE;
            send_compressed(&c, &def, op, data, len);
            snprintf(what, sizeof what, "%s echo %s %zu B", path, binary ? "binary" : "text", len);
            expect_compressed(&c, &inf, op, data, len, what);
            free(data);
        }
    }
    /* the same random 20000 B twice: with the server's context the second reply is a few back references */
    uint8_t* data = make_random(20000);
    size_t reply_len[2] = { 0, 0 };
    for (int i = 0; i < 2; i++) {
        send_compressed(&c, &def, FWS_BINARY_MESSAGE, data, 20000);
        server_msg m = read_msg(&c);
        reply_len[i] = m.len;
        CHECK(m.opcode == 2 && m.rsv1, "%s: random 20000 B reply %d compressed", path, i);
        if (m.opcode == 2 && m.rsv1) {
            uint8_t* out;
            size_t out_len;
            int rc = pmd_inflate(&inf, m.payload, m.len, &out, &out_len);
            CHECK(rc == 0 && out_len == 20000 && memcmp(out, data, 20000) == 0, "%s: random reply %d inflates", path, i);
            free(out);
        }
        free(m.payload);
    }
    CHECK(reply_len[0] > 19000 && reply_len[1] < 1000,
          "%s: context takeover: the same random 20000 B came back in %zu B, then %zu B", path, reply_len[0], reply_len[1]);
    free(data);
    deflateEnd(&def);
    inflateEnd(&inf);
    wsc_close(&c);
}

/* An empty message after a non-empty one must still arrive as a decodable compressed payload (at least 0x00). */
static void test_empty_after_message(const char* path)
{
    wsc c;
    if (open_ws(&c, path, "permessage-deflate", "permessage-deflate") != 0) {
        wsc_close(&c);
        return;
    }
    z_stream def, inf;
    deflater_init(&def, 15);
    inflater_init(&inf, 15);
    const uint8_t* hello = (const uint8_t*)"Hello, hello, hello";
    char what[128];
    snprintf(what, sizeof what, "%s: 'Hello' before the empty message", path);
    send_compressed(&c, &def, FWS_TEXT_MESSAGE, hello, 19);
    expect_compressed(&c, &inf, FWS_TEXT_MESSAGE, hello, 19, what);
    send_compressed(&c, &def, FWS_TEXT_MESSAGE, (const uint8_t*)"", 0);
    server_msg m = read_msg(&c);
    CHECK(m.opcode == 1 && m.rsv1 && m.len >= 1,
          "%s: an empty reply after a non-empty one is RSV1 with a non-empty deflate payload (got op %d rsv1 %d, %zu B)",
          path, m.opcode, m.rsv1, m.len);
    if (m.opcode == 1 && m.rsv1) {
        uint8_t* out;
        size_t out_len;
        pmd_inflate(&inf, m.payload, m.len, &out, &out_len);
        free(out);
    }
    free(m.payload);
    snprintf(what, sizeof what, "%s: 'Hello' after the empty message", path);
    send_compressed(&c, &def, FWS_TEXT_MESSAGE, hello, 19);
    expect_compressed(&c, &inf, FWS_TEXT_MESSAGE, hello, 19, what);
    deflateEnd(&def);
    inflateEnd(&inf);
    wsc_close(&c);
}

/* client_no_context_takeover + server_no_context_takeover: every reply decodes with a fresh inflater. */
static void test_no_context(const char* path)
{
    wsc c;
    if (open_ws(&c, path, "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover") != 0) {
        wsc_close(&c);
        return;
    }
    z_stream def;
    deflater_init(&def, 15);
    uint8_t* data = make_text(30000);
    char what[128];
    for (int i = 0; i < 4; i++) {
        size_t len = i == 3 ? 1000 : 30000;
        send_compressed(&c, &def, FWS_TEXT_MESSAGE, data, len);
        deflateReset(&def); /* client_no_context_takeover: our next message starts afresh */
        z_stream inf;
        inflater_init(&inf, 15); /* a fresh inflater: the server must not refer back */
        snprintf(what, sizeof what, "%s no-context reply %d (%zu B) with a fresh inflater", path, i, len);
        expect_compressed(&c, &inf, FWS_TEXT_MESSAGE, data, len, what);
        inflateEnd(&inf);
    }
    free(data);
    deflateEnd(&def);
    wsc_close(&c);
}

/* server_max_window_bits=10 (asked by the client, or set in the route's config): replies decode with a
 * 10-bit window. The data repeats every 2000 bytes, so a 15-bit server window would refer too far back. */
static void test_window_bits(const char* path, const char* offer, const char* want)
{
    wsc c;
    if (open_ws(&c, path, offer, want) != 0) {
        wsc_close(&c);
        return;
    }
    z_stream def, inf;
    deflater_init(&def, 15);
    inflater_init(&inf, 10);
    char what[160];
    for (int i = 0; i < 3; i++) {
        size_t len = 8000 + (size_t)i * 50000;
        uint8_t* data = make_repeated_block(len, 2000);
        send_compressed(&c, &def, FWS_BINARY_MESSAGE, data, len);
        snprintf(what, sizeof what, "%s '%s': reply %d decodes with a 10-bit window", path, offer, i);
        expect_compressed(&c, &inf, FWS_BINARY_MESSAGE, data, len, what);
        free(data);
    }
    deflateEnd(&def);
    inflateEnd(&inf);
    wsc_close(&c);
}

static void test_compressed_ping(const char* path)
{
    wsc c;
    if (open_ws(&c, path, "permessage-deflate", "permessage-deflate") != 0) {
        wsc_close(&c);
        return;
    }
    static const uint8_t hello[] = { 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00 };
    wsc_send_frame(&c, 1, 4, 9, hello, sizeof hello);
    int code = wsc_expect_close(&c);
    CHECK(code == 1002, "%s: a ping with RSV1 is closed with 1002, got %d", path, code);
    wsc_close(&c);
}

static void test_rsv1_without_negotiation(const char* path)
{
    wsc c;
    if (open_ws(&c, path, NULL, NULL) != 0) {
        wsc_close(&c);
        return;
    }
    static const uint8_t hello[] = { 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00 };
    wsc_send_frame(&c, 1, 4, 1, hello, sizeof hello);
    int code = wsc_expect_close(&c);
    CHECK(code == 1002, "%s: RSV1 without the extension is closed with 1002, got %d", path, code);
    wsc_close(&c);
}

static uint8_t* g_bomb;
static size_t g_bomb_len;

static void make_bomb(void)
{
    size_t total = 200u << 20;
    uint8_t* zeros = calloc(1, 1 << 20);
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY);
    size_t cap = 1 << 20, used = 0;
    g_bomb = malloc(cap);
    for (size_t done = 0; done < total; done += 1 << 20) {
        z.next_in = zeros;
        z.avail_in = 1 << 20;
        int last = done + (1 << 20) >= total;
        do {
            z.next_out = g_bomb + used;
            z.avail_out = (uInt)(cap - used);
            deflate(&z, last ? Z_SYNC_FLUSH : Z_NO_FLUSH);
            used = cap - z.avail_out;
        } while (z.avail_in > 0 || (last && z.avail_out == 0));
    }
    deflateEnd(&z);
    free(zeros);
    if (used >= 4 && memcmp(g_bomb + used - 4, k_tail, 4) == 0) {
        used -= 4;
    }
    g_bomb_len = used;
}

/* 200 MB of zeros in ~200 KB against a 1 MiB read limit: 1009, quickly. */
static void test_zip_bomb(const char* path)
{
    wsc c;
    if (open_ws(&c, path, "permessage-deflate", "permessage-deflate") != 0) {
        wsc_close(&c);
        return;
    }
    int64_t start = now_ms();
    wsc_send_frame(&c, 1, 4, FWS_BINARY_MESSAGE, g_bomb, g_bomb_len);
    int code = wsc_expect_close(&c);
    int64_t took = now_ms() - start;
    CHECK(code == 1009, "%s: a zip bomb (%zu B inflating to 200 MB) is closed with 1009, got %d", path, g_bomb_len, code);
    CHECK(took < 2000, "%s: the zip bomb was refused in %lld ms", path, (long long)took);
    wsc_close(&c);
}

/* compression_threshold 1000: a 10-byte reply goes uncompressed, a 2000-byte one compressed. */
static void test_threshold(const char* path)
{
    wsc c;
    if (open_ws(&c, path, "permessage-deflate", "permessage-deflate") != 0) {
        wsc_close(&c);
        return;
    }
    z_stream def, inf;
    deflater_init(&def, 15);
    inflater_init(&inf, 15);
    send_compressed(&c, &def, FWS_TEXT_MESSAGE, (const uint8_t*)"ten bytes!", 10);
    server_msg m = read_msg(&c);
    CHECK(m.opcode == 1 && !m.rsv1 && m.len == 10 && memcmp(m.payload, "ten bytes!", 10) == 0,
          "%s: a 10 B reply under the threshold is uncompressed (op %d rsv1 %d len %zu)", path, m.opcode, m.rsv1, m.len);
    free(m.payload);
    uint8_t* data = make_text(2000);
    send_compressed(&c, &def, FWS_TEXT_MESSAGE, data, 2000);
    char what[128];
    snprintf(what, sizeof what, "%s: a 2000 B reply over the threshold", path);
    expect_compressed(&c, &inf, FWS_TEXT_MESSAGE, data, 2000, what);
    /* an uncompressed 999 B message stays uncompressed too */
    wsc_send_frame(&c, 1, 0, FWS_BINARY_MESSAGE, data, 999);
    m = read_msg(&c);
    CHECK(m.opcode == 2 && !m.rsv1 && m.len == 999, "%s: a 999 B reply is uncompressed (rsv1 %d)", path, m.rsv1);
    free(m.payload);
    free(data);
    deflateEnd(&def);
    inflateEnd(&inf);
    wsc_close(&c);
}

/* fws_conn_enable_write_compression(c, 0): replies uncompressed, incoming still inflated. */
static void test_write_compression_off(const char* path)
{
    wsc c;
    if (open_ws(&c, path, "permessage-deflate", "permessage-deflate") != 0) {
        wsc_close(&c);
        return;
    }
    z_stream def;
    deflater_init(&def, 15);
    for (int i = 0; i < 2; i++) {
        uint8_t* data = make_text(5000);
        send_compressed(&c, &def, FWS_TEXT_MESSAGE, data, 5000);
        server_msg m = read_msg(&c);
        CHECK(m.opcode == 1 && !m.rsv1 && m.len == 5000 && memcmp(m.payload, data, 5000) == 0,
              "%s: with write compression off the reply is plain (op %d rsv1 %d len %zu)", path, m.opcode, m.rsv1, m.len);
        free(m.payload);
        free(data);
    }
    deflateEnd(&def);
    wsc_close(&c);
}

/* fws_conn_extensions and fws_conn_set_compression_level, recorded by the handler / on_open. */
static void test_extensions(const char* path)
{
    static const struct {
        const char* offer;
        const char* want;
    } cases[] = {
        { "permessage-deflate; client_no_context_takeover", "permessage-deflate; client_no_context_takeover" },
        { NULL, "" },
    };
    for (size_t i = 0; i < 2; i++) {
        pthread_mutex_lock(&g_lock);
        int before = g_ext_count;
        pthread_mutex_unlock(&g_lock);
        wsc c;
        if (open_ws(&c, path, cases[i].offer, cases[i].offer ? cases[i].want : NULL) != 0) {
            wsc_close(&c);
            continue;
        }
        int seen = 0;
        for (int t = 0; t < 500 && !seen; t++) {
            pthread_mutex_lock(&g_lock);
            seen = g_ext_count > before;
            pthread_mutex_unlock(&g_lock);
            if (!seen) {
                sleep_ms(10);
            }
        }
        CHECK(seen, "%s: the handler ran", path);
        if (seen) {
            char want[300];
            snprintf(want, sizeof want, "%s(0,1)", cases[i].want);
            pthread_mutex_lock(&g_lock);
            CHECK(strcmp(g_ext_seen[before], want) == 0, "%s: fws_conn_extensions gave '%s', want '%s'", path,
                  g_ext_seen[before], want);
            CHECK(g_level_rc[before][0] == FWS_ERR_INVALID_ARGUMENT,
                  "%s: fws_conn_set_compression_level(c, 10) = %d, want FWS_ERR_INVALID_ARGUMENT", path,
                  g_level_rc[before][0]);
            CHECK(g_level_rc[before][1] == FWS_ERR_INVALID_ARGUMENT, "%s: set_compression_level(c, 0) = %d", path,
                  g_level_rc[before][1]);
            CHECK(g_level_rc[before][2] == FWS_OK, "%s: set_compression_level(c, 9) = %d", path, g_level_rc[before][2]);
            pthread_mutex_unlock(&g_lock);
        }
        if (cases[i].offer) {
            /* level 9 now: replies still decode */
            z_stream def, inf;
            deflater_init(&def, 15);
            inflater_init(&inf, 15);
            uint8_t* data = make_text(50000);
            send_compressed(&c, &def, FWS_TEXT_MESSAGE, data, 50000);
            deflateReset(&def);
            char what[128];
            snprintf(what, sizeof what, "%s: reply at level 9", path);
            expect_compressed(&c, &inf, FWS_TEXT_MESSAGE, data, 50000, what);
            free(data);
            deflateEnd(&def);
            inflateEnd(&inf);
        }
        wsc_close(&c);
    }
}

static void test_disabled(const char* path)
{
    wsc c;
    if (open_ws(&c, path, "permessage-deflate; client_max_window_bits", NULL) != 0) {
        wsc_close(&c);
        return;
    }
    wsc_send_frame(&c, 1, 0, 1, "plain", 5);
    server_msg m = read_msg(&c);
    CHECK(m.opcode == 1 && !m.rsv1 && m.len == 5, "%s: plain echo without the extension", path);
    free(m.payload);
    wsc_close(&c);
}

static void test_config_validation(fws_app* app)
{
    static const struct {
        int level, threshold, bits;
    } bad[] = { { 0, 0, 15 }, { 10, 0, 15 }, { 1, -1, 15 }, { 1, 0, 8 }, { 1, 0, 16 } };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fws_ws_config cfg;
        fws_ws_config_init(&cfg);
        cfg.enable_compression = 1;
        cfg.compression_level = bad[i].level;
        cfg.compression_threshold = bad[i].threshold;
        cfg.server_max_window_bits = bad[i].bits;
        char pattern[32];
        snprintf(pattern, sizeof pattern, "/bad%zu", i);
        int32_t rc = fws_app_websocket(app, pattern, blocking_handler, &cfg, NULL);
        CHECK(rc == FWS_ERR_INVALID_ARGUMENT, "config level %d threshold %d bits %d refused: rc %d (%s)", bad[i].level,
              bad[i].threshold, bad[i].bits, rc, fws_result_name(rc));
    }
    fws_ws_config cfg;
    fws_ws_config_init(&cfg);
    CHECK(cfg.enable_compression == 0 && cfg.compression_level == 1 && cfg.compression_threshold == 64 &&
              cfg.server_no_context_takeover == 0 && cfg.server_max_window_bits == 15,
          "fws_ws_config_init compression defaults");
}

/* ---- main ------------------------------------------------------------------------------------------------ */

int main(void)
{
    make_bomb();
    fws_app* app;
    CHECK(fws_app_new(NULL, &app) == FWS_OK, "fws_app_new: %s", fws_last_error());
    test_config_validation(app);

    fws_ws_events ev;
    fws_ws_events_init(&ev);
    ev.on_open = ev_open;
    ev.on_message = ev_message;

    fws_ws_config cfg;
#define ROUTES(bpath, epath, mode)                                                                                    \
    do {                                                                                                             \
        CHECK(fws_app_websocket(app, bpath, blocking_handler, &cfg, (void*)(intptr_t)(mode)) == FWS_OK, "route %s: %s", \
              bpath, fws_last_error());                                                                              \
        CHECK(fws_app_websocket_events(app, epath, &ev, &cfg, (void*)(intptr_t)(mode)) == FWS_OK, "route %s: %s",    \
              epath, fws_last_error());                                                                              \
    } while (0)

    fws_ws_config_init(&cfg);
    cfg.enable_compression = 1;
    cfg.compression_threshold = 0;
    cfg.max_backpressure = 16 << 20;
    ROUTES("/b", "/e", M_ECHO);
    ROUTES("/bx", "/ex", M_EXT);
    ROUTES("/bn", "/en", M_NOWRITE);

    cfg.read_limit = 1 << 20;
    ROUTES("/bl", "/el", M_ECHO);

    fws_ws_config_init(&cfg);
    cfg.enable_compression = 1;
    cfg.compression_threshold = 1000;
    ROUTES("/bt", "/et", M_ECHO);

    fws_ws_config_init(&cfg);
    cfg.enable_compression = 1;
    cfg.compression_threshold = 0;
    cfg.server_max_window_bits = 10;
    ROUTES("/bw", "/ew", M_ECHO);

    fws_ws_config_init(&cfg);
    cfg.enable_compression = 1;
    cfg.compression_threshold = 0;
    cfg.server_no_context_takeover = 1;
    ROUTES("/bs", "/es", M_ECHO);

    fws_ws_config_init(&cfg);
    ROUTES("/b0", "/e0", M_ECHO);
#undef ROUTES

    int32_t port = 0;
    CHECK(fws_app_start(app, "127.0.0.1:0", &port) == FWS_OK, "start: %s", fws_last_error());
    g_port = port;

    static const char* const kinds[2][11] = {
        { "/b", "/bx", "/bn", "/bl", "/bt", "/bw", "/bs", "/b0" },
        { "/e", "/ex", "/en", "/el", "/et", "/ew", "/es", "/e0" },
    };
    for (int k = 0; k < 2; k++) {
        const char* const* p = kinds[k];
        test_echo(p[0]);
        test_no_context(p[0]);
        test_window_bits(p[0], "permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10");
        test_window_bits(p[5], "permessage-deflate", "permessage-deflate; server_max_window_bits=10");
        test_window_bits(p[5], "permessage-deflate; server_max_window_bits=12; client_max_window_bits",
                         "permessage-deflate; server_max_window_bits=10");
        test_compressed_ping(p[0]);
        test_rsv1_without_negotiation(p[0]);
        test_zip_bomb(p[3]);
        test_threshold(p[4]);
        test_write_compression_off(p[2]);
        test_extensions(p[1]);
        test_disabled(p[7]);
        /* server_no_context_takeover from the config: added to the response, replies decode alone */
        {
            wsc c;
            if (open_ws(&c, p[6], "permessage-deflate", "permessage-deflate; server_no_context_takeover") == 0) {
                z_stream def;
                deflater_init(&def, 15);
                uint8_t* data = make_text(10000);
                for (int i = 0; i < 3; i++) {
                    send_compressed(&c, &def, FWS_TEXT_MESSAGE, data, 10000);
                    z_stream inf;
                    inflater_init(&inf, 15);
                    char what[128];
                    snprintf(what, sizeof what, "%s: server_no_context_takeover reply %d with a fresh inflater", p[6], i);
                    expect_compressed(&c, &inf, FWS_TEXT_MESSAGE, data, 10000, what);
                    inflateEnd(&inf);
                }
                free(data);
                deflateEnd(&def);
            }
            wsc_close(&c);
        }
        test_empty_after_message(p[0]);
    }

    CHECK(fws_app_shutdown(app, 5000) == FWS_OK, "shutdown: %s", fws_last_error());
    CHECK(fws_app_free(app) == FWS_OK, "free");
    free(g_bomb);
    return wsc_summary("test_compression");
}
