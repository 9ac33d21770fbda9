/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <qb/qbipcc.h>
#include <qb/qbipc_common.h>

#include "store/daemon-client.h"
#include "store/doc-files.h"
#include "store/ipc-protocol.h"
#include "remote/remote.h"
#include "remote/remote-protocol.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/vc-strings.h"
#include "common/trusted-dir.h"

/* Replies wait for the cluster: a sync after a membership change can take
 * a while.  VIRTCKPT_DAEMON_TIMEOUT (seconds) overrides.
 */
#define DEFAULT_TIMEOUT_MS (120 * 1000)

/* From a remote node: a TCP connection to a full node, then the TLS
 * handshake and the HELLO (the relay answers it only when fresh).
 */
#define REMOTE_CONNECT_MS (5 * 1000)
#define REMOTE_HELLO_MS (30 * 1000)

struct vc_daemon {
  qb_ipcc_connection_t *c;
  char *store_dir;
  char *reply;
  int timeout_ms;
  /* From a Pacemaker Remote node (vc_daemon_connect_remote). */
  bool remote;
  struct vc_tls *tls;           /* NULL between a break and a reconnect */
  char **servers;
  size_t nservers;
  size_t cur;                   /* the server serving, or the last one */
  char *server;                 /* "HOST:PORT" serving, NULL when none */
  bool lease_held;              /* a LEASE was taken on this connection */
  bool lease_lost;              /* ... and the connection broke since */
  bool broke;                   /* the last call lost its connection */
};

static int remote_call (struct vc_daemon *d, int id, const void *a, size_t alen,
                        const void *b, size_t blen, char **text, size_t *tlen);

/* text (may be NULL): the reply's text, also with an error; tlen its
 * length.
 */
static int
call_len (struct vc_daemon *d, int id, const void *a, size_t alen,
          const void *b, size_t blen, char **text, size_t *tlen)
{
  if (d->remote)
    return remote_call (d, id, a, alen, b, blen, text, tlen);

  struct qb_ipc_request_header h = { .id = id,
                                     .size = sizeof h + alen + blen };
  struct iovec iov[3] = {
    { &h, sizeof h }, { (void *) a, alen }, { (void *) b, blen },
  };
  struct qb_ipc_response_header *rh;
  ssize_t n;

  /* The daemon sets the size: an older one takes more (see put_pieces). */
  if (sizeof h + alen + blen > (size_t) qb_ipcc_get_buffer_size (d->c)) {
    errno = EFBIG;
    return -1;
  }
  /* -EAGAIN: the ring has no room yet.  The daemon frees a request's
   * room only after answering it, so the next one can come too early.
   */
  for (int tries = 0;
       (n = qb_ipcc_sendv_recv (d->c, iov, 3, d->reply, VC_IPC_MAX_MSG,
                                d->timeout_ms)) == -EAGAIN && tries < 5000;
       tries++)
    usleep (1000);
  if (n < 0) {
    errno = -n;
    return -1;
  }
  if ((size_t) n < sizeof *rh) {
    errno = EPROTO;
    return -1;
  }
  rh = (struct qb_ipc_response_header *) d->reply;
  if (text) {
    size_t len = n - sizeof *rh;
    *text = malloc (len + 1);
    if (*text) {
      memcpy (*text, d->reply + sizeof *rh, len);
      (*text)[len] = '\0';
      if (tlen)
        *tlen = len;
    }
  }
  if (rh->error) {
    errno = -rh->error;
    return -1;
  }
  return 0;
}

static int
call (struct vc_daemon *d, int id, const void *a, size_t alen,
      const void *b, size_t blen, char **text)
{
  return call_len (d, id, a, alen, b, blen, text, NULL);
}

/* Why the last vc_daemon_connect_remote found no full node to serve it,
 * and the errno it returned.
 */
static char remote_why[2048];
static int remote_errno;

/* Why the last vc_daemon_connect found no trustworthy daemon (EPERM). */
static char untrusted[512];

/* Whoever serves the daemon's IPC name while virtckptd is down (any local
 * user can) would be handed root's captures and could feed root's
 * redefines: the server must run as root and replicate a directory that
 * only root can write.  libqb gives the server's credentials as the
 * kernel passed them at connect (SCM_CREDENTIALS), not as it claims.
 */
