/* virtckpt checkpoints capture|redefine|show|list|forget */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>

#include "common/atomic-file.h"
#include "libvirt/checkpoints.h"
#include "common/cleanup.h"
#include "cli/commands.h"
#include "store/document.h"
#include "common/exit-codes.h"
#include "libvirt/libvirt-conn.h"
#include "common/log.h"
#include "store/store.h"
#include "common/xml-safe.h"

struct subcommand {
  const char *name;
  const char *args;
  const char *help;
  int nargs;
  int (*run) (const struct vc_options *, struct vc_store *, char **);
  bool writes;                  /* creates the store if missing */
};

static int
run_capture (const struct vc_options *opts, struct vc_store *store, char **argv)
{
  struct vc_capture_result res;
  virConnectPtr conn = vc_libvirt_open (opts->uri);

  if (conn == NULL)
    return VC_EXIT_ERROR;
  int r = vc_capture (conn, store, argv[0], opts->force, 0, &res);
  virConnectClose (conn);
  if (r == -1)
    return VC_EXIT_ERROR;
  if (res.changed)
    vc_notice ("captured %zu checkpoint%s of %s (%zu new, %zu removed)",
               res.count, res.count == 1 ? "" : "s", argv[0],
               res.added, res.removed);
  return VC_EXIT_OK;
}

static int
run_redefine (const struct vc_options *opts, struct vc_store *store, char **argv)
{
  struct vc_redefine_result res;
  virConnectPtr conn = vc_libvirt_open (opts->uri);

  if (conn == NULL)
    return VC_EXIT_ERROR;
  int r = vc_redefine (conn, store, argv[0], &res);
  virConnectClose (conn);
  if (r == VC_EXIT_OK && res.stored > 0)
    vc_notice ("redefined %zu checkpoint%s of %s (%zu already present, "
               "%zu not ours left alone)", res.redefined,
               res.redefined == 1 ? "" : "s", argv[0], res.present, res.foreign);
  return r;
}

static void
print_time (const char *label, int64_t t)
{
  char buf[64];
  time_t tt = t;
  struct tm tm;

  if (localtime_r (&tt, &tm) && strftime (buf, sizeof buf, "%F %T %z", &tm))
    printf ("%s%s\n", label, buf);
  else
    printf ("%s%" PRId64 "\n", label, t);
}

static int
run_show (const struct vc_options *opts, struct vc_store *store, char **argv)
{
  struct vc_chain chain;
  int r = vc_store_load (store, argv[0], &chain);

  if (r == 1) {
    vc_error ("no checkpoints stored for '%s'", argv[0]);
    return VC_EXIT_ERROR;
  }
  if (r == -1)
    return VC_EXIT_ERROR;
  if (opts->xml) {
    size_t len;
    CLEANUP_FREE char *doc = vc_document_format (&chain, &len);
    if (doc)
      fwrite (doc, 1, len, stdout);
  }
  else {
    printf ("Domain:      %s\n", chain.domain);
    printf ("UUID:        %s\n", chain.uuid ? chain.uuid : "-");
    printf ("Version:     %" PRIu64 " (node %" PRIu32 ")\n",
            chain.version.generation, chain.version.node);
    print_time ("Updated:     ", chain.updated);
    if (chain.broken) {
      printf ("State:       broken: %s\n", chain.broken_reason);
      print_time ("Broken since: ", chain.broken_since);
    }
    else
      printf ("State:       ok\n");
    printf ("Checkpoints: %zu\n", chain.checkpoints.len);
    for (size_t i = 0; i < chain.checkpoints.len; i++) {
      const struct vc_checkpoint *c = &chain.checkpoints.ptr[i];
      char when[64] = "";
      time_t t = c->created;
      struct tm tm;
      if (localtime_r (&t, &tm))
        strftime (when, sizeof when, "%F %T", &tm);
      printf ("  %-20s parent %-20s %s  disks", c->name,
              c->parent ? c->parent : "-", when);
      for (size_t j = 0; j < c->disks.len; j++)
        printf (" %s%s%s", c->disks.ptr[j].name,
                strcmp (c->disks.ptr[j].mode, "bitmap") == 0 ? "" : ":",
                strcmp (c->disks.ptr[j].mode, "bitmap") == 0 ? "" : c->disks.ptr[j].mode);
      printf ("\n");
    }
  }
  vc_chain_clear (&chain);
  return VC_EXIT_OK;
}

static int
run_list (const struct vc_options *opts, struct vc_store *store, char **argv)
{
  string_vector names = empty_vector;
  int ret = VC_EXIT_OK;

  if (vc_store_list (store, &names) == -1)
    return VC_EXIT_ERROR;
  if (names.len > 0)
    printf ("%-32s %11s  %-20s %s\n", "DOMAIN", "CHECKPOINTS", "LATEST", "STATE");
  for (size_t i = 0; i < names.len; i++) {
    struct vc_chain chain;
    if (vc_store_load (store, names.ptr[i], &chain) != 0) {
      ret = VC_EXIT_ERROR;
      continue;
    }
    size_t n = chain.checkpoints.len;
    printf ("%-32s %11zu  %-20s %s\n", chain.domain, n,
            n ? chain.checkpoints.ptr[n - 1].name : "-",
            chain.broken ? "broken" : "ok");
    vc_chain_clear (&chain);
  }
  vc_string_vector_free (&names);
  return ret;
}

