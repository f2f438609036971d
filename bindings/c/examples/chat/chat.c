/*
 * A browser chat in one program: serves a self-contained HTML page on "/" (plain HTTP, fws_app_get) and relays
 * messages between every open tab through the WebSocket route "/chat" (event API, topic "chat").
 *
 *   chat [ADDR]        ADDR: HOST:PORT or :PORT (every interface); default 127.0.0.1:3000; port 0 picks one
 *
 * Open http://127.0.0.1:3000/?name=alice and http://127.0.0.1:3000/?name=bob in two tabs and type away.
 *
 * Protocol. The page connects to /chat?name=NAME and sends each message as a text frame. The server publishes
 * JSON text to every subscriber of "chat", the sender included:
 *   {"kind":"join","name":"alice","online":2}
 *   {"kind":"msg","name":"alice","text":"hello"}
 *   {"kind":"leave","name":"alice","online":1}
 * Names are cut to 32 bytes of UTF-8 without control characters ("guest" when nothing is left). Messages
 * longer than 4096 bytes close the connection with 1009 (read_limit); binary and empty messages are ignored.
 *
 * It prints "listening on PORT" once it accepts connections and runs until SIGINT/SIGTERM.
 */
#define _POSIX_C_SOURCE 200809L /* sigwait, pthread_sigmask under -std=c99 */

#include <fiberws.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOPIC "chat"
#define MAX_NAME 32
#define MAX_MESSAGE 4096