static bool
server_trusted (struct vc_daemon *d)
{
  pid_t pid = 0;
  uid_t uid = (uid_t) -1;
  gid_t gid;
  struct stat st;
  char why[128];

  if (qb_ipcc_auth_get (d->c, &pid, &uid, &gid) != 0 || uid != 0) {
    snprintf (untrusted, sizeof untrusted,
              "no trustworthy daemon: the process answering as virtckptd "
              "(pid %d) runs as uid %d, not root: not using it nor any "
              "store; stop that process and start virtckptd",
              (int) pid, uid == (uid_t) -1 ? -1 : (int) uid);
    return false;
  }
  if (lstat (d->store_dir, &st) == -1)
    snprintf (why, sizeof why, "cannot be examined (%s)", strerror (errno));
  else if (vc_dir_trusted (&st, true, why, sizeof why))
    return true;
  snprintf (untrusted, sizeof untrusted,
            "no trustworthy daemon: virtckptd (pid %d) replicates %s, which "
            "%s: not using it nor any store; make the directory root's alone "
            "(chown root; chmod go-w), then restart virtckptd",
            (int) pid, d->store_dir, why);
  return false;
}

struct vc_daemon *
vc_daemon_connect (void)
{
  struct vc_daemon *d = calloc (1, sizeof *d);
  const char *t = getenv ("VIRTCKPT_DAEMON_TIMEOUT");

  remote_errno = 0;             /* vc_daemon_unreachable: this call's */
  if (d == NULL)
    return NULL;
  d->timeout_ms = t && atoi (t) > 0 ? atoi (t) * 1000 : DEFAULT_TIMEOUT_MS;
  d->reply = malloc (VC_IPC_MAX_MSG);
  if (d->reply == NULL)
    goto fail;
  d->c = qb_ipcc_connect (VC_IPC_NAME, VC_IPC_MAX_MSG);
  if (d->c == NULL) {
    if (errno == EPERM)
      errno = EACCES;
    else if (errno != EACCES)
      errno = ENOENT;
    goto fail;
  }
  if (call (d, VC_IPC_HELLO, NULL, 0, NULL, 0, &d->store_dir) == -1 ||
      d->store_dir == NULL || d->store_dir[0] != '/') {
    errno = EPROTO;
    goto fail;
  }
  if (!server_trusted (d)) {
    errno = EPERM;
    goto fail;
  }
  return d;

 fail:
  {
    int e = errno;
    vc_daemon_close (d);
    errno = e;
  }
  return NULL;
}

const char *
vc_daemon_unreachable (int err)
{
  if (remote_errno && err == remote_errno && remote_why[0])
    return remote_why;
  switch (err) {
  case EACCES:
    return "virtckptd refused the connection (root and the haclient group only)";
  case EPROTO:
    return "virtckptd answered oddly";
  case EPERM:
    return untrusted;
  default:
    return "virtckptd is not running on this node";
  }
}

void
vc_daemon_close (struct vc_daemon *d)
{
  if (d == NULL)
    return;
  if (d->c)
    qb_ipcc_disconnect (d->c);
  vc_tls_close (d->tls);
  for (size_t i = 0; i < d->nservers; i++)
    free (d->servers[i]);
  free (d->servers);
  free (d->server);
  free (d->store_dir);
  free (d->reply);
  free (d);
}

const char *
vc_daemon_store_dir (struct vc_daemon *d)
{
  return d->store_dir;
}

/* A payload longer than one message goes as PUT_PART pieces, the last
 * piece as the PUT itself: the rings stay small (see VC_IPC_MAX_MSG).
 */
static int
put_pieces (struct vc_daemon *d, const char *payload, size_t len, char **why)
{
  size_t off = 0;

  for (; len - off > VC_IPC_PIECE; off += VC_IPC_PIECE) {
    if (call (d, VC_IPC_PUT_PART, payload + off, VC_IPC_PIECE, NULL, 0, why) == 0) {
      free (*why);
      *why = NULL;
      continue;
    }
    /* A daemon started before an upgrade (its rings of 2 MiB take the
     * whole document) knows no pieces.
     */
    if (off > 0 || errno != EOPNOTSUPP)
      return -1;
    free (*why);
    *why = NULL;
    break;
  }
  return call (d, VC_IPC_PUT, payload + off, len - off, NULL, 0, why);
}

/* A PUT whose connection broke is sent again, all its pieces, to the
 * next full node: applying the same document twice is harmless (the
 * second update only bumps its generation, replica/update.c).
 */
