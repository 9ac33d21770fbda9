/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon client from a Pacemaker Remote node: requests over TLS to
 * a full node's relay (replica/remote-relay.c), the next full node tried
 * when one breaks, is stale or is unreachable.
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/daemon-client.h"
#include "store/daemon-client-internal.h"
#include "store/ipc-protocol.h"
#include <qb/qbipc_common.h>
#include "remote/remote.h"
#include "remote/remote-protocol.h"
#include "common/log.h"
#include "common/vc-strings.h"

/* A TCP connection to a full node, then the TLS handshake and the HELLO
 * (the relay answers it only when fresh).
 */
#define REMOTE_CONNECT_MS (5 * 1000)
#define REMOTE_HELLO_MS (30 * 1000)

/* Why the last vc_daemon_connect_remote found no full node to serve it,
 * and the errno it returned.
 */
static char remote_why[2048];
static int remote_errno;

const char *
vc_daemon_remote_why (int err)
{
  return remote_errno && err == remote_errno && remote_why[0] ? remote_why : NULL;
}

void
vc_daemon_remote_forget_why (void)
{
  remote_errno = 0;
}

static void
set_text (char **text, const char *fmt, ...)
{
  va_list ap;

  if (text == NULL)
    return;
  free (*text);
  va_start (ap, fmt);
  if (vasprintf (text, fmt, ap) == -1)
    *text = NULL;
  va_end (ap);
}

/* Requests that do the same when sent twice (a FORGET applies the same
 * tombstone again; a GET or a LIST from another full node reads the same
 * replicated store).
 */
static bool
repeatable (int id)
{
  switch (id) {
  case VC_IPC_HELLO:
  case VC_IPC_STATUS:
  case VC_IPC_STATE:
  case VC_IPC_FORGET:
  case VC_IPC_SCHEDULE_NOW:
  case VC_IPC_JOB_POLL:
  case VC_REMOTE_GET:
  case VC_REMOTE_LIST:
    return true;
  default:
    return false;
  }
}

/* One request and its reply.  0 with *err (the reply's error) and
 * *payload; -1 when the connection broke (why says how).
 */
static int
exchange (struct vc_daemon *d, int id, const void *a, size_t alen,
          const void *b, size_t blen, int timeout_ms, int32_t *err,
          char **payload, size_t *plen, char *why, size_t whylen)
{
  uint32_t word;
  int r;

  *payload = NULL;
  if (vc_remote_send (d->tls, id, a, alen, b, blen, timeout_ms) == -1) {
    snprintf (why, whylen, "cannot send to %s: %s", d->server, strerror (errno));
    return -1;
  }
  r = vc_remote_recv (d->tls, &word, payload, plen, VC_REMOTE_MAX_REPLY, timeout_ms);
  if (r == 1) {
    snprintf (why, whylen, "%s closed the connection", d->server);
    return -1;
  }
  if (r == -1) {
    snprintf (why, whylen, "%s: %s", d->server,
              errno == EPROTO ? "a reply over the size limit"
              : errno == ETIMEDOUT ? "no reply in time" : strerror (errno));
    return -1;
  }
  *err = (int32_t) word;
  if (!vc_remote_error_ok (*err)) {
    free (*payload);
    *payload = NULL;
    snprintf (why, whylen, "%s sent a malformed reply", d->server);
    return -1;
  }
  return 0;
}

static void
remote_drop (struct vc_daemon *d)
{
  vc_tls_close (d->tls);
  d->tls = NULL;
  free (d->server);
  d->server = NULL;
  if (d->lease_held)
    d->lease_lost = true;
}

static char *
server_name (const char *host, const char *port)
{
  char *s;

  if (asprintf (&s, strchr (host, ':') ? "[%s]:%s" : "%s:%s", host, port) == -1)
    return NULL;
  return s;
}

enum outcome { SERVED, UNREACHABLE, STALE, KEY_REJECTED };

