/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
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
#include "store/daemon-client-internal.h"
#include "store/doc-files.h"
#include "store/ipc-protocol.h"
#include "remote/remote.h"
#include "remote/remote-protocol.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/vc-strings.h"
#include "common/trusted-dir.h"

/* text (may be NULL): the reply's text, also with an error; tlen its
 * length.
 */
static int
call_len (struct vc_daemon *d, int id, const void *a, size_t alen,
          const void *b, size_t blen, char **text, size_t *tlen)
{
  if (d->remote)
    return vc_daemon_remote_call (d, id, a, alen, b, blen, text, tlen);

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

  vc_daemon_remote_forget_why ();  /* vc_daemon_unreachable: this call's */
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
  const char *why = vc_daemon_remote_why (err);

  if (why)
    return why;
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
