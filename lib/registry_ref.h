/* registry_ref.h -- registry image references: REGISTRY/REPOSITORY[:TAG][@DIGEST]
 *
 * Pure string work (no network): parsing a reference into its parts,
 * telling a registry reference from a layout path, and recognising a
 * loopback registry host.  Every input is treated as hostile: lengths are
 * bounded by the struct's buffers and each part is checked against the
 * distribution grammar before it can reach a URL.
 *
 * Errors: reg_ref_parse returns 0, or -1 with one line in *err naming the
 * reference.  Thread safety: no state; every function is reentrant.
 *
 * Ownership: results go into the caller's struct reg_ref; the string
 * reg_ref_reference returns points into it.
 */
#ifndef SOCI_REGISTRY_REF_H
#define SOCI_REGISTRY_REF_H

#include "error.h"

struct reg_ref {
    char host[256];        /* host[:port] as used in URLs */
    char repo[512];
    char tag[256];         /* "" if none ("latest" when neither tag nor digest is given) */
    char digest[80];       /* "" if none */
};

/* host: a DNS name or IPv4 address with an optional :port, or [IPv6][:port];
 * repository: lowercase path components of [a-z0-9] joined by '.', '_',
 * '__' or runs of '-', separated by '/'; tag: [A-Za-z0-9_][A-Za-z0-9_.-]
 * up to 128; digest: sha256:<64 lowercase hex> */
int reg_ref_parse(const char *s, struct reg_ref *r, struct error *err);
/* "tag" or "sha256:..." -- what goes after /manifests/ */
const char *reg_ref_reference(const struct reg_ref *r);
/* does s look like a registry reference rather than a path or oci: ref? */
int reg_ref_looks_remote(const char *s);

/* does host[:port] name this machine's loopback (localhost, 127.0.0.0/8,
 * [::1])?  Such a registry is tried with https, then http if it does not
 * speak TLS; any other needs --plain-http for http. */
int reg_host_is_loopback(const char *host);

#endif
