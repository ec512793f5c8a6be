/* test_snap_config.c -- config.toml: defaults, every section, round trip
 * through `config dump`, each error with its file and line, missing files */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

static char dir[] = "/tmp/test_snap_config.XXXXXX";

static const char *write_config(const char *name, const char *text)
{
    static char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    if (!f)
        return NULL;
    fputs(text, f);
    fclose(f);
    return path;
}

static char *dump_text(const struct snap_config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    snap_config_dump(cfg, f);
    fclose(f);
    return buf;
}

static void test_defaults(void)
{
    struct snap_config cfg;
    struct error err = {{0}};

    snap_config_defaults(&cfg);
    CHECK(cfg.mount_timeout_sec == 30);
    CHECK(cfg.max_concurrency == 100);
    CHECK(cfg.disable_verification == 0);
    CHECK(cfg.soci_v1_enable == 1 && cfg.soci_v2_enable == 1);
    CHECK(cfg.dial_timeout_msec == 3000 && cfg.response_header_timeout_msec == 3000);
    CHECK(cfg.request_timeout_msec == 300000 && cfg.max_retries == 8);
    CHECK(cfg.fetching_timeout_sec == 300 && cfg.max_span_verification_retries == 0);
    CHECK(cfg.attr_timeout == 1 && cfg.entry_timeout == 1 && cfg.negative_timeout == 1);
    CHECK(cfg.bg_disable == 0 && cfg.bg_silence_period_msec == 30000 && cfg.bg_fetch_period_msec == 500);
    CHECK(cfg.min_layer_size == 0 && cfg.allow_invalid_mounts_on_restart == 0);
    CHECK(cfg.cache_memory_bytes == 512LL << 20 && cfg.cache_disk_bytes == 10LL << 30);
    CHECK(cfg.cache_dir[0] == '\0' && cfg.passthrough == NULL);

    /* an empty file and a file of comments are the defaults too */
    const char *p = write_config("empty.toml", "# nothing\n\n   # more\n");
    cfg.mount_timeout_sec = 7;
    CHECK(snap_config_load(&cfg, p, 0, &err) == 0);
    CHECK(cfg.mount_timeout_sec == 30);
    snap_config_free(&cfg);
}

/* a file touching every table, honoured and passthrough keys */
static const char full[] =
    "# top level\n"
    "metrics_address = \"127.0.0.1:9999\"\n"
    "metadata_store = 'db-multi'   # literal string\n"
    "skip_check_snapshotter_supported = true\n"
    "disable_verification = false\n"
    "max_concurrency = -1\n"
    "mount_timeout_sec = 45\n"
    "debug = true\n"
    "\n"
    "[http]\n"
    "DialTimeoutMsec = 1_500\n"
    "ResponseHeaderTimeoutMsec = 2000\n"
    "RequestTimeoutMsec = 0\n"
    "MaxRetries = 3\n"
    "MinWaitMsec = 10\n"
    "\n"
    "[blob]\n"
    "valid_interval = 120\n"
    "check_always = true\n"
    "fetching_timeout_sec = 60\n"
    "max_span_verification_retries = 2\n"
    "\n"
    "[directory_cache]\n"
    "direct = false\n"
    "[fuse]\n"
    "attr_timeout = 5\n"
    "entry_timeout = 6\n"
    "negative_timeout = 0\n"
    "log_fuse_operations = true\n"
    "[background_fetch]\n"
    "disable = true\n"
    "silence_period_msec = 1000\n"
    "fetch_period_msec = 250\n"
    "drop_policy = \"oldest\"\n"
    "[content_store]\n"
    "type = \"containerd\"\n"
    "[prefetch]\n"
    "enable = true\n"
    "[pull_modes]\n"
    "  [pull_modes.soci_v1]\n"
    "    enable = true\n"
    "  [pull_modes.soci_v2]\n"
    "    enable = false\n"
    "  [pull_modes.parallel_pull_unpack]\n"
    "    max_concurrent_downloads = 4\n"
    "  [pull_modes.parallel_pull_unpack.decompress_streams.\"gzip\"]\n"
    "    path = \"/usr/bin/unpigz\"\n"
    "    args = [\"-d\",\n"
    "            \"-c\", # trailing comma and a comment\n"
    "           ]\n"
    "[kubeconfig_keychain]\n"
    "enable_keychain = false\n"
    "[cri_keychain]\n"
    "image_service_path = \"/run/x.sock\"\n"
    "[resolver]\n"
    "auth_client_ttl_sec = 60\n"
    "[resolver.host]\n"
    "[resolver.host.\"registry.example:5000\"]\n"
    "mirrors = [{host = \"mirror.example\", insecure = true, request_timeout_sec = 10},\n"
    "           { host = \"m2\" }]\n"
    "[resolver . host . docker-io]\n"
    "mirrors = []\n"
    "[snapshotter]\n"
    "min_layer_size = 10_000_000\n"
    "allow_invalid_mounts_on_restart = true\n"
    "[cache]\n"
    "memory_size = \"64MiB\"\n"
    "disk_size = \"4G\"\n"
    "dir = \"/var/cache/soci \\\"q\\\" \\u00e9\"\n";

