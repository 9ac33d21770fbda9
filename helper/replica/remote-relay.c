/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <qb/qbipcc.h>
#include <qb/qbipc_common.h>
#include <qb/qbloop.h>

#include "replica/remote-relay.h"
#include "common/log.h"
#include "remote/remote.h"
#include "remote/remote-protocol.h"
#include "store/doc-files.h"
#include "store/ipc-protocol.h"

/* Connections served at once; more are refused (and logged).  One host
 * may hold only some of them: a peer without the key, holding connections
 * open until their handshake times out, cannot lock every node out.
 */
#define MAX_CONNECTIONS 64
#define MAX_PER_HOST 16
#define MAX_LISTEN 8
/* The daemon's answer to a relayed request: a PUT waits for the
 * cluster, as a local client's would.
 */
#define IPC_TIMEOUT_MS (300 * 1000)

static pid_t listener_pid;

/* --- one connection ------------------------------------------------------------- */

struct conn {
  const char *peer;
  pid_t daemon;
  struct vc_tls *tls;
  qb_ipcc_connection_t *ipc;
  char *ipc_reply;
  int dirfd;
  char host[256];
};

/* A request to the daemon: 0 with *err and *text (malloc'd) and *tlen;
 * -1 when the daemon does not answer.
 */
static int
ipc_call (struct conn *c, int32_t id, const void *payload, size_t len,
          int32_t *err, char **text, size_t *tlen)
{
  struct qb_ipc_request_header h = { .id = id, .size = sizeof h + len };
  struct iovec iov[2] = { { &h, sizeof h }, { (void *) payload, len } };
  struct qb_ipc_response_header *rh;
  ssize_t n;

  *text = NULL;
  *tlen = 0;
  if (c->ipc == NULL) {
    errno = ENOTCONN;
    return -1;
  }
  /* -EAGAIN: the ring has no room yet (see store/daemon-client.c). */
  for (int tries = 0;
       (n = qb_ipcc_sendv_recv (c->ipc, iov, 2, c->ipc_reply, VC_IPC_MAX_MSG,
                                IPC_TIMEOUT_MS)) == -EAGAIN && tries < 5000;
       tries++)
    usleep (1000);
  if (n < 0 || (size_t) n < sizeof *rh) {
    errno = n < 0 ? -n : EPROTO;
    return -1;
  }
  rh = (struct qb_ipc_response_header *) c->ipc_reply;
  *tlen = n - sizeof *rh;
  *text = malloc (*tlen + 1);
  if (*text == NULL)
    return -1;
  memcpy (*text, c->ipc_reply + sizeof *rh, *tlen);
  (*text)[*tlen] = '\0';
  *err = vc_remote_error_ok (rh->error) ? rh->error : -EIO;
  return 0;
}

/* The local daemon, as a client: only the daemon this relay belongs to
 * (its pid, as the kernel gave it at connect) is answered for.
 */
static void
ipc_connect (struct conn *c)
{
  pid_t pid = 0;
  uid_t uid = -1;
  gid_t gid;
  int32_t err;
  char *dir = NULL;
  size_t len;

  c->ipc_reply = malloc (VC_IPC_MAX_MSG);
  c->ipc = qb_ipcc_connect (VC_IPC_NAME, VC_IPC_MAX_MSG);
  if (c->ipc == NULL || c->ipc_reply == NULL)
    goto fail;
  if (qb_ipcc_auth_get (c->ipc, &pid, &uid, &gid) != 0 || pid != c->daemon ||
      uid != 0) {
    vc_error ("relay: the process answering as virtckptd (pid %d) is not "
              "this daemon (pid %d)", (int) pid, (int) c->daemon);
    goto fail;
  }
  if (ipc_call (c, VC_IPC_HELLO, NULL, 0, &err, &dir, &len) == -1 || err != 0 ||
      dir[0] != '/')
    goto fail;
  c->dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  free (dir);
  if (c->dirfd >= 0)
    return;

 fail:
  free (dir);
  if (c->ipc)
    qb_ipcc_disconnect (c->ipc);
  c->ipc = NULL;
}

