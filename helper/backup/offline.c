/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "backup/offline.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/vc-strings.h"
#include "common/xml-safe.h"
#include "libvirt/libvirt-conn.h"
#include "store/checkpoint-xml.h"

/* Domain XML files are small; a bigger one is not a VirtualDomain config. */
#define MAX_CONFIG (4 << 20)
#define START_TIMEOUT_MS 60000
#define STOP_TIMEOUT_MS 30000

static int
oom (void)
{
  vc_error ("out of memory");
  return -1;
}

/* --- the domain XML ------------------------------------------------------- */

static char *
read_config (const char *file)
{
  CLEANUP_CLOSE int fd = open (file, O_RDONLY | O_CLOEXEC);
  char *buf = NULL;
  size_t len = 0;
  ssize_t r;

  if (fd == -1) {
    vc_error ("cannot open %s: %m", file);
    return NULL;
  }
  buf = malloc (MAX_CONFIG + 1);
  if (buf == NULL) {
    oom ();
    return NULL;
  }
  while (len < MAX_CONFIG && (r = read (fd, buf + len, MAX_CONFIG - len)) != 0) {
    if (r == -1) {
      if (errno == EINTR)
        continue;
      vc_error ("cannot read %s: %m", file);
      free (buf);
      return NULL;
    }
    len += r;
  }
  if (len == MAX_CONFIG) {
    vc_error ("%s is too big for a domain XML", file);
    free (buf);
    return NULL;
  }
  buf[len] = '\0';
  return buf;
}

/* The <domain> element of a document, as a document of its own; NULL
 * with *err.
 */
static char *
domain_of (const char *xml, const char *root, char **err)
{
  CLEANUP_XMLFREEDOC xmlDocPtr doc = vc_xml_parse (xml, strlen (xml), err);
  CLEANUP_XMLFREEDOC xmlDocPtr out = NULL;
  xmlNodePtr top, dom, copy;

  if (doc == NULL)
    return NULL;
  top = xmlDocGetRootElement (doc);
  if (top == NULL || strcmp ((const char *) top->name, root) != 0) {
    *err = vc_printf ("the root element is not <%s>", root);
    return NULL;
  }
  dom = strcmp (root, "domain") == 0 ? top : vc_xml_child (top, "domain");
  if (dom == NULL) {
    *err = vc_printf ("it holds no <domain>");
    return NULL;
  }
  out = xmlNewDoc (BAD_CAST "1.0");
  copy = out ? xmlDocCopyNode (dom, out, 1) : NULL;
  if (copy == NULL) {
    *err = vc_printf ("out of memory");
    return NULL;
  }
  xmlDocSetRootElement (out, copy);
  return vc_xml_dump (out, NULL);
}

int
vc_offline_prepare (struct vc_offline *o, struct vc_store *store,
                    virDomainPtr dom, const char *config)
{
  struct vc_chain chain;
  CLEANUP_FREE char *err = NULL;
  const struct vc_checkpoint *tip = NULL;
  int s = vc_store_load (store, o->domain, &chain);

  if (s == -1)
    return -1;
  if (s == 1)
    memset (&chain, 0, sizeof chain);
  if (s == 0 && chain.checkpoints.len) {
    tip = &chain.checkpoints.ptr[chain.checkpoints.len - 1];
    o->tip = strdup (tip->name);
    if (o->tip == NULL) {
      vc_chain_clear (&chain);
      return oom ();
    }
  }
  if (config) {
    CLEANUP_FREE char *text = read_config (config);
    o->domxml = text ? domain_of (text, "domain", &err) : NULL;
    o->origin = vc_printf ("%s", config);
  }
  else if (dom) {
    CLEANUP_FREE char *text = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);
    if (text == NULL)
      vc_error ("cannot read the definition of %s: %s", o->domain, vc_libvirt_error ());
    o->domxml = text ? domain_of (text, "domain", &err) : NULL;
    o->origin = vc_printf ("libvirt's definition of %s", o->domain);
  }
  else if (tip) {
    o->domxml = domain_of (tip->xml, "domaincheckpoint", &err);
    o->origin = vc_printf ("stored checkpoint %s", tip->name);
  }
  else {
    vc_error ("no disks known for %s: it is not defined here and no checkpoint "
              "of it is stored; give its domain XML with --config FILE", o->domain);
    vc_chain_clear (&chain);
    return -1;
  }
  vc_chain_clear (&chain);
  if (o->domxml == NULL) {
    if (err)
      vc_error ("cannot read the domain XML of %s from %s: %s", o->domain,
                o->origin ? o->origin : "its source", err);
    return -1;
  }
  if (o->origin == NULL)
    return oom ();
  /* Its UUID names the chain of a domain never stored before. */
  CLEANUP_XMLFREEDOC xmlDocPtr doc = vc_xml_parse (o->domxml, strlen (o->domxml), &err);
  if (doc)
    o->uuid = vc_xml_text (doc, NULL, "/domain/uuid");
  vc_info ("disks of %s from %s", o->domain, o->origin);
  return 0;
}

