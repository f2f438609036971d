// consumer.c as a C++17 program linked with the sealed libfiberws.a: the host's libstdc++ (operator new,
// exceptions, std::string) lives next to the NativeAOT runtime inside the archive without clashing.
#include <fiberws.h>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct app_deleter {
    void operator()(fws_app* a) const noexcept { fws_app_free(a); }
};
using app_ptr = std::unique_ptr<fws_app, app_deleter>;

app_ptr make_app()
{
    fws_app* a = nullptr;
    if (fws_app_new(nullptr, &a) != FWS_OK) {
        throw std::runtime_error(std::string("fws_app_new: ") + fws_last_error());
    }
    return app_ptr(a);
}

} // namespace

int main()
{
    try {
        std::string version = fws_version_string();
        std::vector<std::string> apps_started;
        for (int i = 0; i < 3; ++i) {
            app_ptr app = make_app();
            int32_t port = 0;
            if (fws_app_start(app.get(), "127.0.0.1:0", &port) != FWS_OK) {
                throw std::runtime_error(std::string("fws_app_start: ") + fws_last_error());
            }
            apps_started.push_back("127.0.0.1:" + std::to_string(port));
        }
        // A C++ exception thrown and caught in the host, after the runtime has been running.
        try {
            throw std::logic_error("host exception");
        } catch (const std::logic_error&) {
        }
        std::printf("fiberws %s (C++); apps started on", version.c_str());
        for (const auto& a : apps_started) {
            std::printf(" %s", a.c_str());
        }
        std::printf("\nok\n");
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "FAIL: %s\n", e.what());
        return 1;
    }
}
