/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckpt checkpoints capture|redefine|show|list|forget|import */
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
#include "common/json-writer.h"
#include "libvirt/libvirt-conn.h"
#include "common/log.h"
#include "store/store.h"
#include "common/xml-safe.h"

typedef int store_fn (const struct vc_options *, struct vc_store *, char **);

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
    return res.none_held ? VC_EXIT_NOT_IN_LIBVIRT : VC_EXIT_ERROR;
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

/* --names: the interface of the OCF agent, one name a line, parents
 * first, as "virsh checkpoint-list --name" prints libvirt's; a broken
 * chain is exit status 3, its reason the error message.
 */
static int
print_names (const struct vc_chain *chain)
{
  for (size_t i = 0; i < chain->checkpoints.len; i++)
    printf ("%s\n", chain->checkpoints.ptr[i].name);
  if (!chain->broken)
    return VC_EXIT_OK;
  vc_error ("the checkpoint chain of %s is broken (%s): the next backup "
            "must be full", chain->domain, chain->broken_reason);
  return VC_EXIT_CHAIN_BROKEN;
}

static void
print_chain (const struct vc_chain *chain)
{
  printf ("Domain:      %s\n", chain->domain);
  printf ("UUID:        %s\n", chain->uuid ? chain->uuid : "-");
  printf ("Version:     %" PRIu64 " (node %" PRIu32 ")\n",
          chain->version.generation, chain->version.node);
  print_time ("Updated:     ", chain->updated);
  if (chain->broken) {
    printf ("State:       broken: %s\n", chain->broken_reason);
    print_time ("Broken since: ", chain->broken_since);
  }
  else
    printf ("State:       ok\n");
  printf ("Checkpoints: %zu\n", chain->checkpoints.len);
  for (size_t i = 0; i < chain->checkpoints.len; i++) {
    const struct vc_checkpoint *c = &chain->checkpoints.ptr[i];
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

/* The members a domain has in both checkpoints list and show --json. */
static void
json_chain_state (struct vc_json *j, const struct vc_chain *chain)
{
  vc_json_member_string (j, "domain", chain->domain);
  vc_json_member_string (j, "uuid", chain->uuid);
  vc_json_member_uint (j, "generation", chain->version.generation);
  vc_json_member_uint (j, "node", chain->version.node);
  vc_json_member_int (j, "updated", chain->updated);
  vc_json_member_bool (j, "broken", chain->broken);
  vc_json_member_string (j, "broken_reason", chain->broken ? chain->broken_reason : NULL);
  vc_json_key (j, "broken_since");
  if (chain->broken)
    vc_json_int (j, chain->broken_since);
  else
    vc_json_null (j);
}

static int
show_json (const struct vc_chain *chain)
{
  struct vc_json j;

  vc_json_init (&j, stdout);
  vc_json_begin_object (&j);
  vc_json_member_uint (&j, "version", 1);
  json_chain_state (&j, chain);
  vc_json_key (&j, "checkpoints");
  vc_json_begin_array (&j);
  for (size_t i = 0; i < chain->checkpoints.len; i++) {
    const struct vc_checkpoint *c = &chain->checkpoints.ptr[i];
    vc_json_begin_object (&j);
    vc_json_member_string (&j, "name", c->name);
    vc_json_member_string (&j, "parent", c->parent);
    vc_json_member_int (&j, "created", c->created);
    vc_json_key (&j, "disks");
    vc_json_begin_array (&j);
    for (size_t k = 0; k < c->disks.len; k++) {
      vc_json_begin_object (&j);
      vc_json_member_string (&j, "name", c->disks.ptr[k].name);
      vc_json_member_string (&j, "mode", c->disks.ptr[k].mode);
      vc_json_member_string (&j, "bitmap", c->disks.ptr[k].bitmap);
      vc_json_end_object (&j);
    }
    vc_json_end_array (&j);
    vc_json_end_object (&j);
  }
  vc_json_end_array (&j);
  vc_json_end_object (&j);
  return vc_json_finish (&j);
}

static int
run_show (const struct vc_options *opts, struct vc_store *store, char **argv)
{
  struct vc_chain chain;
  int r, ret = VC_EXIT_OK;

  if (opts->xml + opts->names + opts->json > 1) {
    fprintf (stderr, "virtckpt: checkpoints show: --xml, --names and --json "
             "exclude each other\n");
    return VC_EXIT_USAGE;
  }
  r = vc_store_load (store, argv[0], &chain);
  if (r == 1) {
    vc_error ("no checkpoints stored for '%s'", argv[0]);
    return VC_EXIT_NOT_STORED;
  }
  if (r == -1)
    return VC_EXIT_ERROR;
  if (opts->xml) {
    size_t len;
    CLEANUP_FREE char *doc = vc_document_format (&chain, &len);
    if (doc)
      fwrite (doc, 1, len, stdout);
  }
  else if (opts->names)
    ret = print_names (&chain);
  else if (opts->json) {
    if (show_json (&chain) == -1) {
      vc_error ("cannot write to standard output: %m");
      ret = VC_EXIT_ERROR;
    }
  }
  else
    print_chain (&chain);
  vc_chain_clear (&chain);
  return ret;
}

static void
list_row (struct vc_json *j, const struct vc_chain *chain)
{
  size_t n = chain->checkpoints.len;
  const char *latest = n ? chain->checkpoints.ptr[n - 1].name : NULL;

  if (j == NULL) {
    printf ("%-32s %11zu  %-20s %s\n", chain->domain, n, latest ? latest : "-",
            chain->broken ? "broken" : "ok");
    return;
  }
  vc_json_begin_object (j);
  json_chain_state (j, chain);
  vc_json_member_uint (j, "checkpoint_count", n);
  vc_json_member_string (j, "latest_checkpoint", latest);
  vc_json_end_object (j);
}

/* --check: a broken chain is exit status 3, as for show --names, so that
 * a monitor need not parse the list; a damaged document (1) outranks it.
 */
static int
run_list (const struct vc_options *opts, struct vc_store *store, char **argv)
{
  string_vector names = empty_vector;
  struct vc_json json, *j = opts->json ? &json : NULL;
  int ret = VC_EXIT_OK;
  size_t broken = 0;

  if (vc_store_list (store, &names) == -1)
    return VC_EXIT_ERROR;
  if (j) {
    vc_json_init (j, stdout);
    vc_json_begin_object (j);
    vc_json_member_uint (j, "version", 1);
    vc_json_key (j, "domains");
    vc_json_begin_array (j);
  }
  else if (names.len > 0)
    printf ("%-32s %11s  %-20s %s\n", "DOMAIN", "CHECKPOINTS", "LATEST", "STATE");
  else
    printf ("no domains stored\n");
  for (size_t i = 0; i < names.len; i++) {
    struct vc_chain chain;
    if (vc_store_load (store, names.ptr[i], &chain) != 0) {
      ret = VC_EXIT_ERROR;
      continue;
    }
    list_row (j, &chain);
    if (chain.broken && opts->check) {
      vc_error ("the checkpoint chain of %s is broken (%s): the next backup "
                "must be full", chain.domain, chain.broken_reason);
      broken++;
    }
    vc_chain_clear (&chain);
  }
  vc_string_vector_free (&names);
  if (j) {
    vc_json_end_array (j);
    vc_json_end_object (j);
    if (vc_json_finish (j) == -1) {
      vc_error ("cannot write to standard output: %m");
      return VC_EXIT_ERROR;
    }
  }
  return ret == VC_EXIT_OK && broken ? VC_EXIT_CHAIN_BROKEN : ret;
}

/* Drops the chain from a loaded document, leaving the rest. */
static void
drop_chain (struct vc_chain *chain)
{
  for (size_t i = 0; i < chain->checkpoints.len; i++)
    vc_checkpoint_clear (&chain->checkpoints.ptr[i]);
  vc_checkpoint_vector_reset (&chain->checkpoints);
  chain->broken = false;
  free (chain->broken_reason);
  chain->broken_reason = NULL;
  chain->broken_since = 0;
}

/* The document keeps what is not the chain (a schedule): then only the
 * checkpoints go and the rest is written back as a new version; when
 * nothing else is left, the document goes (a tombstone in a cluster).
 */
static int
run_forget (const struct vc_options *opts, struct vc_store *store, char **argv)
{
  struct vc_chain chain;
  bool kept = false;
  int r;

  if (store->dirfd == -1 && store->daemon == NULL) {
    vc_error ("no checkpoints stored for '%s'", argv[0]);
    return VC_EXIT_NOT_STORED;
  }
  if (vc_store_lock (store) == -1)
    return VC_EXIT_ERROR;
  /* A document that cannot be read is removed whole, as it always was:
   * forget is how a damaged one is cleared.
   */
  r = vc_store_load_quiet (store, argv[0], &chain);
  if (r == -1)
    r = vc_store_remove (store, argv[0]);
  else if (r == 0) {
    bool had = chain.checkpoints.len > 0;
    drop_chain (&chain);
    kept = !vc_chain_holds_nothing (&chain);
    if (!had && kept)
      r = 1;                    /* a schedule only: no chain to forget */
    else if (kept) {
      chain.version.generation++;
      chain.updated = time (NULL);
      r = vc_store_save (store, &chain);
    }
    else
      r = vc_store_remove (store, argv[0]);
    vc_chain_clear (&chain);
  }
  switch (r) {
  case 0:
    vc_notice ("forgot the checkpoints of %s%s", argv[0],
               kept ? " (its schedule is kept)" : "");
    return VC_EXIT_OK;
  case 1:
    vc_error ("no checkpoints stored for '%s'", argv[0]);
    return VC_EXIT_NOT_STORED;
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
  /* The copy's base was its holder's: this write is made on top of the
   * version it replaces here, whose base it keeps.
   */
  chain.version.base_generation = r == 0 ? old.version.base_generation : 0;
  chain.version.base_node = r == 0 ? old.version.base_node : 0;
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

/* Checks the arguments of checkpoints NAME (none, or one ARG), opens the
 * store (creating it if the command writes) and runs fn.
 */
static int
with_store (const struct vc_options *opts, const char *name, const char *arg,
            int argc, char **argv, bool writes, store_fn *fn)
{
  struct vc_store store;
  int nargs = arg ? 1 : 0, ret;

  if (argc != nargs) {
    fprintf (stderr, "virtckpt: checkpoints %s: expected %s%s%s\n"
             "Try 'virtckpt checkpoints %s --help'.\n", name,
             arg ? "one " : "no argument", arg ? arg : "", arg ? " argument" : "",
             name);
    return VC_EXIT_USAGE;
  }
  if (nargs && argv[0][0] == '\0') {
    fprintf (stderr, "virtckpt: checkpoints %s: empty %s\n", name,
             strcmp (arg, "DOMAIN") == 0 ? "domain name" : "file name");
    return VC_EXIT_USAGE;
  }
  ret = vc_store_open_cli (&store, opts->store_dir, opts->store_explicit,
                           writes);
  if (ret < 0)
    return vc_store_open_exit_code (ret);
  ret = fn (opts, &store, argv);
  vc_store_close (&store);
  return ret;
}

int
vc_cmd_capture (const struct vc_options *o, int argc, char **argv)
{
  return with_store (o, "capture", "DOMAIN", argc, argv, true, run_capture);
}

int
vc_cmd_redefine (const struct vc_options *o, int argc, char **argv)
{
  return with_store (o, "redefine", "DOMAIN", argc, argv, false, run_redefine);
}

int
vc_cmd_show (const struct vc_options *o, int argc, char **argv)
{
  return with_store (o, "show", "DOMAIN", argc, argv, false, run_show);
}

int
vc_cmd_list_domains (const struct vc_options *o, int argc, char **argv)
{
  return with_store (o, "list", NULL, argc, argv, false, run_list);
}

int
vc_cmd_forget (const struct vc_options *o, int argc, char **argv)
{
  return with_store (o, "forget", "DOMAIN", argc, argv, false, run_forget);
}

int
vc_cmd_import (const struct vc_options *o, int argc, char **argv)
{
  return with_store (o, "import", "FILE", argc, argv, true, run_import);
}