static bool
status_is (const char *text, const char *line)
{
  const char *p = strstr (text, line);

  return p && (p == text || p[-1] == '\n');
}

/* NULL when the daemon is synced with a quorate cluster, else why not
 * (malloc'd), naming this node.
 */
static char *
stale (struct conn *c)
{
  char *text = NULL, *why = NULL;
  size_t len;
  int32_t err;
  unsigned node = 0;
  char state[32] = "?", quorate[8] = "?";
  const char *p;

  if (ipc_call (c, VC_IPC_STATE, NULL, 0, &err, &text, &len) == -1 || err != 0) {
    free (text);
    if (asprintf (&why, "virtckptd on %s does not answer its relay", c->host) == -1)
      why = NULL;
    return why ? why : strdup ("");
  }
  if (status_is (text, "state: synced\n") && status_is (text, "quorate: yes\n")) {
    free (text);
    return NULL;
  }
  if ((p = strstr (text, "node: ")) != NULL)
    sscanf (p, "node: %u", &node);
  if ((p = strstr (text, "\nstate: ")) != NULL)
    sscanf (p, "\nstate: %31[a-z]", state);
  if ((p = strstr (text, "\nquorate: ")) != NULL)
    sscanf (p, "\nquorate: %7[a-z]", quorate);
  free (text);
  if (asprintf (&why, "virtckptd on %s (node %u) is %s, quorate: %s; "
                "its replica may be stale", c->host, node, state, quorate) == -1)
    return strdup ("");
  return why;
}

static int
answer (struct conn *c, int32_t err, const char *text, size_t len)
{
  return vc_remote_send (c->tls, (uint32_t) err, text, len, NULL, 0,
                         VC_REMOTE_FRAME_MS);
}

static int
serve_get (struct conn *c, const char *file, size_t len)
{
  char *text;
  size_t tlen;
  int r;

  if (strlen (file) != len || !vc_doc_file_name_ok (file))
    return answer (c, -EINVAL, "not a document's file name", 26);
  r = vc_doc_file_read (c->dirfd, file, VC_REMOTE_MAX_REPLY, &text, &tlen);
  if (r == 1)
    return answer (c, -ENOENT, "", 0);
  if (r == -1) {
    const char *why = strerror (errno);
    return answer (c, -errno, why, strlen (why));
  }
  r = answer (c, 0, text, tlen);
  free (text);
  return r;
}

static int
serve_list (struct conn *c)
{
  char *text;
  size_t len;
  int r;

  if (vc_doc_file_list (c->dirfd, VC_REMOTE_MAX_REPLY, &text, &len) == -1) {
    const char *why = strerror (errno);
    return answer (c, -errno, why, strlen (why));
  }
  r = answer (c, 0, text, len);
  free (text);
  return r;
}

static int
serve (struct conn *c, uint32_t id, const char *payload, size_t len)
{
  char *text;
  size_t tlen;
  int32_t err;
  int r;

  if (id == VC_IPC_HELLO || id == VC_REMOTE_GET || id == VC_REMOTE_LIST) {
    char *why = stale (c);
    if (why) {
      vc_info ("relay: told %s: %s", c->peer, why);
      r = answer (c, -ESTALE, why, strlen (why));
      free (why);
      return r;
    }
  }
  if (id == VC_REMOTE_GET)
    return serve_get (c, payload, len);
  if (id == VC_REMOTE_LIST)
    return serve_list (c);
  /* Everything else is the daemon's, as if the client were local. */
  if (ipc_call (c, id, payload, len, &err, &text, &tlen) == -1) {
    vc_warn ("relay: virtckptd did not answer a request of %s: %m", c->peer);
    return -1;                  /* the client goes to another full node */
  }
  r = answer (c, err, text, tlen);
  free (text);
  return r;
}