/* --- the disks ------------------------------------------------------------ */

static int
find_disk (struct vc_offline *o, xmlXPathContextPtr ctx, const char *target)
{
  /* Targets are plain names (vc_domain_info_parse checked). */
  CLEANUP_FREE char *expr =
    vc_printf ("/domain/devices/disk[target/@dev='%s']", target);
  CLEANUP_XMLXPATHFREEOBJECT xmlXPathObjectPtr obj = NULL;
  CLEANUP_FREE char *type = NULL, *format = NULL, *path = NULL;
  struct vc_offline_disk d = { 0 };
  xmlNodePtr disk, source, driver;
  struct stat st;

  if (expr == NULL)
    return oom ();
  obj = xmlXPathEvalExpression (BAD_CAST expr, ctx);
  if (obj == NULL || obj->nodesetval == NULL || obj->nodesetval->nodeNr != 1) {
    vc_error ("%s: no single disk '%s'", o->origin, target);
    return -1;
  }
  disk = obj->nodesetval->nodeTab[0];
  type = vc_xml_prop (disk, "type");
  source = vc_xml_child (disk, "source");
  driver = vc_xml_child (disk, "driver");
  format = driver ? vc_xml_prop (driver, "type") : NULL;
  if (type && strcmp (type, "file") == 0 && source)
    path = vc_xml_prop (source, "file");
  else if (type && strcmp (type, "block") == 0 && source)
    path = vc_xml_prop (source, "dev");
  if (path == NULL) {
    vc_error ("disk %s of %s is no file or block device with a source: "
              "offline backups read local images only", target, o->domain);
    return -1;
  }
  if (format == NULL || strcmp (format, "qcow2") != 0) {
    vc_error ("disk %s of %s is %s, not qcow2: offline backups need qcow2 images "
              "(they carry the bitmaps and the locks)", target, o->domain,
              format ? format : "of unknown format");
    return -1;
  }
  if (path[0] != '/') {
    vc_error ("disk %s of %s: %s is not an absolute path", target, o->domain, path);
    return -1;
  }
  if (stat (path, &st) == -1) {
    vc_error ("disk %s of %s: %s: %m", target, o->domain, path);
    return -1;
  }
  if (!S_ISREG (st.st_mode) && !S_ISBLK (st.st_mode)) {
    vc_error ("disk %s of %s: %s is no regular file or block device", target,
              o->domain, path);
    return -1;
  }
  d.block = S_ISBLK (st.st_mode);
  d.target = strdup (target);
  d.path = path;
  if (d.target == NULL || vc_offline_disk_vector_append (&o->disks, d) == -1) {
    free (d.target);
    return oom ();
  }
  path = NULL;
  return 0;
}

