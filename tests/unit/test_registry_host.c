/* test_registry_host.c -- which registry hosts count as loopback: only
 * these may be reached over plain http without --plain-http, so a name
 * that merely begins like one must not count */
#include "check.h"
#include "registry.h"

int main(void)
{
    static const char *const loopback[] = {
        "localhost", "localhost:5000", "127.0.0.1", "127.0.0.1:5000", "127.1.2.3:80", "[::1]", "[::1]:5000",
    };
    static const char *const remote[] = {
        "localhost.example.com", "localhost.example.com:5000", "localhostx", "127.example.com",
        "127.0.0.1.nip.io:5000", "127.0.0.1:5000x", "127.0.0.1:", "128.0.0.1", "10.0.0.1:5000",
        "[::1]x", "[::2]:5000", "registry.example.com", "", "0x7f.0.0.1",
    };
    size_t i;

    for (i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++)
        CHECK_MSG(reg_host_is_loopback(loopback[i]), "\"%s\" is loopback", loopback[i]);
    for (i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
        CHECK_MSG(!reg_host_is_loopback(remote[i]), "\"%s\" is not loopback", remote[i]);
    return check_exit();
}