static int
put_failover (struct vc_daemon *d, const char *domain, const char *payload,
              size_t len, char **why)
{
  for (size_t attempt = 0; ; attempt++) {
    int r = put_pieces (d, payload, len, why);
    if (r == 0 || !d->remote || !d->broke || d->lease_lost ||
        attempt >= d->nservers)
      return r;
    free (*why);
    *why = NULL;
    vc_notice ("sending the checkpoints of %s again, to the next full node",
               domain);
  }
}

int
vc_daemon_put (struct vc_daemon *d, const char *domain, const char *text,
               size_t len)
{
  uint32_t n = strlen (domain);
  size_t plen = sizeof n + n + len;
  char *payload;
  char *why = NULL;
  int r;

  if (plen > VC_IPC_MAX_DOC) {
    errno = EFBIG;
    r = -1;
  }
  else if ((payload = malloc (plen)) == NULL)
    return -1;
  else {
    memcpy (payload, &n, sizeof n);
    memcpy (payload + sizeof n, domain, n);
    memcpy (payload + sizeof n + n, text, len);
    r = put_failover (d, domain, payload, plen, &why);
    free (payload);
  }
  if (r == -1 && (errno == EFBIG || errno == EMSGSIZE || errno == ENOBUFS))
    vc_error ("virtckptd could not replicate the checkpoints of %s: the "
              "document is %zu bytes, more than the %d MiB the daemon takes",
              domain, len, VC_IPC_MAX_DOC >> 20);
  else if (r == -1)
    vc_error ("virtckptd could not replicate the checkpoints of %s: %s",
              domain, why && *why ? why : strerror (errno));
  free (why);
  return r;
}

int
vc_daemon_forget (struct vc_daemon *d, const char *domain)
{
  char *why = NULL;
  int r = call (d, VC_IPC_FORGET, domain, strlen (domain), NULL, 0, &why);

  if (r == -1)
    vc_error ("virtckptd could not forget %s: %s", domain,
              why && *why ? why : strerror (errno));
  free (why);
  return r;
}

int
vc_daemon_wait_synced (struct vc_daemon *d, unsigned seconds)
{
  for (unsigned tenths = 0; ; tenths++) {
    char *text = NULL;
    if (call (d, VC_IPC_STATE, NULL, 0, NULL, 0, &text) == -1) {
      free (text);
      return -1;
    }
    bool synced = text && strstr (text, "\nstate: synced\n") != NULL;
    free (text);
    if (synced)
      return 1;
    if (tenths >= seconds * 10)
      return 0;
    usleep (100 * 1000);
  }
}

char *
vc_daemon_status (struct vc_daemon *d)
{
  char *text = NULL;

  if (call (d, VC_IPC_STATUS, NULL, 0, NULL, 0, &text) == -1) {
    vc_error ("virtckptd did not answer: %s",
              d->remote && text && *text ? text : strerror (errno));
    free (text);
    return NULL;
  }
  return text;
}

/* --- leases and jobs ------------------------------------------------------------ */

/* As the daemon's wire fields (replica/wire.c). */
static bool
plain_field (unsigned char c, size_t pos)
{
  return c > ' ' && c != '%' && c < 0x7f;
}

/* The fields %-escaped and joined by tabs. */
static char *
join_fields (size_t n, const char *const *f)
{
  size_t len = 1;
  char *buf, *p;

  for (size_t i = 0; i < n; i++)
    len += vc_percent_len (f[i], plain_field) + 1;
  buf = p = malloc (len);
  if (buf == NULL)
    return NULL;
  *p = '\0';
  for (size_t i = 0; i < n; i++) {
    if (i)
      *p++ = '\t';
    p = vc_percent_put (p, f[i], plain_field);
  }
  return buf;
}

int
vc_daemon_lease (struct vc_daemon *d, const char *domain, const char *job,
                 char **why)
{
  const char *f[] = { domain, job };
  char *payload = join_fields (2, f);
  int r;

  *why = NULL;
  if (payload == NULL)
    return -1;
  r = call (d, VC_IPC_LEASE, payload, strlen (payload), NULL, 0, why);
  free (payload);
  return r;
}