static int
run_forget (const struct vc_options *opts, struct vc_store *store, char **argv)
{
  if (store->dirfd == -1 && store->daemon == NULL) {
    vc_error ("no checkpoints stored for '%s'", argv[0]);
    return VC_EXIT_ERROR;
  }
  if (vc_store_lock (store) == -1)
    return VC_EXIT_ERROR;
  switch (vc_store_remove (store, argv[0])) {
  case 0:
    vc_notice ("forgot the checkpoints of %s", argv[0]);
    return VC_EXIT_OK;
  case 1:
    vc_error ("no checkpoints stored for '%s'", argv[0]);
    return VC_EXIT_ERROR;
  default:
    return VC_EXIT_ERROR;
  }
}

static int
run_import (const struct vc_options *opts, struct vc_store *store, char **argv)
{
  CLEANUP_FREE char *buf = NULL, *err = NULL;
  struct vc_chain chain, old;
  size_t len;
  int r;

  if (vc_read_file (AT_FDCWD, argv[0], VC_XML_MAX_SIZE, &buf, &len) == -1) {
    vc_error ("cannot read %s: %m", argv[0]);
    return VC_EXIT_ERROR;
  }
  if (vc_document_parse (buf, len, &chain, &err) == -1) {
    vc_error ("%s is not a store document: %s", argv[0], err);
    return VC_EXIT_ERROR;
  }
  /* The imported chain becomes the newest version here. */
  if (vc_store_lock (store) == -1 ||
      (r = vc_store_load (store, chain.domain, &old)) == -1) {
    vc_chain_clear (&chain);
    return VC_EXIT_ERROR;
  }
  chain.version.generation = (r == 0 ? old.version.generation : 0) + 1;
  chain.version.deleted = false;
  chain.updated = time (NULL);
  if (r == 0)
    vc_chain_clear (&old);
  r = vc_store_save (store, &chain);
  if (r == 0)
    vc_notice ("imported %zu checkpoint%s of %s", chain.checkpoints.len,
               chain.checkpoints.len == 1 ? "" : "s", chain.domain);
  vc_chain_clear (&chain);
  return r == 0 ? VC_EXIT_OK : VC_EXIT_ERROR;
}

static const struct subcommand subcommands[] = {
  { "capture", "DOMAIN",
    "Record libvirt's current checkpoint chain of DOMAIN in the store;\n"
    "checkpoints deleted in libvirt are deleted from the store.  Refuses to\n"
    "replace a stored chain of which libvirt holds none (run redefine first)\n"
    "unless --force.", 1, run_capture, true },
  { "redefine", "DOMAIN",
    "Redefine in libvirt, parent first, every stored checkpoint of the running\n"
    "DOMAIN that libvirt lacks: all of them or none.  Checkpoints libvirt\n"
    "already has, or that are not in the store, are left alone.  Exits 3 when\n"
    "a bitmap is missing or inconsistent: the chain is then marked broken and\n"
    "the next backup must be full.", 1, run_redefine, false },
  { "show", "DOMAIN",
    "Show the stored chain of DOMAIN (--xml: the store document).",
    1, run_show, false },
  { "list", "",
    "List the domains in the store with their chain length and state.",
    0, run_list, false },
  { "forget", "DOMAIN",
    "Delete the stored chain of DOMAIN.  libvirt is not touched.",
    1, run_forget, false },
  { "import", "FILE",
    "Store the chain in FILE, a store document (for example one shown by\n"
    "'show --xml', or a conflict copy kept by virtckptd), as the newest\n"
    "version of its domain.  libvirt is not touched.",
    1, run_import, true },
};

void
vc_usage_checkpoints (const char *sub)
{
  for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++) {
    const struct subcommand *s = &subcommands[i];
    if (sub && strcmp (sub, s->name) == 0) {
      printf ("Usage: virtckpt [OPTION]... checkpoints %s %s\n\n%s\n",
              s->name, s->args, s->help);
      return;
    }
  }
  printf ("Usage: virtckpt [OPTION]... checkpoints SUBCOMMAND [DOMAIN]\n\n");
  for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
    printf ("  %-9s %s\n", subcommands[i].name, subcommands[i].args);
  printf ("\n'virtckpt checkpoints SUBCOMMAND --help' describes one.\n");
}

int
vc_cmd_checkpoints (const struct vc_options *opts, int argc, char **argv)
{
  const struct subcommand *s = NULL;
  struct vc_store store;
  int ret;

  if (argc == 0) {
    fprintf (stderr, "virtckpt: checkpoints: missing subcommand\n");
    fprintf (stderr, "Try 'virtckpt checkpoints --help'.\n");
    return VC_EXIT_USAGE;
  }
  for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
    if (strcmp (argv[0], subcommands[i].name) == 0)
      s = &subcommands[i];
  if (s == NULL) {
    fprintf (stderr, "virtckpt: checkpoints: unknown subcommand '%s'\n"
             "Try 'virtckpt checkpoints --help'.\n", argv[0]);
    return VC_EXIT_USAGE;
  }
  if (argc - 1 != s->nargs) {
    fprintf (stderr, "virtckpt: checkpoints %s: expected %s\n"
             "Try 'virtckpt checkpoints %s --help'.\n", s->name,
             s->nargs ? "one DOMAIN argument" : "no argument", s->name);
    return VC_EXIT_USAGE;
  }
  if (s->nargs && argv[1][0] == '\0') {
    fprintf (stderr, "virtckpt: checkpoints %s: empty domain name\n", s->name);
    return VC_EXIT_USAGE;
  }

  if (vc_store_open_cli (&store, opts->store_dir, opts->store_explicit,
                         s->writes) == -1)
    return VC_EXIT_ERROR;
  ret = s->run (opts, &store, argv + 1);
  vc_store_close (&store);
  return ret;
}