static void
serve_connection (int fd, const char *peer, const char *keypath, pid_t daemon)
{
  unsigned char psk[VC_REMOTE_PSK_LEN];
  char why[512], desc[128];
  struct conn c = { .peer = peer, .daemon = daemon, .dirfd = -1 };

  vc_remote_keepalive (fd);
  /* The key as it is now: replacing the authkey needs no restart. */
  if (vc_remote_load_psk (keypath, psk, why, sizeof why) == -1) {
    vc_error ("relay: refused the Pacemaker Remote client %s: %s", peer, why);
    close (fd);
    return;
  }
  c.tls = vc_tls_server (fd, psk, why, sizeof why);
  memset (psk, 0, sizeof psk);
  if (c.tls == NULL) {
    vc_warn ("relay: refused the Pacemaker Remote client %s: %s", peer, why);
    return;
  }
  if (gethostname (c.host, sizeof c.host) == -1)
    strcpy (c.host, "?");
  c.host[sizeof c.host - 1] = '\0';
  vc_notice ("relay: Pacemaker Remote client %s connected (%s)", peer,
             vc_tls_description (c.tls, desc, sizeof desc));
  ipc_connect (&c);

  for (;;) {
    uint32_t id;
    char *payload;
    size_t len;
    int r = vc_remote_recv (c.tls, &id, &payload, &len,
                            VC_IPC_MAX_MSG - sizeof (struct qb_ipc_request_header),
                            -1);
    if (r == 1)
      break;
    if (r == -1) {
      if (errno == EPROTO)
        vc_warn ("relay: dropped %s: a request over the size limit", peer);
      else
        vc_info ("relay: lost %s: %m", peer);
      break;
    }
    r = serve (&c, id, payload, len);
    free (payload);
    if (r == -1)
      break;
  }
  vc_info ("relay: Pacemaker Remote client %s gone", peer);
  if (c.ipc)
    qb_ipcc_disconnect (c.ipc);
  free (c.ipc_reply);
  if (c.dirfd >= 0)
    close (c.dirfd);
  vc_tls_close (c.tls);
}

/* --- the listener --------------------------------------------------------------- */

static volatile sig_atomic_t stopping;

static void
on_stop (int sig)
{
  stopping = 1;
}

static void
on_child (int sig)
{
}

