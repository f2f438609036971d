/*
 * echo.c in C++17: the seed example of gofiber/contrib websocket, on small RAII wrappers around the C API.
 *
 *   fws::app      owns a fws_app* (fws_app_free in the destructor; movable, not copyable) and the callbacks
 *                 registered on it, which it keeps alive for as long as the app can call them
 *   fws::ctx      a fws_ctx*, lent to a middleware for the duration of the call (a view, never freed)
 *   fws::conn     a fws_conn*, lent to a handler until it returns (a view, never freed)
 *   fws::error    a failed call: its FWS_ERR_* code and fws_last_error() text
 *
 * Usage: echo_cpp [ADDR]      (default ":3000"; e.g. "127.0.0.1:8080", "[::1]:0")
 * Access the websocket server: ws://localhost:3000/ws/123?v=1.0
 */
#include <fiberws.h>

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fws {

class error : public std::runtime_error {
public:
    error(const char* call, int32_t code)
        : std::runtime_error(std::string(call) + ": " + fws_result_name(code) + ": " + fws_last_error()), code_(code)
    {
    }
    int32_t code() const noexcept { return code_; }

private:
    int32_t code_;
};

inline void check(int32_t rc, const char* call)
{
    if (rc != FWS_OK) {
        throw error(call, rc);
    }
}

/* The string getters of the C API all share one shape: (handle, name, &value, &len), "" when absent. */
template <typename Handle>
std::string_view get_string(int32_t (*fn)(Handle*, const char*, const char**, size_t*), Handle* h, const char* name)
{
    const char* value = nullptr;
    size_t len = 0;
    if (fn(h, name, &value, &len) != FWS_OK || value == nullptr) {
        return {};
    }
    return {value, len};
}

/* A request seen by middleware. Valid only during the middleware call it was passed to. */
class ctx {
public:
    explicit ctx(fws_ctx* c) noexcept : c_(c) {}
    bool is_websocket_upgrade() const noexcept { return fws_ctx_is_websocket_upgrade(c_) == 1; }
    void locals(const char* key, void* value) const { check(fws_ctx_locals_set(c_, key, value), "fws_ctx_locals_set"); }
    std::string_view param(const char* name) const { return get_string(fws_ctx_param, c_, name); }
    fws_ctx* get() const noexcept { return c_; }

private:
    fws_ctx* c_;
};

/* A message lent by the library: data stays valid until the next read on the connection or until the handler
   returns. */
struct message {
    int32_t type;
    std::string_view data;
};

/* A WebSocket connection inside its handler. Valid until the handler returns. */
class conn {
public:
    explicit conn(fws_conn* c) noexcept : c_(c) {}

    void* locals(const char* key) const noexcept
    {
        void* value = nullptr;
        fws_conn_locals_get(c_, key, &value);
        return value;
    }
    std::string_view param(const char* name) const { return get_string(fws_conn_param, c_, name); }
    std::string_view query(const char* name) const { return get_string(fws_conn_query, c_, name); }
    std::string_view cookie(const char* name) const { return get_string(fws_conn_cookie, c_, name); }

    /* ReadMessage: the next message, or std::nullopt once the connection ended (fws_last_error() says why). */
    std::optional<message> read_message() const noexcept
    {
        int32_t type = 0;
        const uint8_t* data = nullptr;
        size_t len = 0;
        if (fws_conn_read_message(c_, &type, &data, &len) != FWS_OK) {
            return std::nullopt;
        }
        return message{type, {reinterpret_cast<const char*>(data), len}};
    }

    /* WriteMessage: false once the connection can no longer be written to (fws_last_error() says why). */
    bool write_message(int32_t type, std::string_view data) const noexcept
    {
        return fws_conn_write_message(c_, type, reinterpret_cast<const uint8_t*>(data.data()), data.size()) == FWS_OK;
    }

    fws_conn* get() const noexcept { return c_; }

private:
    fws_conn* c_;
};

/* An app: owns the fws_app* and the callbacks registered on it. */
class app {
public:
    /* Returns FWS_NEXT to pass the request on, or an HTTP status to answer with. */
    using middleware = std::function<int32_t(ctx)>;
    /* Runs once per connection on a thread of its own; returning ends the connection with a normal close, and
       an exception ends it with 1011 (the library's recover path). */
    using handler = std::function<void(conn)>;

    app() : app(nullptr) {}
    explicit app(const fws_app_config* config)
    {
        fws_app* a = nullptr;
        check(fws_app_new(config, &a), "fws_app_new");
        app_.reset(a);
    }

    void use(const char* prefix, middleware fn)
    {
        middlewares_.push_back(std::make_unique<middleware>(std::move(fn)));
        check(fws_app_use(app_.get(), prefix, &call_middleware, middlewares_.back().get()), "fws_app_use");
    }

    void websocket(const char* pattern, handler fn, const fws_ws_config* config = nullptr)
    {
        handlers_.push_back(std::make_unique<handler>(std::move(fn)));
        check(fws_app_websocket(app_.get(), pattern, &call_handler, config, handlers_.back().get()),
              "fws_app_websocket");
    }

    /* app.Listen: serves on addr until shutdown() is called from another thread. */
    void listen(const char* addr) { check(fws_app_listen(app_.get(), addr), "fws_app_listen"); }

    /* Any thread. false when some handlers were still running at the deadline. */
    bool shutdown(int32_t timeout_ms) noexcept { return fws_app_shutdown(app_.get(), timeout_ms) == FWS_OK; }

    fws_app* get() const noexcept { return app_.get(); }

private:
    /* The C callbacks get the std::function as their user pointer. Nothing may cross back into the library as
       a C++ exception: a middleware that throws answers 500, a handler that throws fails the connection. */
    static int32_t call_middleware(void* user, fws_ctx* c) noexcept
    {
        try {
            return (*static_cast<middleware*>(user))(ctx(c));
        } catch (...) {
            return 500;
        }
    }
    static int32_t call_handler(void* user, fws_conn* c) noexcept
    {
        try {
            (*static_cast<handler*>(user))(conn(c));
            return 0;
        } catch (...) {
            return -1;
        }
    }

    struct app_deleter {
        void operator()(fws_app* a) const noexcept { fws_app_free(a); }
    };

    /* Declaration order matters: members are destroyed in reverse, so app_ (whose deleter shuts the server down
       and waits for the handlers) goes first, and the callbacks it may still be running outlive it. The
       callbacks sit behind unique_ptr so their addresses survive vector growth and moves of the app. */
    std::vector<std::unique_ptr<middleware>> middlewares_;
    std::vector<std::unique_ptr<handler>> handlers_;
    std::unique_ptr<fws_app, app_deleter> app_;
};

} // namespace fws