/* Connects to servers[i]: TCP, TLS, HELLO. */
static enum outcome
try_server (struct vc_daemon *d, size_t i, const unsigned char *psk,
            char *why, size_t whylen)
{
  char *host = NULL, *port = NULL, *payload = NULL;
  size_t plen;
  int32_t err;
  int fd;
  enum outcome o = UNREACHABLE;

  if (vc_remote_parse_server (d->servers[i], &host, &port) == -1) {
    snprintf (why, whylen, "not HOST or HOST:PORT");
    return UNREACHABLE;
  }
  free (d->server);
  d->server = server_name (host, port);
  fd = vc_remote_tcp_connect (host, port, REMOTE_CONNECT_MS, why, whylen);
  if (fd == -1)
    goto out;
  d->tls = vc_tls_client (fd, psk, why, whylen);
  if (d->tls == NULL) {
    if (errno == EKEYREJECTED)
      o = KEY_REJECTED;
    goto out;
  }
  if (d->server == NULL ||
      exchange (d, VC_IPC_HELLO, NULL, 0, NULL, 0, REMOTE_HELLO_MS, &err,
                &payload, &plen, why, whylen) == -1)
    goto out;
  if (err == -ESTALE) {
    snprintf (why, whylen, "stale (%s)", payload);
    o = STALE;
    goto out;
  }
  if (err != 0 || payload[0] != '/' || strlen (payload) != plen) {
    snprintf (why, whylen, "answered oddly (%s)", err ? strerror (-err) : "HELLO");
    goto out;
  }
  free (d->store_dir);
  d->store_dir = payload;
  payload = NULL;
  o = SERVED;
  d->cur = i;

 out:
  if (o != SERVED) {
    vc_tls_close (d->tls);
    d->tls = NULL;
    free (d->server);
    d->server = NULL;
  }
  free (payload);
  free (host);
  free (port);
  return o;
}

/* The first of the servers from start on (each once) that serves; -1
 * with errno and remote_why saying why none did.
 */
static int
remote_connect_from (struct vc_daemon *d, size_t start)
{
  unsigned char psk[VC_REMOTE_PSK_LEN];
  char why[512], tried[1536] = "";
  size_t off = 0;
  bool rejected = false, stale = false;
  const char *path = vc_remote_authkey_path ();

  remote_errno = 0;
  if (vc_remote_load_psk (path, psk, why, sizeof why) == -1) {
    snprintf (remote_why, sizeof remote_why,
              "cannot reach virtckptd on a full node: %s", why);
    remote_errno = errno = ENOKEY;
    return -1;
  }
  for (size_t k = 0; k < d->nservers; k++) {
    size_t i = (start + k) % d->nservers;
    why[0] = '\0';
    switch (try_server (d, i, psk, why, sizeof why)) {
    case SERVED:
      memset (psk, 0, sizeof psk);
      d->lease_held = d->lease_lost = false;
      return 0;
    case KEY_REJECTED: rejected = true; break;
    case STALE: stale = true; break;
    case UNREACHABLE: break;
    }
    if (off < sizeof tried)
      off += snprintf (tried + off, sizeof tried - off, "%s%s: %s",
                       off ? "; " : "", d->servers[i], why);
  }
  memset (psk, 0, sizeof psk);
  if (rejected) {
    remote_errno = EKEYREJECTED;
    snprintf (remote_why, sizeof remote_why,
              "a full node refused this node's key (is %s the cluster's "
              "authkey, the same on every node?): %s", path, tried);
  }
  else if (stale) {
    remote_errno = ESTALE;
    snprintf (remote_why, sizeof remote_why,
              "no full node has a fresh replica (synced, with quorum): "
              "not reading a stale store: %s", tried);
  }
  else {
    remote_errno = EHOSTUNREACH;
    snprintf (remote_why, sizeof remote_why,
              "no full node answered (is virtckptd running there, serving "
              "port %d?): %s", VC_REMOTE_PORT, tried);
  }
  errno = remote_errno;
  return -1;
}