/* "address:port" in buf, and the address alone in host (NI_MAXHOST). */
static void
peer_name (const struct sockaddr_storage *sa, socklen_t len, char *buf,
           size_t buflen, char *host)
{
  char port[NI_MAXSERV];

  if (getnameinfo ((const struct sockaddr *) sa, len, host, NI_MAXHOST,
                   port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    snprintf (buf, buflen, "?");
    snprintf (host, NI_MAXHOST, "?");
  }
  else {
    if (strncmp (host, "::ffff:", 7) == 0 && strchr (host + 7, '.'))
      memmove (host, host + 7, strlen (host + 7) + 1);   /* IPv4, mapped */
    snprintf (buf, buflen, strchr (host, ':') ? "[%s]:%s" : "%s:%s", host, port);
  }
}

static void
listener_main (const int *fds, size_t nfds, const char *keypath, pid_t daemon)
{
  struct pollfd pfd[MAX_LISTEN];
  struct sigaction sa = { .sa_handler = on_stop };
  sigset_t block, wait_mask;
  pid_t kids[MAX_CONNECTIONS];
  char kid_hosts[MAX_CONNECTIONS][NI_MAXHOST];
  size_t children = 0;

  prctl (PR_SET_PDEATHSIG, SIGTERM);
  if (getppid () != daemon)
    _exit (0);
  prctl (PR_SET_NAME, "virtckptd-relay");
  sigemptyset (&block);
  sigaddset (&block, SIGTERM);
  sigaddset (&block, SIGINT);
  sigaddset (&block, SIGCHLD);
  sigprocmask (SIG_BLOCK, &block, &wait_mask);
  sigdelset (&wait_mask, SIGTERM);
  sigdelset (&wait_mask, SIGINT);
  sigdelset (&wait_mask, SIGCHLD);
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);
  sa.sa_handler = on_child;
  sigaction (SIGCHLD, &sa, NULL);
  for (size_t i = 0; i < nfds; i++)
    pfd[i] = (struct pollfd) { .fd = fds[i], .events = POLLIN };

  while (!stopping) {
    pid_t pid;
    while ((pid = waitpid (-1, NULL, WNOHANG)) > 0)
      for (size_t k = 0; k < children; k++)
        if (kids[k] == pid) {
          children--;
          kids[k] = kids[children];
          memcpy (kid_hosts[k], kid_hosts[children], sizeof kid_hosts[k]);
          break;
        }
    if (ppoll (pfd, nfds, NULL, &wait_mask) == -1)
      continue;                 /* EINTR: a signal */
    for (size_t i = 0; i < nfds; i++) {
      struct sockaddr_storage ss;
      socklen_t sl = sizeof ss;
      char peer[NI_MAXHOST + NI_MAXSERV + 4], host[NI_MAXHOST];
      size_t same = 0;
      int fd;

      if (!(pfd[i].revents & POLLIN))
        continue;
      fd = accept4 (fds[i], (struct sockaddr *) &ss, &sl, SOCK_CLOEXEC);
      if (fd == -1)
        continue;
      peer_name (&ss, sl, peer, sizeof peer, host);
      if (children >= MAX_CONNECTIONS) {
        vc_warn ("relay: refused %s: %d connections already", peer,
                 MAX_CONNECTIONS);
        close (fd);
        continue;
      }
      for (size_t k = 0; k < children; k++)
        same += strcmp (kid_hosts[k], host) == 0;
      if (same >= MAX_PER_HOST) {
        vc_warn ("relay: refused %s: %d connections from %s already", peer,
                 MAX_PER_HOST, host);
        close (fd);
        continue;
      }
      pid = fork ();
      if (pid == -1) {
        vc_error ("relay: cannot serve %s: fork: %m", peer);
        close (fd);
        continue;
      }
      if (pid == 0) {
        pid_t listener = getppid ();
        prctl (PR_SET_PDEATHSIG, SIGTERM);
        if (getppid () != listener)
          _exit (0);
        signal (SIGTERM, SIG_DFL);
        signal (SIGINT, SIG_DFL);
        signal (SIGCHLD, SIG_DFL);
        sigprocmask (SIG_SETMASK, &wait_mask, NULL);
        for (size_t j = 0; j < nfds; j++)
          close (fds[j]);
        serve_connection (fd, peer, keypath, daemon);
        _exit (0);
      }
      memcpy (kid_hosts[children], host, sizeof kid_hosts[children]);
      kids[children++] = pid;
      close (fd);
    }
  }
  /* The connections end with the listener, reaped here. */
  for (size_t k = 0; k < children; k++)
    kill (kids[k], SIGTERM);
  for (size_t k = 0; k < children; k++)
    waitpid (kids[k], NULL, 0);
  _exit (0);
}

/* The listening sockets: address, or every address (one IPv6 socket that
 * also takes IPv4, else an IPv4 one).
 */