static void check_full(const struct snap_config *cfg)
{
    CHECK(cfg->skip_check_snapshotter_supported == 1);
    CHECK(cfg->max_concurrency == -1);
    CHECK(cfg->prefetch_enable == 1);
    CHECK(cfg->mount_timeout_sec == 45);
    CHECK(cfg->dial_timeout_msec == 1500);
    CHECK(cfg->response_header_timeout_msec == 2000);
    CHECK(cfg->request_timeout_msec == 300000); /* 0 = upstream's default */
    CHECK(cfg->max_retries == 3);
    CHECK(cfg->fetching_timeout_sec == 60);
    CHECK(cfg->max_span_verification_retries == 2);
    CHECK(cfg->attr_timeout == 5 && cfg->entry_timeout == 6 && cfg->negative_timeout == 1);
    CHECK(cfg->bg_disable == 1 && cfg->bg_silence_period_msec == 1000 && cfg->bg_fetch_period_msec == 250);
    CHECK(cfg->soci_v1_enable == 1 && cfg->soci_v2_enable == 0);
    CHECK(cfg->min_layer_size == 10000000);
    CHECK(cfg->allow_invalid_mounts_on_restart == 1);
    CHECK(cfg->cache_memory_bytes == 64LL << 20);
    CHECK(cfg->cache_disk_bytes == 4LL << 30);
    CHECK_MSG(strcmp(cfg->cache_dir, "/var/cache/soci \"q\" \xc3\xa9") == 0, "%s", cfg->cache_dir);
    CHECK(cfg->passthrough != NULL);
    if (!cfg->passthrough)
        return;
    CHECK(strstr(cfg->passthrough, "\tmetadata_store = \"db-multi\"\n") != NULL);
    CHECK(strstr(cfg->passthrough, "http\tMinWaitMsec = 10\n") != NULL);
    CHECK(strstr(cfg->passthrough, "blob\tcheck_always = true\n") != NULL);
    CHECK(strstr(cfg->passthrough, "background_fetch\tdrop_policy = \"oldest\"\n") != NULL);
    CHECK(strstr(cfg->passthrough, "pull_modes.parallel_pull_unpack.decompress_streams.gzip\targs = [\"-d\", \"-c\"]\n") !=
          NULL);
    CHECK(strstr(cfg->passthrough, "resolver.host.\"registry.example:5000\"\tmirrors = [{host = \"mirror.example\", "
                                   "insecure = true, request_timeout_sec = 10}, {host = \"m2\"}]\n") != NULL);
    CHECK(strstr(cfg->passthrough, "resolver.host.docker-io\tmirrors = []\n") != NULL);
}

static void test_every_section_and_round_trip(void)
{
    struct snap_config cfg, again;
    struct error err = {{0}};
    const char *p = write_config("full.toml", full);
    char *first, *second;

    CHECK_MSG(snap_config_load(&cfg, p, 0, &err) == 0, "%s", err.msg);
    check_full(&cfg);

    /* dump, load the dump, dump again: the same config and the same text */
    first = dump_text(&cfg);
    p = write_config("dumped.toml", first);
    CHECK_MSG(snap_config_load(&again, p, 0, &err) == 0, "%s", err.msg);
    check_full(&again);
    second = dump_text(&again);
    CHECK_MSG(strcmp(first, second) == 0, "dump changed after a round trip:\n%s\n---\n%s", first, second);
    CHECK(strstr(first, "\n[resolver.host.\"registry.example:5000\"]\nmirrors = [") != NULL);
    CHECK(strstr(first, "\n[cache]\nmemory_size = \"64MiB\"\ndisk_size = \"4GiB\"\n") != NULL);
    free(first);
    free(second);
    snap_config_free(&cfg);
    snap_config_free(&again);

    /* the defaults dumped load back as the defaults */
    struct snap_config d, d2;
    snap_config_defaults(&d);
    first = dump_text(&d);
    CHECK(strstr(first, "mount_timeout_sec = 30\n") != NULL);
    CHECK(strstr(first, "\n[content_store]\ntype = \"soci\"\n") != NULL);
    p = write_config("defaults.toml", first);
    CHECK_MSG(snap_config_load(&d2, p, 0, &err) == 0, "%s", err.msg);
    second = dump_text(&d2);
    CHECK(strcmp(first, second) == 0);
    CHECK(d2.cache_disk_bytes == d.cache_disk_bytes && d2.soci_v2_enable == 1);
    free(first);
    free(second);
    snap_config_free(&d2);
}

/* text must fail with exactly "PATH:want" */
static void expect_error(const char *text, const char *want)
{
    struct snap_config cfg;
    struct error err = {{0}};
    char full_want[1024];
    const char *p = write_config("bad.toml", text);

    snprintf(full_want, sizeof(full_want), "%s:%s", p, want);
    CHECK_MSG(snap_config_load(&cfg, p, 0, &err) == -1, "accepted: %s", text);
    CHECK_MSG(strcmp(err.msg, full_want) == 0, "got \"%s\", want \"%s\"", err.msg, full_want);
    CHECK(strchr(err.msg, '\n') == NULL);
    /* a failed load leaves the defaults */
    CHECK(cfg.mount_timeout_sec == 30 && cfg.passthrough == NULL);
}