/* The page, one line per string, joined with '\n' at startup (keeps every literal far below C99's 4095). */
static const char* const PAGE_LINES[] = {
    "<!doctype html>",
    "<html lang=\"en\">",
    "<head>",
    "<meta charset=\"utf-8\">",
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
    "<title>fiberws chat</title>",
    "<link rel=\"icon\" href=\"data:,\">",
    "<style>",
    "  * { box-sizing: border-box; }",
    "  html, body { height: 100%; margin: 0; }",
    "  body { display: flex; flex-direction: column; font: 15px/1.4 system-ui, sans-serif;",
    "         background: #eef1f5; color: #1d2430; }",
    "  header { display: flex; align-items: center; gap: 12px; padding: 10px 16px; background: #1d2430;",
    "           color: #fff; }",
    "  header h1 { flex: 1; margin: 0; font-size: 18px; font-weight: 600; }",
    "  #me { opacity: .8; }",
    "  #status { padding: 2px 10px; border-radius: 10px; font-size: 12px; background: #8a5a00; }",
    "  #status.on { background: #1f7a3a; }",
    "  #status.off { background: #9b1c1c; }",
    "  #messages { flex: 1; overflow-y: auto; margin: 0; padding: 12px 16px; list-style: none; }",
    "  #messages li { width: fit-content; max-width: 70%; margin: 6px 0; padding: 6px 10px; border-radius: 8px;",
    "                 background: #fff; box-shadow: 0 1px 2px rgba(0,0,0,.12); overflow-wrap: anywhere;",
    "                 white-space: pre-wrap; }",
    "  #messages li.mine { margin-left: auto; background: #d7ecff; }",
    "  #messages li.system { width: auto; max-width: none; background: none; box-shadow: none; text-align: center;",
    "                        color: #667; font-size: 13px; font-style: italic; }",
    "  .who { display: block; font-size: 12px; font-weight: 700; }",
    "  .when { float: right; margin-left: 10px; font-size: 11px; color: #889; }",
    "  form { display: flex; gap: 8px; padding: 10px 16px; background: #fff; border-top: 1px solid #d5dae1; }",
    "  #input { flex: 1; padding: 8px 10px; font: inherit; border: 1px solid #b8c0cc; border-radius: 6px; }",
    "  #send { padding: 8px 18px; font: inherit; color: #fff; background: #2563eb; border: 0;",
    "          border-radius: 6px; cursor: pointer; }",
    "  #send:disabled { background: #9aa5b5; cursor: default; }",
    "</style>",
    "</head>",
    "<body>",
    "<header><h1>fiberws chat</h1><span id=\"me\"></span><span id=\"status\">connecting&hellip;</span></header>",
    "<ul id=\"messages\" aria-live=\"polite\"></ul>",
    "<form id=\"form\" autocomplete=\"off\">",
    "  <input id=\"input\" maxlength=\"1000\" placeholder=\"Type a message\" aria-label=\"Message\" disabled>",
    "  <button id=\"send\" type=\"submit\" disabled>Send</button>",
    "</form>",
    "<script>",
    "(function () {",
    "  'use strict';",
    "  var params = new URLSearchParams(location.search);",
    "  var name = (params.get('name') || '').trim() || 'guest-' + Math.floor(1000 + Math.random() * 9000);",
    "  var list = document.getElementById('messages');",
    "  var input = document.getElementById('input');",
    "  var send = document.getElementById('send');",
    "  var status = document.getElementById('status');",
    "  document.getElementById('me').textContent = name;",
    "  /* State for tests and the console: every message received (parsed), and whether the socket is open. */",
    "  window.chatName = name;",
    "  window.chatOpen = false;",
    "  window.chatMessages = [];",
    "",
    "  function hue(s) {",
    "    var h = 0;",
    "    for (var i = 0; i < s.length; i++) { h = (h * 31 + s.charCodeAt(i)) % 360; }",
    "    return h;",
    "  }",
    "  function el(tag, cls, text) {",
    "    var e = document.createElement(tag);",
    "    if (cls) { e.className = cls; }",
    "    if (text !== undefined) { e.textContent = text; }",
    "    return e;",
    "  }",
    "  function show(m) {",
    "    var li;",
    "    if (m.kind === 'msg') {",
    "      li = el('li', m.name === name ? 'mine' : '');",
    "      var who = el('span', 'who', m.name);",
    "      who.style.color = 'hsl(' + hue(m.name) + ',60%,38%)';",
    "      li.appendChild(el('span', 'when', new Date().toTimeString().slice(0, 5)));",
    "      li.appendChild(who);",
    "      li.appendChild(document.createTextNode(m.text));",
    "    } else if (m.kind === 'join' || m.kind === 'leave') {",
    "      li = el('li', 'system', m.name + (m.kind === 'join' ? ' joined' : ' left') + ' \\u00b7 ' +",
    "              m.online + ' online');",
    "    } else {",
    "      return;",
    "    }",
    "    var atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 40;",
    "    list.appendChild(li);",
    "    if (atEnd) { list.scrollTop = list.scrollHeight; }",
    "  }",
    "  function setStatus(text, cls) { status.textContent = text; status.className = cls; }",
    "",
    "  var ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host +",
    "                         '/chat?name=' + encodeURIComponent(name));",
    "  ws.onopen = function () {",
    "    window.chatOpen = true;",
    "    setStatus('connected', 'on');",
    "    input.disabled = send.disabled = false;",
    "    input.focus();",
    "  };",
    "  ws.onmessage = function (e) {",
    "    var m;",
    "    try { m = JSON.parse(e.data); } catch (err) { return; }",
    "    window.chatMessages.push(m);",
    "    show(m);",
    "  };",
    "  ws.onclose = function (e) {",
    "    window.chatOpen = false;",
    "    setStatus('disconnected (' + e.code + ') - reload to reconnect', 'off');",
    "    input.disabled = send.disabled = true;",
    "  };",
    "  document.getElementById('form').addEventListener('submit', function (e) {",
    "    e.preventDefault();",
    "    var text = input.value.trim();",
    "    if (!text || ws.readyState !== WebSocket.OPEN) { return; }",
    "    ws.send(text);",
    "    input.value = '';",
    "    input.focus();",
    "  });",
    "})();",
    "</script>",
    "</body>",
    "</html>",
    NULL,
};

static char* page;
static size_t page_len;

/* Connections on the route; only touched by the event callbacks, which all run on the one event loop thread. */
static int online;