/* Go's log.Println: a "2006/01/02 15:04:05 " prefix, one line per call, the parts concatenated. */
template <typename... Parts>
static void log_line(const Parts&... parts)
{
    static std::mutex mutex;
    char stamp[32];
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    std::strftime(stamp, sizeof stamp, "%Y/%m/%d %H:%M:%S", &tm);
    std::string line(stamp);
    line += ' ';
    (line.append(std::string_view(parts)), ...);
    line += '\n';
    std::lock_guard<std::mutex> lock(mutex);
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
}

int main(int argc, char** argv)
{
    const char* addr = argc > 1 ? argv[1] : ":3000";
    try {
        fws::app app;

        app.use("/ws", [](fws::ctx c) -> int32_t {
            // IsWebSocketUpgrade returns true if the client
            // requested upgrade to the WebSocket protocol.
            if (c.is_websocket_upgrade()) {
                c.locals("allowed", reinterpret_cast<void*>(1)); // c.Locals("allowed", true)
                return FWS_NEXT;                                 // return c.Next()
            }
            return 426; // return fiber.ErrUpgradeRequired
        });

        app.websocket("/ws/:id", [](fws::conn c) {
            // c.Locals is added to the *websocket.Conn
            log_line(c.locals("allowed") ? "true" : "false"); // true
            log_line(c.param("id"));                          // 123
            log_line(c.query("v"));                           // 1.0
            log_line(c.cookie("session"));                    // ""

            while (auto msg = c.read_message()) {
                // Long messages are logged by their first 256 bytes so that 16 MiB echoes stay quick.
                if (msg->data.size() <= 256) {
                    log_line("recv: ", msg->data);
                } else {
                    log_line("recv: ", msg->data.substr(0, 256), "... (", std::to_string(msg->data.size()), " bytes)");
                }
                if (!c.write_message(msg->type, msg->data)) {
                    log_line("write: ", fws_last_error());
                    return;
                }
            }
            log_line("read: ", fws_last_error());
        });

        log_line("listening on ", addr);
        app.listen(addr); // log.Fatal(app.Listen(":3000"))
    } catch (const std::exception& e) {
        log_line(e.what());
        return 1;
    }
    return 0;
}