static size_t
listen_on (int port, const char *address, int *fds)
{
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE,
                            .ai_family = address ? AF_UNSPEC : AF_INET6 };
  struct addrinfo *res = NULL, *a;
  char service[16];
  size_t n = 0;
  int r, e = 0;

  snprintf (service, sizeof service, "%d", port);
  r = getaddrinfo (address, service, &hints, &res);
  if (r != 0 && !address) {
    hints.ai_family = AF_INET;
    r = getaddrinfo (NULL, service, &hints, &res);
  }
  if (r != 0) {
    vc_error ("not serving Pacemaker Remote nodes: %s: %s",
              address ? address : "any address", gai_strerror (r));
    return 0;
  }
  for (a = res; a && n < MAX_LISTEN; a = a->ai_next) {
    int on = 1, off = 0;
    int fd = socket (a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd == -1) {
      e = errno;
      continue;
    }
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (a->ai_family == AF_INET6 && !address)
      setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    if (bind (fd, a->ai_addr, a->ai_addrlen) == -1 || listen (fd, 64) == -1) {
      e = errno;
      close (fd);
      continue;
    }
    vc_remote_keepalive (fd);
    fds[n++] = fd;
  }
  freeaddrinfo (res);
  if (n == 0 && !address && hints.ai_family == AF_INET6) {
    /* No IPv6 here: IPv4 only. */
    int fd;
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons (port),
                               .sin_addr.s_addr = htonl (INADDR_ANY) };
    int on = 1;
    fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
      setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
      if (bind (fd, (struct sockaddr *) &sin, sizeof sin) == 0 && listen (fd, 64) == 0) {
        vc_remote_keepalive (fd);
        fds[n++] = fd;
      }
      else {
        e = errno;
        close (fd);
      }
    }
  }
  if (n == 0)
    vc_error ("not serving Pacemaker Remote nodes: cannot listen on %s port %d: %s",
              address ? address : "any address", port, strerror (e));
  return n;
}

/* --- the daemon's side: start, restart, stop ------------------------------------ */

/* A listener that dies is started again after RESTART_MIN_S, doubled
 * each time it lived less than RESTART_RESET_S, up to RESTART_MAX_S.
 */
#define RESTART_MIN_S 1
#define RESTART_MAX_S 60
#define RESTART_RESET_S 60

/* The daemon keeps the listening sockets (close-on-exec, never accepted
 * on here): a listener started again takes them over, and a client that
 * connects meanwhile waits in the backlog instead of being refused.
 */
static struct {
  int fds[MAX_LISTEN];
  size_t nfds;
  char *keypath, *where;
  int port;
  pid_t daemon;
  qb_loop_t *loop;
  qb_loop_timer_handle timer;
  bool timer_set;
  time_t started;
  unsigned delay_s;
} R;

/* In a listener forked by the running daemon: nothing of the daemon's
 * but the listening sockets (its corosync and IPC connections, its store
 * lock's descriptor), and the signals as a new process has them.
 */
static void
leave_the_daemon (void)
{
  int keep[MAX_LISTEN];
  unsigned next = 3;
  sigset_t none;

  closelog ();                  /* opened again, on its own descriptor, when used */
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      signal (sig, sig == SIGPIPE ? SIG_IGN : SIG_DFL);
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  memcpy (keep, R.fds, R.nfds * sizeof keep[0]);
  for (size_t i = 1; i < R.nfds; i++)
    for (size_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
      int t = keep[j];
      keep[j] = keep[j - 1];
      keep[j - 1] = t;
    }
  for (size_t i = 0; i < R.nfds; i++) {
    if ((unsigned) keep[i] > next)
      close_range (next, keep[i] - 1, 0);
    next = keep[i] + 1;
  }
  close_range (next, ~0U, 0);
}

static bool
fork_listener (bool restart)
{
  pid_t pid = fork ();

  if (pid == -1) {
    vc_error ("relay for Pacemaker Remote nodes: fork: %m");
    return false;
  }
  if (pid == 0) {
    if (restart)
      leave_the_daemon ();
    listener_main (R.fds, R.nfds, R.keypath, R.daemon);
  }
  listener_pid = pid;
  R.started = time (NULL);
  return true;
}

static void
close_listening (void)
{
  for (size_t i = 0; i < R.nfds; i++)
    close (R.fds[i]);
  R.nfds = 0;
}

