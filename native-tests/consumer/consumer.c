/* The smallest useful fiberws program: version, then an app that starts on a free loopback port and is freed. */
#include <fiberws.h>

#include <stdio.h>

int main(void)
{
    printf("fiberws %s (header %d.%d.%d)\n", fws_version_string(), FWS_VERSION_MAJOR, FWS_VERSION_MINOR,
           FWS_VERSION_PATCH);
    if (fws_version() != FWS_VERSION_HEX) {
        fprintf(stderr, "FAIL: library version 0x%x, header 0x%x\n", (unsigned)fws_version(), (unsigned)FWS_VERSION_HEX);
        return 1;
    }
    fws_app* app = NULL;
    int32_t port = 0;
    if (fws_app_new(NULL, &app) != FWS_OK || fws_app_start(app, "127.0.0.1:0", &port) != FWS_OK) {
        fprintf(stderr, "FAIL: %s\n", fws_last_error());
        return 1;
    }
    printf("app started on 127.0.0.1:%d\n", (int)port);
    if (fws_app_free(app) != FWS_OK) {
        fprintf(stderr, "FAIL: fws_app_free: %s\n", fws_last_error());
        return 1;
    }
    puts("ok");
    return 0;
}
