/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "remote/remote.h"
#include "remote/remote-protocol.h"
#include "common/full-io.h"

/* PSK only (no certificates), and with an ephemeral (EC)DH exchange: a
 * key that leaks later does not open recorded sessions.
 */
#define PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" \
  "-KX-ALL:+ECDHE-PSK:+DHE-PSK"

const char *
vc_remote_authkey_path (void)
{
  const char *p = getenv ("VIRTCKPT_AUTHKEY");

  if (p && *p)
    return p;
  p = getenv ("PCMK_authkey_location");
  if (p && *p)
    return p;
  return VC_REMOTE_DEFAULT_AUTHKEY;
}

bool
vc_remote_key_stat_ok (const struct stat *st, const char *path,
                       char *why, size_t whylen)
{
  if (!S_ISREG (st->st_mode))
    snprintf (why, whylen, "the authkey %s is not a regular file", path);
  else if (st->st_uid != 0)
    snprintf (why, whylen, "the authkey %s is owned by uid %u, not root: "
              "refusing it (chown root %s)", path, (unsigned) st->st_uid, path);
  else if (st->st_mode & (S_IWGRP | S_IWOTH))
    snprintf (why, whylen, "the authkey %s is writable by %s: refusing it "
              "(chmod 0640 %s)", path,
              st->st_mode & S_IWOTH ? "others" : "its group", path);
  else if (st->st_mode & S_IROTH)
    snprintf (why, whylen, "the authkey %s is readable by others: refusing it "
              "(chmod 0640 %s)", path, path);
  else if (st->st_size == 0)
    snprintf (why, whylen, "the authkey %s is empty", path);
  else if (st->st_size > VC_REMOTE_MAX_KEY_FILE)
    snprintf (why, whylen, "the authkey %s is %jd bytes, more than the %d "
              "an authkey may have", path, (intmax_t) st->st_size,
              VC_REMOTE_MAX_KEY_FILE);
  else
    return true;
  return false;
}

int
vc_remote_load_psk (const char *path, unsigned char psk[VC_REMOTE_PSK_LEN],
                    char *why, size_t whylen)
{
  unsigned char buf[VC_REMOTE_MAX_KEY_FILE + 1];
  struct stat st;
  ssize_t n;
  size_t len = 0;
  int fd, e;

  fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd == -1) {
    e = errno;
    if (e == ENOENT)
      snprintf (why, whylen, "no authkey %s", path);
    else if (e == EACCES)
      snprintf (why, whylen, "cannot read the authkey %s: %s (root and the "
                "haclient group only)", path, strerror (e));
    else
      snprintf (why, whylen, "cannot open the authkey %s: %s", path, strerror (e));
    errno = e;
    return -1;
  }
  if (fstat (fd, &st) == -1) {
    e = errno;
    snprintf (why, whylen, "cannot examine the authkey %s: %s", path, strerror (e));
    goto fail;
  }
  if (!vc_remote_key_stat_ok (&st, path, why, whylen)) {
    e = EPERM;
    goto fail;
  }
  /* The size again from the bytes: the file may change under us. */
  while (len < sizeof buf &&
         ((n = read (fd, buf + len, sizeof buf - len)) > 0 ||
          (n == -1 && errno == EINTR)))
    if (n > 0)
      len += n;
  if (len == 0 || len > VC_REMOTE_MAX_KEY_FILE) {
    e = EPERM;
    snprintf (why, whylen, "the authkey %s is %s", path,
              len == 0 ? "empty" : "too large");
    goto fail;
  }
  close (fd);
  if (gnutls_hmac_fast (GNUTLS_MAC_SHA256, buf, len, VC_REMOTE_KEY_LABEL,
                        strlen (VC_REMOTE_KEY_LABEL), psk) != 0) {
    memset (buf, 0, sizeof buf);
    snprintf (why, whylen, "cannot derive a key from the authkey %s", path);
    errno = EIO;
    return -1;
  }
  memset (buf, 0, sizeof buf);
  return 0;

 fail:
  memset (buf, 0, sizeof buf);
  close (fd);
  errno = e;
  return -1;
}