int
vc_offline_find_disks (struct vc_offline *o, const string_vector *targets)
{
  CLEANUP_FREE char *err = NULL;
  CLEANUP_XMLFREEDOC xmlDocPtr doc = vc_xml_parse (o->domxml, strlen (o->domxml), &err);
  CLEANUP_XMLXPATHFREECONTEXT xmlXPathContextPtr ctx = NULL;

  if (doc == NULL) {
    vc_error ("cannot read the domain XML of %s: %s", o->domain, err);
    return -1;
  }
  ctx = xmlXPathNewContext (doc);
  if (ctx == NULL)
    return oom ();
  for (size_t i = 0; i < targets->len; i++) {
    if (find_disk (o, ctx, targets->ptr[i]) == -1)
      return -1;
  }
  return 0;
}

/* --- running QEMU's tools ------------------------------------------------- */

/* QEMU's option syntax: a comma in a value is doubled. */
static char *
opt_value (const char *s)
{
  size_t n = strlen (s);
  char *out = malloc (2 * n + 1), *p = out;

  if (out == NULL)
    return NULL;
  for (; *s; s++) {
    *p++ = *s;
    if (*s == ',')
      *p++ = ',';
  }
  *p = '\0';
  return out;
}

/* --image-opts of an image, so that no part of its path is taken for a
 * protocol or an option.
 */
static char *
image_opts (const struct vc_offline_disk *d)
{
  CLEANUP_FREE char *path = opt_value (d->path);

  return path ? vc_printf ("driver=qcow2,file.driver=%s,file.filename=%s",
                           d->block ? "host_device" : "file", path) : NULL;
}

/* In the child: nothing of virtckpt's signal handling, and it dies with
 * virtckpt, however virtckpt ends.
 */