int
vc_daemon_job_submit (struct vc_daemon *d, const char *kind, const char *domain,
                      const char *const *args, size_t nargs, char **id,
                      char **why)
{
  const char **f = calloc (nargs + 2, sizeof *f);
  char *payload;
  int r;

  *why = *id = NULL;
  if (f == NULL)
    return -1;
  f[0] = kind;
  f[1] = domain;
  for (size_t i = 0; i < nargs; i++)
    f[2 + i] = args[i];
  payload = join_fields (nargs + 2, f);
  free (f);
  if (payload == NULL)
    return -1;
  if (strlen (payload) > VC_IPC_MAX_MSG / 2) {
    free (payload);
    errno = EFBIG;
    return -1;
  }
  r = call (d, VC_IPC_JOB_SUBMIT, payload, strlen (payload), NULL, 0, why);
  free (payload);
  if (r == 0) {
    *id = *why;
    *why = NULL;
  }
  return r;
}

char *
vc_daemon_job_poll (struct vc_daemon *d, const char *id)
{
  char *text = NULL;

  if (call (d, VC_IPC_JOB_POLL, id, strlen (id), NULL, 0, &text) == -1) {
    int e = errno;
    free (text);
    errno = e;
    return NULL;
  }
  return text;
}

int
vc_daemon_schedule_now (struct vc_daemon *d, const char *domain)
{
  return call (d, VC_IPC_SCHEDULE_NOW, domain, strlen (domain), NULL, 0, NULL);
}

/* --- from a Pacemaker Remote node ------------------------------------------------ */

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

static int
remote_call (struct vc_daemon *d, int id, const void *a, size_t alen,
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

bool
vc_daemon_is_remote (const struct vc_daemon *d)
{
  return d->remote;
}

const char *
vc_daemon_server (const struct vc_daemon *d)
{
  return d->remote ? d->server : NULL;
}

static const char *
serving (const struct vc_daemon *d)
{
  return d->remote ? (d->server ? d->server : "the full nodes") : "this node";
}

int
vc_daemon_get_file (struct vc_daemon *d, const char *file, char **text,
                    size_t *len)
{
  int r;

  *text = NULL;
  *len = 0;
  if (!vc_doc_file_name_ok (file)) {
    vc_error ("cannot read %s from the replica: not a document's file name", file);
    errno = EINVAL;
    return -1;
  }
  if (!d->remote) {
    int fd = open (d->store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd == -1) {
      vc_error ("cannot open %s: %m", d->store_dir);
      return -1;
    }
    r = vc_doc_file_read (fd, file, VC_REMOTE_MAX_REPLY, text, len);
    if (r == -1)
      vc_error ("cannot read %s in %s: %m", file, d->store_dir);
    close (fd);
    return r;
  }
  r = call_len (d, VC_REMOTE_GET, file, strlen (file), NULL, 0, text, len);
  if (r == 0)
    return 0;
  if (errno == ENOENT) {
    free (*text);
    *text = NULL;
    *len = 0;
    return 1;
  }
  vc_error ("cannot read %s from the replica of %s: %s", file, serving (d),
            *text && **text ? *text : strerror (errno));
  free (*text);
  *text = NULL;
  *len = 0;
  return -1;
}

int
vc_daemon_list_files (struct vc_daemon *d, char ***names, size_t *n)
{
  char *text = NULL;
  const char *bad;
  size_t len = 0;
  int r;

  *names = NULL;
  *n = 0;
  if (!d->remote) {
    int fd = open (d->store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    r = fd == -1 ? -1 : vc_doc_file_list (fd, VC_REMOTE_MAX_REPLY, &text, &len);
    if (r == -1)
      vc_error ("cannot list the documents in %s: %m", d->store_dir);
    if (fd >= 0)
      close (fd);
  }
  else {
    r = call_len (d, VC_REMOTE_LIST, NULL, 0, NULL, 0, &text, &len);
    if (r == -1)
      vc_error ("cannot list the documents of %s: %s", serving (d),
                text && *text ? text : strerror (errno));
  }
  if (r == -1) {
    free (text);
    return -1;
  }
  r = vc_doc_file_names_parse (text, len, names, n, &bad);
  if (r == -1 && errno == EPROTO) {
    char shown[80];
    if (bad)
      vc_error ("%s listed a file that is no document: %s", serving (d),
                vc_printable (bad, text + len - bad, shown, sizeof shown));
    else
      vc_error ("%s sent a list of documents that is no list (a NUL byte, "
                "or no end of line at its end)", serving (d));
    errno = EPROTO;
  }
  free (text);
  return r;
}