int
vc_remote_parse_server (const char *server, char **host, char **port)
{
  const char *h = server, *p = NULL, *end;
  size_t hlen;
  char pbuf[16];

  *host = *port = NULL;
  if (server[0] == '[') {
    h = server + 1;
    end = strchr (h, ']');
    if (end == NULL || (end[1] != '\0' && end[1] != ':'))
      goto bad;
    hlen = end - h;
    if (end[1] == ':')
      p = end + 2;
  }
  else {
    end = strchr (server, ':');
    if (end && strchr (end + 1, ':'))
      goto bad;                 /* a bare IPv6 address: brackets, please */
    hlen = end ? (size_t) (end - server) : strlen (server);
    if (end)
      p = end + 1;
  }
  if (hlen == 0 || hlen > 255)
    goto bad;
  if (p) {
    char *e;
    unsigned long v;
    if (*p == '\0' || strspn (p, "0123456789") != strlen (p))
      goto bad;
    errno = 0;
    v = strtoul (p, &e, 10);
    if (errno || v == 0 || v > 65535)
      goto bad;
  }
  else
    snprintf (pbuf, sizeof pbuf, "%d", VC_REMOTE_PORT);
  *host = strndup (h, hlen);
  *port = strdup (p ? p : pbuf);
  if (*host == NULL || *port == NULL) {
    free (*host);
    free (*port);
    *host = *port = NULL;
    return -1;
  }
  return 0;

 bad:
  errno = EINVAL;
  return -1;
}