static int build_page(void)
{
    size_t n = 0;
    for (size_t i = 0; PAGE_LINES[i]; i++) {
        n += strlen(PAGE_LINES[i]) + 1;
    }
    page = malloc(n);
    if (!page) {
        return -1;
    }
    for (size_t i = 0; PAGE_LINES[i]; i++) {
        size_t len = strlen(PAGE_LINES[i]);
        memcpy(page + page_len, PAGE_LINES[i], len);
        page_len += len;
        page[page_len++] = '\n';
    }
    return 0;
}

static int32_t serve_page(void* user, fws_ctx* ctx)
{
    (void)user;
    return fws_ctx_send(ctx, 200, "text/html; charset=utf-8", page, page_len) == FWS_OK ? 0 : 1;
}

/* Length of the UTF-8 sequence at s (at most n bytes), or 0 when it is not valid (overlong, surrogate, > U+10FFFF). */
static size_t utf8_seq(const unsigned char* s, size_t n)
{
    if (s[0] < 0x80) {
        return 1;
    }
    size_t len;
    unsigned long cp;
    if ((s[0] & 0xE0) == 0xC0) {
        len = 2;
        cp = s[0] & 0x1Fu;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3;
        cp = s[0] & 0x0Fu;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    static const unsigned long min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return len;
}

/* Copies the displayable part of a user name into out (MAX_NAME + 1 bytes): valid UTF-8, no control
   characters, cut at a character boundary, spaces trimmed; "guest" when nothing is left. */
static void clean_name(const char* in, size_t n, char* out)
{
    const unsigned char* s = (const unsigned char*)in;
    size_t o = 0;
    size_t i = 0;
    while (i < n) {
        size_t len = utf8_seq(s + i, n - i);
        if (len == 0) {
            i++; /* skip a stray byte */
            continue;
        }
        if (o + len > MAX_NAME) {
            break;
        }
        if (!(len == 1 && (s[i] < 0x20 || s[i] == 0x7F)) && !(o == 0 && s[i] == ' ')) {
            memcpy(out + o, s + i, len);
            o += len;
        }
        i += len;
    }
    while (o > 0 && out[o - 1] == ' ') {
        o--;
    }
    if (o == 0) {
        strcpy(out, "guest");
    } else {
        out[o] = 0;
    }
}

/* A growable byte buffer for the JSON we publish. */
typedef struct {
    char* data;
    size_t len;
    size_t cap;
    int failed;
} buf;

static void buf_put(buf* b, const char* s, size_t n)
{
    if (b->failed) {
        return;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) {
            cap *= 2;
        }
        char* p = realloc(b->data, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static void buf_puts(buf* b, const char* s)
{
    buf_put(b, s, strlen(s));
}

/* Appends s as a JSON string (quotes included). s is valid UTF-8: text frames are validated by the library,
   names by clean_name. */
static void buf_json_string(buf* b, const char* s, size_t n)
{
    buf_put(b, "\"", 1);
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        buf_put(b, s + start, i - start);
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            esc[2] = 0;
        } else {
            snprintf(esc, sizeof esc, "\\u%04x", c);
        }
        buf_puts(b, esc);
        start = i + 1;
    }
    buf_put(b, s + start, n - start);
    buf_put(b, "\"", 1);
}

/* Publishes {"kind":KIND,"name":NAME,...} to the topic; text is NULL for join/leave (which carry "online"). */
static void publish(fws_app* app, const char* kind, const char* name, const char* text, size_t text_len)
{
    buf b = { NULL, 0, 0, 0 };
    buf_puts(&b, "{\"kind\":\"");
    buf_puts(&b, kind);
    buf_puts(&b, "\",\"name\":");
    buf_json_string(&b, name, strlen(name));
    if (text) {
        buf_puts(&b, ",\"text\":");
        buf_json_string(&b, text, text_len);
    } else {
        char count[32];
        snprintf(count, sizeof count, ",\"online\":%d", online);
        buf_puts(&b, count);
    }
    buf_puts(&b, "}");
    if (!b.failed) {
        /* Fails only while shutting down (the app no longer runs); nothing to do about it then. */
        fws_app_publish(app, TOPIC, FWS_TEXT_MESSAGE, (const uint8_t*)b.data, b.len, NULL);
    }
    free(b.data);
}

static const char* conn_name(fws_conn* c)
{
    void* name = NULL;
    fws_conn_locals_get(c, "name", &name);
    return name ? (const char*)name : "guest";
}

/* user = the app (for every callback below) */
static int32_t on_open(void* user, fws_conn* c)
{
    const char* query = "";
    size_t len = 0;
    fws_conn_query(c, "name", &query, &len); /* "" when absent */
    if (fws_conn_subscribe(c, TOPIC) != FWS_OK) {
        return 1;
    }
    char* name = malloc(MAX_NAME + 1);
    if (!name) {
        return 1;
    }
    clean_name(query, len, name);
    fws_conn_locals_set(c, "name", name); /* freed in on_close, which then also counts the leave */
    online++;
    publish((fws_app*)user, "join", name, NULL, 0);
    return 0;
}

static int32_t on_message(void* user, fws_conn* c, int32_t type, const uint8_t* data, size_t len)
{
    if (type != FWS_TEXT_MESSAGE || len == 0) {
        return 0;
    }
    publish((fws_app*)user, "msg", conn_name(c), (const char*)data, len);
    return 0;
}

static void on_close(void* user, fws_conn* c, int32_t code, const uint8_t* reason, size_t reason_len)
{
    (void)code;
    (void)reason;
    (void)reason_len;
    void* name = NULL;
    fws_conn_locals_get(c, "name", &name);
    if (!name) {
        return; /* on_open failed before the name was stored: it never joined */
    }
    online--;
    publish((fws_app*)user, "leave", (const char*)name, NULL, 0);
    fws_conn_locals_set(c, "name", NULL);
    free(name);
}

/* The host to show in the "open http://..." hint: ":3000" and "0.0.0.0:3000" listen on every interface. */
static void print_hint(const char* addr, int port)
{
    const char* colon = strrchr(addr, ':');
    size_t host_len = colon ? (size_t)(colon - addr) : 0;
    const char* host = addr;
    if (host_len == 0 || (host_len == 7 && strncmp(addr, "0.0.0.0", 7) == 0) ||
        (host_len == 4 && strncmp(addr, "[::]", 4) == 0)) {
        host = "localhost";
        host_len = strlen(host);
    }
    printf("open http://%.*s:%d/?name=alice and http://%.*s:%d/?name=bob in two browser tabs\n", (int)host_len, host,
           port, (int)host_len, host, port);
}

int main(int argc, char** argv)
{
    const char* addr = "127.0.0.1:3000";
    if (argc > 2 || (argc == 2 && (argv[1][0] == '-' || strchr(argv[1], ':') == NULL))) {
        fprintf(stderr, "usage: chat [HOST:PORT | :PORT]   (default 127.0.0.1:3000)\n");
        return 2;
    }
    if (argc == 2) {
        addr = argv[1];
    }
    if (build_page() != 0) {
        fprintf(stderr, "chat: out of memory\n");
        return 1;
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
    fws_ws_config cfg;
    fws_ws_config_init(&cfg);
    cfg.read_limit = MAX_MESSAGE;
    cfg.ping_interval_ms = 30000; /* drop tabs that vanished without closing */
    fws_ws_events ev;
    fws_ws_events_init(&ev);
    ev.on_open = on_open;
    ev.on_message = on_message;
    ev.on_close = on_close;
    if (fws_app_get(app, "/", serve_page, NULL) != FWS_OK ||
        fws_app_websocket_events(app, "/chat", &ev, &cfg, app) != FWS_OK) {
        fprintf(stderr, "chat: %s\n", fws_last_error());
        return 1;
    }
    int32_t port = 0;
    if (fws_app_start(app, addr, &port) != FWS_OK) {
        fprintf(stderr, "chat: %s: %s\n", addr, fws_last_error());
        return 1;
    }
    printf("listening on %d\n", (int)port);
    print_hint(addr, (int)port);
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    fws_app_shutdown(app, 2000);
    fws_app_free(app);
    free(page);
    return 0;
}