static void
child_setup (pid_t parent, int errfd)
{
  sigset_t none;

  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  signal (SIGPIPE, SIG_DFL);
  signal (SIGINT, SIG_DFL);
  signal (SIGTERM, SIG_DFL);
  signal (SIGHUP, SIG_DFL);
  /* Its own process group: a ^C reaches virtckpt, which stops it. */
  setpgid (0, 0);
  if (prctl (PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid () != parent)
    _exit (126);
  int null = open ("/dev/null", O_RDWR);
  if (null == -1 || dup2 (null, STDIN_FILENO) == -1 ||
      dup2 (null, STDOUT_FILENO) == -1 || dup2 (errfd, STDERR_FILENO) == -1)
    _exit (126);
}

/* Runs argv, its stderr (trimmed) in *out.  Returns its exit status, or
 * -1 when it could not run or was killed.
 */
static int
run (char *const *argv, char **out)
{
  int pfd[2], status;
  pid_t parent = getpid (), pid;
  size_t len = 0, cap = 4096;
  char *buf = malloc (cap);

  *out = NULL;
  if (buf == NULL)
    return oom ();
  if (pipe2 (pfd, O_CLOEXEC) == -1) {
    vc_error ("cannot run %s: %m", argv[0]);
    free (buf);
    return -1;
  }
  pid = fork ();
  if (pid == 0) {
    child_setup (parent, pfd[1]);
    execv (argv[0], argv);
    _exit (127);
  }
  close (pfd[1]);
  if (pid == -1) {
    vc_error ("cannot run %s: %m", argv[0]);
    close (pfd[0]);
    free (buf);
    return -1;
  }
  for (;;) {
    ssize_t r = read (pfd[0], buf + len, cap - 1 - len);
    if (r == -1 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    len += r;
    if (len == cap - 1) {
      char *p = cap < (1 << 20) ? realloc (buf, cap * 2) : NULL;
      if (p == NULL)
        break;
      buf = p;
      cap *= 2;
    }
  }
  close (pfd[0]);
  while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
    len--;
  buf[len] = '\0';
  *out = buf;
  while (waitpid (pid, &status, 0) == -1)
    if (errno != EINTR) {
      vc_error ("cannot wait for %s: %m", argv[0]);
      return -1;
    }
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  return -1;
}

static bool
locked (const char *msg)
{
  return msg && (strstr (msg, "\"write\" lock") || strstr (msg, "'write' lock") ||
                 strstr (msg, "Is another process using the image"));
}

/* QEMU's lock errors span lines and quote its options: one line, the
 * image named.
 */
static void
report_tool_error (const struct vc_offline *o, const char *what,
                   const char *path, const char *msg)
{
  if (locked (msg) && o->no_member_runs_it)
    vc_error ("%s runs on no node of the cluster, yet %s %s in use by another "
              "process: it runs on a host outside the cluster (a Pacemaker Remote "
              "node?); back it up there", o->domain, path ? path : "its images",
              path ? "is" : "are");
  else if (locked (msg))
    vc_error ("%s seems to be running elsewhere (images locked): %s %s in use "
              "by another process", o->domain, path ? path : "its images",
              path ? "is" : "are");
  else
    vc_error ("%s: %s", what, msg && *msg ? msg : "failed");
}

static int
bitmap_op (struct vc_offline *o, const struct vc_offline_disk *d,
           const char *op, const char *name, bool quiet)
{
  CLEANUP_FREE char *opts = image_opts (d), *msg = NULL;
  CLEANUP_FREE char *what = vc_printf ("cannot %s bitmap %s %s %s", op + 2, name,
                                       strcmp (op, "--add") == 0 ? "to" : "from",
                                       d->path);
  char *argv[] = { (char *) VC_QEMU_IMG, (char *) "bitmap", (char *) op,
                   (char *) "--image-opts", opts, (char *) name, NULL };

  if (opts == NULL || what == NULL)
    return oom ();
  if (run (argv, &msg) != 0) {
    if (!quiet)
      report_tool_error (o, what, d->path, msg);
    else
      vc_warn ("%s: %s", what, msg && *msg ? msg : "failed");
    return -1;
  }
  return 0;
}

int
vc_offline_add_bitmap (struct vc_offline *o, const char *name)
{
  for (size_t i = 0; i < o->disks.len; i++)
    if (bitmap_op (o, &o->disks.ptr[i], "--add", name, false) == -1) {
      while (i-- > 0)
        bitmap_op (o, &o->disks.ptr[i], "--remove", name, true);
      return -1;
    }
  return 0;
}

void
vc_offline_remove_bitmap (struct vc_offline *o, const char *name)
{
  for (size_t i = 0; i < o->disks.len; i++)
    bitmap_op (o, &o->disks.ptr[i], "--remove", name, true);
}

/* --- the export ----------------------------------------------------------- */

static void
sleep_ms (long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
  nanosleep (&ts, NULL);
}

static char *
read_log (const char *file)
{
  CLEANUP_CLOSE int fd = open (file, O_RDONLY | O_CLOEXEC);
  char buf[2048];
  ssize_t r = fd == -1 ? -1 : read (fd, buf, sizeof buf - 1);

  if (r < 0)
    r = 0;
  while (r && (buf[r - 1] == '\n' || buf[r - 1] == ' '))
    r--;
  buf[r] = '\0';
  return strdup (buf);
}

static int
add_arg (string_vector *v, char *s)
{
  if (s == NULL || string_vector_append (v, s) == -1) {
    free (s);
    return oom ();
  }
  return 0;
}

static int
export_args (const struct vc_offline *o, const char *pidfile, const char *socket,
             const char *bitmap, string_vector *v)
{
  CLEANUP_FREE char *sock = opt_value (socket);

  if (sock == NULL ||
      add_arg (v, strdup (VC_QEMU_STORAGE_DAEMON)) == -1 ||
      add_arg (v, strdup ("--pidfile")) == -1 ||
      add_arg (v, strdup (pidfile)) == -1)
    return -1;
  for (size_t i = 0; i < o->disks.len; i++) {
    const struct vc_offline_disk *d = &o->disks.ptr[i];
    CLEANUP_FREE char *path = opt_value (d->path);
    if (path == NULL ||
        add_arg (v, strdup ("--blockdev")) == -1 ||
        add_arg (v, vc_printf ("driver=%s,node-name=file%zu,filename=%s,read-only=on",
                               d->block ? "host_device" : "file", i, path)) == -1 ||
        add_arg (v, strdup ("--blockdev")) == -1 ||
        add_arg (v, vc_printf ("driver=qcow2,node-name=disk%zu,file=file%zu,"
                               "read-only=on", i, i)) == -1)
      return -1;
  }
  if (add_arg (v, strdup ("--nbd-server")) == -1 ||
      add_arg (v, vc_printf ("addr.type=unix,addr.path=%s", sock)) == -1)
    return -1;
  for (size_t i = 0; i < o->disks.len; i++) {
    /* Targets are plain names; bitmap names are virtckpt's or libvirt's. */
    CLEANUP_FREE char *bm = bitmap ? opt_value (bitmap) : NULL;
    if ((bitmap && bm == NULL) ||
        add_arg (v, strdup ("--export")) == -1 ||
        add_arg (v, vc_printf ("type=nbd,id=export%zu,node-name=disk%zu,name=%s,"
                               "writable=off%s%s", i, i, o->disks.ptr[i].target,
                               bm ? ",bitmaps.0=" : "", bm ? bm : "")) == -1)
      return -1;
  }
  return string_vector_append (v, NULL) == -1 ? oom () : 0;
}

/* Waits for the pid file, written once every export exists, or for the
 * daemon to exit.  0 ready, -1 not (logged).
 */
static int
wait_ready (struct vc_offline *o, const char *pidfile, const char *bitmap,
            volatile sig_atomic_t *cancel)
{
  for (long waited = 0; waited < START_TIMEOUT_MS; waited += 50) {
    int status;
    pid_t r = waitpid (o->pid, &status, WNOHANG);
    if (r == o->pid) {
      CLEANUP_FREE char *msg = read_log (o->log);
      CLEANUP_FREE char *quoted = bitmap ? vc_printf ("Bitmap '%s'", bitmap) : NULL;
      o->pid = 0;
      o->bad_bitmap = msg && quoted && strstr (msg, quoted);
      report_tool_error (o, "qemu-storage-daemon cannot export the images",
                         NULL, msg);
      return -1;
    }
    if (access (pidfile, F_OK) == 0)
      return 0;
    if (cancel && *cancel)
      return -1;
    sleep_ms (50);
  }
  vc_error ("qemu-storage-daemon did not export the images of %s within %d s",
            o->domain, START_TIMEOUT_MS / 1000);
  return -1;
}

int
vc_offline_export_start (struct vc_offline *o, const char *dir, const char *socket,
                         const char *bitmap, volatile sig_atomic_t *cancel)
{
  CLEANUP_FREE char *pidfile = vc_printf ("%s/qsd.pid", dir);
  string_vector args = empty_vector;
  pid_t parent = getpid ();
  int errfd = -1, ret = -1;

  o->log = vc_printf ("%s/qsd.log", dir);
  if (pidfile == NULL || o->log == NULL) {
    oom ();
    goto out;
  }
  if (export_args (o, pidfile, socket, bitmap, &args) == -1)
    goto out;
  errfd = open (o->log, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (errfd == -1) {
    vc_error ("cannot create %s: %m", o->log);
    goto out;
  }
  for (size_t i = 0; args.ptr[i + 1]; i++)
    vc_debug ("qemu-storage-daemon argument: %s", args.ptr[i + 1]);
  o->pid = fork ();
  if (o->pid == 0) {
    child_setup (parent, errfd);
    execv (args.ptr[0], args.ptr);
    _exit (127);
  }
  if (o->pid == -1) {
    o->pid = 0;
    vc_error ("cannot run %s: %m", VC_QEMU_STORAGE_DAEMON);
    goto out;
  }
  ret = wait_ready (o, pidfile, bitmap, cancel);
  if (ret == 0)
    vc_info ("qemu-storage-daemon %d exports the images of %s", (int) o->pid, o->domain);
 out:
  if (errfd >= 0)
    close (errfd);
  vc_string_vector_free (&args);
  return ret;
}

int
vc_offline_export_stop (struct vc_offline *o)
{
  int status = 0;
  pid_t r = 0;

  if (o->pid <= 0)
    return 0;
  kill (o->pid, SIGTERM);
  for (long waited = 0; waited < STOP_TIMEOUT_MS; waited += 20) {
    r = waitpid (o->pid, &status, WNOHANG);
    if (r != 0)
      break;
    sleep_ms (20);
  }
  if (r == 0) {
    vc_warn ("qemu-storage-daemon %d did not stop within %d s: killing it",
             (int) o->pid, STOP_TIMEOUT_MS / 1000);
    kill (o->pid, SIGKILL);
    r = waitpid (o->pid, &status, 0);
  }
  o->pid = 0;
  if (r > 0 && WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return 0;
  {
    CLEANUP_FREE char *msg = o->log ? read_log (o->log) : NULL;
    vc_warn ("qemu-storage-daemon exporting %s did not exit cleanly%s%s", o->domain,
             msg && *msg ? ": " : "", msg && *msg ? msg : "");
  }
  return -1;
}

/* --- the checkpoint -------------------------------------------------------- */

static bool
backed_up (const struct vc_offline *o, const char *target)
{
  for (size_t i = 0; i < o->disks.len; i++)
    if (strcmp (o->disks.ptr[i].target, target) == 0)
      return true;
  return false;
}

char *
vc_offline_checkpoint_xml (const struct vc_offline *o, const char *name,
                           const string_vector *all_targets, unsigned id)
{
  CLEANUP_XMLFREEDOC xmlDocPtr doc = xmlNewDoc (BAD_CAST "1.0");
  CLEANUP_XMLFREEDOC xmlDocPtr dom = NULL;
  CLEANUP_FREE char *description = vc_printf ("virtckpt backup %u (offline)", id);
  CLEANUP_FREE char *created = vc_printf ("%lld", (long long) time (NULL));
  CLEANUP_FREE char *err = NULL;
  xmlNodePtr root, parent, disks, copy;

  root = doc ? xmlNewNode (NULL, BAD_CAST "domaincheckpoint") : NULL;
  if (root == NULL || description == NULL || created == NULL) {
    oom ();
    return NULL;
  }
  xmlDocSetRootElement (doc, root);
  if (!xmlNewTextChild (root, NULL, BAD_CAST "name", BAD_CAST name) ||
      !xmlNewTextChild (root, NULL, BAD_CAST "description", BAD_CAST description))
    goto oom;
  if (o->tip) {
    parent = xmlNewChild (root, NULL, BAD_CAST "parent", NULL);
    if (parent == NULL ||
        !xmlNewTextChild (parent, NULL, BAD_CAST "name", BAD_CAST o->tip))
      goto oom;
  }
  if (!xmlNewTextChild (root, NULL, BAD_CAST "creationTime", BAD_CAST created) ||
      (disks = xmlNewChild (root, NULL, BAD_CAST "disks", NULL)) == NULL)
    goto oom;
  for (size_t i = 0; i < all_targets->len; i++) {
    const char *t = all_targets->ptr[i];
    bool yes = backed_up (o, t);
    xmlNodePtr disk = xmlNewChild (disks, NULL, BAD_CAST "disk", NULL);
    if (disk == NULL || !vc_xml_set_prop (disk, "name", t) ||
        !vc_xml_set_prop (disk, "checkpoint", yes ? "bitmap" : "no") ||
        (yes && !vc_xml_set_prop (disk, "bitmap", name)))
      goto oom;
  }
  dom = vc_xml_parse (o->domxml, strlen (o->domxml), &err);
  if (dom == NULL) {
    vc_error ("cannot read the domain XML of %s: %s", o->domain, err);
    return NULL;
  }
  copy = xmlDocCopyNode (xmlDocGetRootElement (dom), doc, 1);
  if (copy == NULL || xmlAddChild (root, copy) == NULL)
    goto oom;
  return vc_xml_dump (doc, NULL);
 oom:
  oom ();
  return NULL;
}

static void
remove_old_bitmaps (struct vc_offline *o, const struct vc_checkpoint *c)
{
  for (size_t i = 0; i < c->disks.len; i++) {
    const struct vc_disk *cd = &c->disks.ptr[i];
    for (size_t j = 0; cd->bitmap && j < o->disks.len; j++)
      if (strcmp (o->disks.ptr[j].target, cd->name) == 0 &&
          bitmap_op (o, &o->disks.ptr[j], "--remove", cd->bitmap, true) == 0)
        vc_info ("removed bitmap %s of an older chain from %s", cd->bitmap,
                 o->disks.ptr[j].path);
  }
}

int
vc_offline_record (struct vc_offline *o, struct vc_store *store, const char *cpxml,
                   bool full)
{
  struct vc_chain chain;
  struct vc_checkpoint c;
  CLEANUP_FREE char *err = NULL;
  vc_checkpoint_vector old = empty_vector;
  int s, ret = -1;

  if (vc_checkpoint_parse (cpxml, &c, &err) == -1) {
    vc_error ("the checkpoint made offline is unreadable: %s", err);
    return -1;
  }
  if (vc_store_lock (store) == -1 ||
      (s = vc_store_load (store, o->domain, &chain)) == -1) {
    vc_checkpoint_clear (&c);
    return -1;
  }
  if (s == 1) {
    memset (&chain, 0, sizeof chain);
    chain.domain = strdup (o->domain);
    chain.uuid = o->uuid ? strdup (o->uuid) : NULL;
    if (chain.domain == NULL || (o->uuid && chain.uuid == NULL)) {
      vc_checkpoint_clear (&c);
      oom ();
      goto out;
    }
  }
  /* The stored tip may have changed since the XML named it as parent:
   * then this checkpoint does not extend the chain libvirt will see.
   */
  const char *tip = chain.checkpoints.len
    ? chain.checkpoints.ptr[chain.checkpoints.len - 1].name : NULL;
  if (full) {
    old = chain.checkpoints;
    chain.checkpoints = (vc_checkpoint_vector) empty_vector;
  }
  else if (!vc_streq (tip, o->tip)) {
    vc_error ("the stored chain of %s changed during the backup: checkpoint %s "
              "is not recorded", o->domain, c.name);
    vc_checkpoint_clear (&c);
    goto out;
  }
  if (vc_checkpoint_vector_append (&chain.checkpoints, c) == -1) {
    vc_checkpoint_clear (&c);
    oom ();
    goto out;
  }
  chain.version.generation++;
  chain.version.node = 0;
  chain.updated = time (NULL);
  if (vc_store_save (store, &chain) == 0)
    ret = 0;
  /* Bitmaps nobody will read again would only cost a write each; the
   * daemon lets go of the images first.
   */
  if (ret == 0 && old.len)
    vc_offline_export_stop (o);
  for (size_t i = 0; ret == 0 && i < old.len; i++)
    if (strncmp (old.ptr[i].name, "virtckpt.", 9) == 0)
      remove_old_bitmaps (o, &old.ptr[i]);
 out:
  for (size_t i = 0; i < old.len; i++)
    vc_checkpoint_clear (&old.ptr[i]);
  vc_checkpoint_vector_reset (&old);
  vc_chain_clear (&chain);
  return ret;
}

void
vc_offline_clear (struct vc_offline *o)
{
  vc_offline_export_stop (o);
  for (size_t i = 0; i < o->disks.len; i++) {
    free (o->disks.ptr[i].target);
    free (o->disks.ptr[i].path);
  }
  vc_offline_disk_vector_reset (&o->disks);
  free (o->domxml);
  free (o->origin);
  free (o->uuid);
  free (o->tip);
  free (o->log);
  memset (o, 0, sizeof *o);
}