void
vc_remote_keepalive (int fd)
{
  int on = 1, idle = 10, intvl = 5, cnt = 3;

  /* Requests and replies are small and answered at once: Nagle's wait
   * for the peer's (delayed) ACK would add 40 ms to a handshake.
   */
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  setsockopt (fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  setsockopt (fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt (fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
  setsockopt (fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
  /* Unacknowledged data also ends the connection, as keepalive would. */
  unsigned timeout = (idle + intvl * cnt) * 1000;
  setsockopt (fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof timeout);
}

static int
connect_one (const struct addrinfo *a, int timeout_ms)
{
  int fd = socket (a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                   a->ai_protocol);
  struct pollfd pfd;
  int err = 0, r;
  socklen_t elen = sizeof err;

  if (fd == -1)
    return -1;
  if (connect (fd, a->ai_addr, a->ai_addrlen) == -1) {
    if (errno != EINPROGRESS)
      goto fail;
    pfd = (struct pollfd) { .fd = fd, .events = POLLOUT };
    while ((r = poll (&pfd, 1, timeout_ms)) == -1 && errno == EINTR)
      ;
    if (r == 0) {
      errno = ETIMEDOUT;
      goto fail;
    }
    if (r == -1 || getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1)
      goto fail;
    if (err) {
      errno = err;
      goto fail;
    }
  }
  if (fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK) == -1)
    goto fail;
  vc_remote_keepalive (fd);
  return fd;

 fail:
  {
    int e = errno;
    close (fd);
    errno = e;
  }
  return -1;
}

int
vc_remote_tcp_connect (const char *host, const char *port, int timeout_ms,
                       char *why, size_t whylen)
{
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
  struct addrinfo *res, *a;
  int r, fd = -1, e = EHOSTUNREACH;

  r = getaddrinfo (host, port, &hints, &res);
  if (r != 0) {
    snprintf (why, whylen, "cannot resolve %s: %s", host,
              r == EAI_SYSTEM ? strerror (errno) : gai_strerror (r));
    errno = EHOSTUNREACH;
    return -1;
  }
  for (a = res; a && fd == -1; a = a->ai_next)
    if ((fd = connect_one (a, timeout_ms)) == -1)
      e = errno;
  freeaddrinfo (res);
  if (fd == -1) {
    snprintf (why, whylen, "%s", e == ETIMEDOUT
              ? "no answer" : strerror (e));
    errno = e;
  }
  return fd;
}

/* --- TLS ------------------------------------------------------------------------- */

struct vc_tls {
  int fd;
  gnutls_session_t s;
  bool server;
  union {
    gnutls_psk_client_credentials_t c;
    gnutls_psk_server_credentials_t s;
  } cred;
  unsigned char psk[VC_REMOTE_PSK_LEN];
  bool open;                    /* handshake done: say goodbye */
};

static void
set_send_timeout (int fd, int ms)
{
  struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

void
vc_tls_close (struct vc_tls *t)
{
  if (t == NULL)
    return;
  if (t->s) {
    if (t->open) {
      set_send_timeout (t->fd, 1000);
      gnutls_bye (t->s, GNUTLS_SHUT_WR);
    }
    gnutls_deinit (t->s);
  }
  if (t->server && t->cred.s)
    gnutls_psk_free_server_credentials (t->cred.s);
  else if (!t->server && t->cred.c)
    gnutls_psk_free_client_credentials (t->cred.c);
  if (t->fd >= 0)
    close (t->fd);
  memset (t->psk, 0, sizeof t->psk);
  free (t);
}

/* The server knows one identity and its key. */
static int
server_psk (gnutls_session_t s, const char *username, gnutls_datum_t *key)
{
  struct vc_tls *t = gnutls_session_get_ptr (s);

  if (strcmp (username, VC_REMOTE_PSK_IDENTITY) != 0)
    return -1;
  key->data = gnutls_malloc (VC_REMOTE_PSK_LEN);
  if (key->data == NULL)
    return -1;
  memcpy (key->data, t->psk, VC_REMOTE_PSK_LEN);
  key->size = VC_REMOTE_PSK_LEN;
  return 0;
}


/* Writes never raise SIGPIPE: a peer gone is an error here, not the end
 * of the process (virtckpt does not ignore SIGPIPE).
 */
static ssize_t
push_nosignal (gnutls_transport_ptr_t ptr, const void *buf, size_t len)
{
  return send ((int) (intptr_t) ptr, buf, len, MSG_NOSIGNAL);
}

static struct vc_tls *
tls_start (int fd, const unsigned char psk[VC_REMOTE_PSK_LEN], bool server,
           char *why, size_t whylen)
{
  struct vc_tls *t = calloc (1, sizeof *t);
  const gnutls_datum_t key = { (unsigned char *) psk, VC_REMOTE_PSK_LEN };
  int r, e;

  if (t == NULL) {
    close (fd);
    snprintf (why, whylen, "out of memory");
    return NULL;
  }
  t->fd = fd;
  t->server = server;
  memcpy (t->psk, psk, VC_REMOTE_PSK_LEN);
  if (server) {
    r = gnutls_psk_allocate_server_credentials (&t->cred.s);
    if (r == 0)
      r = gnutls_psk_set_server_known_dh_params (t->cred.s, GNUTLS_SEC_PARAM_HIGH);
    if (r == 0)
      gnutls_psk_set_server_credentials_function (t->cred.s, server_psk);
    if (r == 0)
      r = gnutls_init (&t->s, GNUTLS_SERVER | GNUTLS_NO_TICKETS);
    if (r == 0)
      r = gnutls_credentials_set (t->s, GNUTLS_CRD_PSK, t->cred.s);
  }
  else {
    r = gnutls_psk_allocate_client_credentials (&t->cred.c);
    if (r == 0)
      r = gnutls_psk_set_client_credentials (t->cred.c, VC_REMOTE_PSK_IDENTITY,
                                             &key, GNUTLS_PSK_KEY_RAW);
    if (r == 0)
      r = gnutls_init (&t->s, GNUTLS_CLIENT);
    if (r == 0)
      r = gnutls_credentials_set (t->s, GNUTLS_CRD_PSK, t->cred.c);
  }
  if (r == 0)
    r = gnutls_priority_set_direct (t->s, PRIORITY, NULL);
  if (r != 0) {
    snprintf (why, whylen, "cannot set up TLS: %s", gnutls_strerror (r));
    e = EIO;
    goto fail;
  }
  gnutls_session_set_ptr (t->s, t);
  gnutls_transport_set_int (t->s, fd);
  gnutls_transport_set_push_function (t->s, push_nosignal);
  gnutls_handshake_set_timeout (t->s, VC_REMOTE_HANDSHAKE_MS);
  set_send_timeout (fd, VC_REMOTE_HANDSHAKE_MS);
  do
    r = gnutls_handshake (t->s);
  while (r < 0 && gnutls_error_is_fatal (r) == 0);
  if (r == 0) {
    t->open = true;
    return t;
  }
  /* The peer hears why (a wrong key is an alert, not a closed socket). */
  if (r != GNUTLS_E_FATAL_ALERT_RECEIVED && r != GNUTLS_E_TIMEDOUT &&
      r != GNUTLS_E_PREMATURE_TERMINATION && r != GNUTLS_E_PUSH_ERROR &&
      r != GNUTLS_E_PULL_ERROR)
    gnutls_alert_send_appropriate (t->s, r);

  switch (r) {
  case GNUTLS_E_TIMEDOUT:
    e = ETIMEDOUT;
    snprintf (why, whylen, "the TLS handshake took more than %d s",
              VC_REMOTE_HANDSHAKE_MS / 1000);
    break;
  case GNUTLS_E_FATAL_ALERT_RECEIVED:
  case GNUTLS_E_DECRYPTION_FAILED:
  case GNUTLS_E_INSUFFICIENT_CREDENTIALS:
  case GNUTLS_E_MAC_VERIFY_FAILED:
  case GNUTLS_E_RECEIVED_ILLEGAL_PARAMETER:
  case GNUTLS_E_KEYFILE_ERROR:
    e = EKEYREJECTED;
    snprintf (why, whylen, "the TLS handshake failed, the keys differ (%s%s%s)",
              gnutls_strerror (r), r == GNUTLS_E_FATAL_ALERT_RECEIVED ? ": " : "",
              r == GNUTLS_E_FATAL_ALERT_RECEIVED
              ? gnutls_alert_get_name (gnutls_alert_get (t->s)) : "");
    break;
  default:
    e = EIO;
    snprintf (why, whylen, "the TLS handshake failed: %s", gnutls_strerror (r));
  }
 fail:
  vc_tls_close (t);
  errno = e;
  return NULL;
}

struct vc_tls *
vc_tls_client (int fd, const unsigned char psk[VC_REMOTE_PSK_LEN],
               char *why, size_t whylen)
{
  return tls_start (fd, psk, false, why, whylen);
}

struct vc_tls *
vc_tls_server (int fd, const unsigned char psk[VC_REMOTE_PSK_LEN],
               char *why, size_t whylen)
{
  return tls_start (fd, psk, true, why, whylen);
}

const char *
vc_tls_description (struct vc_tls *t, char *buf, size_t len)
{
  const char *v = gnutls_protocol_get_name (gnutls_protocol_get_version (t->s));
  const char *kx = gnutls_kx_get_name (gnutls_kx_get (t->s));
  const char *c = gnutls_cipher_get_name (gnutls_cipher_get (t->s));

  snprintf (buf, len, "%s %s %s", v ? v : "?", kx ? kx : "?", c ? c : "?");
  return buf;
}

/* --- frames ---------------------------------------------------------------------- */

void
vc_remote_put_header (unsigned char h[VC_REMOTE_HEADER_LEN], uint32_t len,
                      uint32_t word)
{
  uint32_t a = htobe32 (len), b = htobe32 (word);

  memcpy (h, &a, 4);
  memcpy (h + 4, &b, 4);
}

int
vc_remote_parse_header (const unsigned char h[VC_REMOTE_HEADER_LEN], size_t max,
                        uint32_t *len, uint32_t *word)
{
  *len = vc_be32 (h);
  *word = vc_be32 (h + 4);
  if (*len > max) {
    errno = EPROTO;
    return -1;
  }
  return 0;
}

/* A record that could not be sent or received ends the session: -1 with
 * ETIMEDOUT (GNUTLS_E_AGAIN while sending is SO_SNDTIMEO: the peer takes
 * nothing) or ECONNRESET.
 */
static int
session_broken (struct vc_tls *t, ssize_t r)
{
  t->open = false;
  errno = r == GNUTLS_E_AGAIN || r == GNUTLS_E_TIMEDOUT ? ETIMEDOUT : ECONNRESET;
  return -1;
}

static int
send_all (struct vc_tls *t, const void *buf, size_t len)
{
  const char *p = buf;

  while (len > 0) {
    ssize_t r = gnutls_record_send (t->s, p, len);
    if (r == GNUTLS_E_INTERRUPTED)
      continue;
    if (r < 0)
      return session_broken (t, r);
    p += r;
    len -= r;
  }
  return 0;
}

int
vc_remote_send (struct vc_tls *t, uint32_t word, const void *a, size_t alen,
                const void *b, size_t blen, int timeout_ms)
{
  unsigned char h[VC_REMOTE_HEADER_LEN];

  if (alen + blen > UINT32_MAX) {
    errno = EFBIG;
    return -1;
  }
  vc_remote_put_header (h, alen + blen, word);
  set_send_timeout (t->fd, timeout_ms);
  /* One record for the header and a small payload: cork. */
  gnutls_record_cork (t->s);
  if (send_all (t, h, sizeof h) == -1 ||
      (alen && send_all (t, a, alen) == -1) ||
      (blen && send_all (t, b, blen) == -1))
    return -1;
  int r;
  do
    r = gnutls_record_uncork (t->s, GNUTLS_RECORD_WAIT);
  while (r == GNUTLS_E_INTERRUPTED);
  return r < 0 ? session_broken (t, r) : 0;
}

/* 0, 1 at EOF before the first byte, -1 (errno). */
static int
recv_all (struct vc_tls *t, void *buf, size_t len, int timeout_ms, bool first)
{
  char *p = buf;
  size_t got = 0;

  gnutls_record_set_timeout (t->s, timeout_ms < 0 ? GNUTLS_INDEFINITE_TIMEOUT
                             : (unsigned) timeout_ms);
  while (got < len) {
    ssize_t r = gnutls_record_recv (t->s, p + got, len - got);
    if (r == GNUTLS_E_INTERRUPTED || r == GNUTLS_E_AGAIN)
      continue;
    if (r == 0 && first && got == 0) {
      t->open = false;
      return 1;
    }
    if (r <= 0)
      return session_broken (t, r);
    got += r;
    if (first) {
      /* The rest of the frame comes within the frame's time. */
      first = false;
      gnutls_record_set_timeout (t->s, VC_REMOTE_FRAME_MS);
    }
  }
  return 0;
}

int
vc_remote_recv (struct vc_tls *t, uint32_t *word, char **payload, size_t *len,
                size_t max, int first_ms)
{
  unsigned char h[VC_REMOTE_HEADER_LEN];
  uint32_t n;
  int r;

  *payload = NULL;
  *len = 0;
  r = recv_all (t, h, sizeof h, first_ms, true);
  if (r != 0)
    return r;
  if (vc_remote_parse_header (h, max, &n, word) == -1)
    return -1;
  *payload = malloc ((size_t) n + 1);
  if (*payload == NULL)
    return -1;
  if (n > 0 && recv_all (t, *payload, n, VC_REMOTE_FRAME_MS, false) != 0) {
    int e = errno;
    free (*payload);
    *payload = NULL;
    errno = e;
    return -1;
  }
  (*payload)[n] = '\0';
  *len = n;
  return 0;
}