static void test_errors(void)
{
    expect_error("# c\n[fuse]\nattr_timeout = 1\n\nattr_timout = 2\n", "5: [fuse] attr_timout: unknown key");
    expect_error("nosuch = 1\n", "1: nosuch: unknown key");
    expect_error("\n[fusee]\n", "2: [fusee]: unknown table");
    expect_error("[resolver.host.\"a\".b]\n", "1: [resolver.host.a.b]: unknown table");
    expect_error("[[http]]\n", "1: arrays of tables ([[...]]) are not supported");
    expect_error("[fuse]\n[http]\n[fuse]\n", "3: [fuse]: table defined twice");
    expect_error("[http]\nMaxRetries = 2\nMaxRetries = 3\n", "3: [http] MaxRetries: key set twice");
    expect_error("[http]\nMaxRetries = \"3\"\n", "2: [http] MaxRetries: expected an integer");
    expect_error("[http]\nMaxRetries = 101\n", "2: [http] MaxRetries: 101 is out of range (0..100)");
    expect_error("mount_timeout_sec = 99999999999999999999\n", "1: mount_timeout_sec: integer out of range");
    expect_error("mount_timeout_sec = 1.5\n", "1: mount_timeout_sec: expected an integer");
    expect_error("mount_timeout_sec = 012\n", "1: mount_timeout_sec: expected an integer (no leading zeros)");
    expect_error("mount_timeout_sec = -1\n", "1: mount_timeout_sec: -1 is out of range (0..86400)");
    expect_error("debug = yes\n", "1: debug: expected true or false");
    expect_error("disable_verification = true\n",
                 "1: disable_verification: true is not supported by this implementation");
    expect_error("metadata_store = \"bolt\"\n", "1: metadata_store: \"bolt\" is not one of db|db-multi");
    expect_error("metrics_address = \"abc\n", "1: metrics_address: unterminated string");
    expect_error("metrics_address = \"a\\qb\"\n", "1: metrics_address: bad escape \\q in a string");
    expect_error("metrics_address = \"\"\"x\"\"\"\n", "1: metrics_address: multi-line strings are not supported");
    expect_error("debug = true false\n", "1: debug: unexpected 'f' after the value");
    expect_error("debug true\n", "1: debug: expected '=' after the key");
    expect_error("[http]\nhttp.MaxRetries = 1\n", "2: [http] http: dotted keys are not supported; use a [table]");
    expect_error("[cache]\nmemory_size = \"lots\"\n",
                 "2: [cache] memory_size: \"lots\" is not a size (bytes, or with K, M, G, KiB, MiB, GiB)");
    expect_error("[cache]\nmemory_size = \"4MiBs\"\n",
                 "2: [cache] memory_size: \"4MiBs\" is not a size (bytes, or with K, M, G, KiB, MiB, GiB)");
    expect_error("[cache]\ndisk_size = -5\n", "2: [cache] disk_size: -5 is out of range (0..9223372036854775807)");
    expect_error("[cache]\nmemory_size = 1000\n",
                 "2: [cache] memory_size: 1000 is out of range (1048576..9223372036854775807)");
    expect_error("[pull_modes.parallel_pull_unpack.decompress_streams.gz]\nargs = [\"a\", 1]\n",
                 "2: [pull_modes.parallel_pull_unpack.decompress_streams.gz] args: expected a string");
    expect_error("[pull_modes.parallel_pull_unpack.decompress_streams.gz]\nargs = [\"a\"\n\"b\"]\n",
                 "3: [pull_modes.parallel_pull_unpack.decompress_streams.gz] args: expected ',' or ']' in the array");
    expect_error("[resolver.host.h]\nmirrors = [{insecure = true}]\n",
                 "2: [resolver.host.h] mirrors: a mirror needs a host");
    expect_error("[resolver.host.h]\nmirrors = [{host = \"x\", port = 1}]\n",
                 "2: [resolver.host.h] mirrors: port: unknown or repeated mirror key");
    expect_error("[snapshotter]\nmin_layer_size = -1\n",
                 "2: [snapshotter] min_layer_size: -1 is out of range (0..9223372036854775807)");
    expect_error("[http\n", "1: expected '.' or ']' in a table name");
}

static void test_missing_file(void)
{
    struct snap_config cfg;
    struct error err = {{0}};
    char path[512];

    snprintf(path, sizeof(path), "%s/absent.toml", dir);
    CHECK(snap_config_load(&cfg, path, 1, &err) == 0);
    CHECK(cfg.mount_timeout_sec == 30 && cfg.passthrough == NULL);
    CHECK(snap_config_load(&cfg, path, 0, &err) == -1);
    CHECK_MSG(strstr(err.msg, "absent.toml: No such file or directory") != NULL, "%s", err.msg);
    /* a directory is not a missing file, even with missing_ok */
    CHECK(snap_config_load(&cfg, dir, 1, &err) == -1);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_defaults();
    test_every_section_and_round_trip();
    test_errors();
    test_missing_file();
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_exit();
}