void
vc_relay_start (int port, const char *address, const char *authkey)
{
  const char *path = authkey ? authkey : vc_remote_authkey_path ();
  unsigned char psk[VC_REMOTE_PSK_LEN];
  char why[512];
  struct stat st;

  if (port == 0) {
    vc_info ("not serving Pacemaker Remote nodes: --remote-port=0");
    return;
  }
  if (stat (path, &st) == -1 && errno == ENOENT) {
    vc_notice ("not serving Pacemaker Remote nodes: no %s", path);
    return;
  }
  /* Said now; each connection reads the key again. */
  if (vc_remote_load_psk (path, psk, why, sizeof why) == -1)
    vc_error ("%s: Pacemaker Remote nodes will be refused until it is fixed", why);
  memset (psk, 0, sizeof psk);
  R.keypath = strdup (path);
  R.where = strdup (address ? address : "every address");
  if (R.keypath == NULL || R.where == NULL) {
    vc_error ("not serving Pacemaker Remote nodes: out of memory");
    return;
  }
  R.port = port;
  R.daemon = getpid ();
  R.delay_s = RESTART_MIN_S;
  R.nfds = listen_on (port, address, R.fds);
  if (R.nfds == 0)
    return;
  if (!fork_listener (false)) {
    vc_error ("not serving Pacemaker Remote nodes");
    close_listening ();
    return;
  }
  vc_notice ("serving Pacemaker Remote nodes on %s port %d (TLS, key from %s)",
             R.where, port, path);
}

void
vc_relay_close_in_child (void)
{
  close_listening ();
}

void
vc_relay_attach (qb_loop_t *loop)
{
  R.loop = loop;
}

static void
restart (void *data)
{
  R.timer_set = false;
  if (listener_pid > 0 || R.nfds == 0)
    return;
  if (fork_listener (true))
    vc_notice ("serving Pacemaker Remote nodes again on %s port %d", R.where, R.port);
  else
    vc_error ("not serving Pacemaker Remote nodes (restart virtckptd)");
}

bool
vc_relay_reaped (pid_t pid, int status)
{
  char how[64];
  time_t lived;

  if (listener_pid <= 0 || pid != listener_pid)
    return false;
  listener_pid = 0;
  lived = time (NULL) - R.started;
  if (WIFSIGNALED (status))
    snprintf (how, sizeof how, "was killed by signal %d", WTERMSIG (status));
  else
    snprintf (how, sizeof how, "exited with status %d", WEXITSTATUS (status));
  if (R.loop == NULL || R.nfds == 0) {
    vc_error ("the relay for Pacemaker Remote nodes %s: this node no longer "
              "serves them (restart virtckptd)", how);
    return true;
  }
  /* One that keeps dying is not forked in a tight loop. */
  if (lived >= RESTART_RESET_S)
    R.delay_s = RESTART_MIN_S;
  vc_error ("the relay for Pacemaker Remote nodes %s after %ld s: "
            "started again in %u s", how, (long) lived, R.delay_s);
  if (qb_loop_timer_add (R.loop, QB_LOOP_MED, (uint64_t) R.delay_s * QB_TIME_NS_IN_SEC,
                         NULL, restart, &R.timer) != 0)
    vc_error ("not serving Pacemaker Remote nodes: no timer to start the relay again "
              "(restart virtckptd)");
  else
    R.timer_set = true;
  R.delay_s = R.delay_s * 2 > RESTART_MAX_S ? RESTART_MAX_S : R.delay_s * 2;
  return true;
}

void
vc_relay_stop (void)
{
  if (R.timer_set && R.loop)
    qb_loop_timer_del (R.loop, R.timer);
  R.timer_set = false;
  if (listener_pid > 0) {
    kill (listener_pid, SIGTERM);
    /* ECHILD: the daemon's SIGCHLD handler reaped it already. */
    while (waitpid (listener_pid, NULL, 0) == -1 && errno == EINTR)
      ;
    listener_pid = 0;
  }
  close_listening ();
  free (R.keypath);
  free (R.where);
  R.keypath = R.where = NULL;
}