int
vc_daemon_remote_call (struct vc_daemon *d, int id, const void *a, size_t alen,
                       const void *b, size_t blen, char **text, size_t *tlen)
{
  char why[512];

  d->broke = false;
  if (text)
    *text = NULL;
  if (sizeof (struct qb_ipc_request_header) + alen + blen > VC_IPC_MAX_MSG) {
    errno = EFBIG;
    return -1;
  }
  for (size_t tries = 0; ; tries++) {
    char *payload;
    size_t plen;
    int32_t err;

    if (d->tls == NULL) {
      if (d->lease_lost) {
        set_text (text, "the connection to the full node that held a lease "
                  "was lost: the lease died with it");
        errno = ENOTCONN;
        return -1;
      }
      if (remote_connect_from (d, d->cur + 1) == -1) {
        int e = errno;
        set_text (text, "%s", remote_why);
        errno = e;
        return -1;
      }
    }
    if (exchange (d, id, a, alen, b, blen, d->timeout_ms, &err, &payload,
                  &plen, why, sizeof why) == 0) {
      if (err != -ESTALE) {
        if (text)
          *text = payload;
        else
          free (payload);
        if (tlen)
          *tlen = plen;
        if (err) {
          errno = -err;
          return -1;
        }
        if (id == VC_IPC_LEASE)
          d->lease_held = true;
        return 0;
      }
      snprintf (why, sizeof why, "%s is stale (%s)", d->server, payload);
      free (payload);
    }
    vc_notice ("%s: going on with the next full node", why);
    remote_drop (d);
    d->broke = true;
    if (d->lease_lost) {
      set_text (text, "%s: the lease taken through it died with the "
                "connection", why);
      errno = ENOTCONN;
      return -1;
    }
    if (!repeatable (id)) {
      set_text (text, "%s during the request; not sending it again "
                "(a lease or a job submitted through it is gone)", why);
      errno = ECONNRESET;
      return -1;
    }
    if (tries >= 2 * d->nservers) {
      set_text (text, "%s", why);
      errno = EHOSTUNREACH;
      return -1;
    }
  }
}

struct vc_daemon *
vc_daemon_connect_remote (const char *const *servers, size_t n)
{
  struct vc_daemon *d;
  const char *t = getenv ("VIRTCKPT_DAEMON_TIMEOUT");

  remote_errno = 0;
  if (n == 0) {
    remote_errno = errno = EHOSTUNREACH;
    snprintf (remote_why, sizeof remote_why,
              "no full node to reach virtckptd on: the list of servers is empty");
    return NULL;
  }
  d = calloc (1, sizeof *d);
  if (d == NULL)
    return NULL;
  d->remote = true;
  d->timeout_ms = t && atoi (t) > 0 ? atoi (t) * 1000 : DEFAULT_TIMEOUT_MS;
  d->servers = calloc (n, sizeof *d->servers);
  if (d->servers == NULL)
    goto fail;
  /* Each as HOST:PORT, the name every message gives it. */
  for (size_t i = 0; i < n; i++, d->nservers++) {
    char *h, *p;
    if (vc_remote_parse_server (servers[i], &h, &p) == -1) {
      remote_errno = errno = EINVAL;
      snprintf (remote_why, sizeof remote_why,
                "%s: not a server (HOST, HOST:PORT or [IPV6]:PORT)", servers[i]);
      goto fail;
    }
    d->servers[i] = server_name (h, p);
    free (h);
    free (p);
    if (d->servers[i] == NULL)
      goto fail;
  }
  if (remote_connect_from (d, 0) == -1)
    goto fail;
  return d;

 fail:
  {
    int e = errno;
    vc_daemon_close (d);
    errno = e;
  }
  return NULL;
}

