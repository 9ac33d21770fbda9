/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckpt: keeps libvirt checkpoint chains alive across hosts. */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "common/cleanup.h"
#include "common/exit-codes.h"
#include "common/log.h"
#include "common/size.h"
#include "common/vc-strings.h"

/* The command table: dispatch and every help text come from it, so that
 * a command cannot exist without its help, nor the help list a command
 * that is gone.
 */
static const struct vc_command checkpoints_commands[] = {
  { "capture", "DOMAIN", "record libvirt's checkpoints of DOMAIN", NULL,
    "Record libvirt's current checkpoint chain of DOMAIN in the store;\n"
    "checkpoints deleted in libvirt are deleted from the store.  Refuses to\n"
    "replace a stored chain of which libvirt holds none (run redefine first)\n"
    "unless --force: exit status 5.\n",
    vc_cmd_capture, NULL, "force" },
  { "redefine", "DOMAIN", "redefine stored checkpoints libvirt lacks", NULL,
    "Redefine in libvirt, parent first, every stored checkpoint of the running\n"
    "DOMAIN that libvirt lacks: all of them or none.  Checkpoints libvirt\n"
    "already has, or that are not in the store, are left alone.  Exits 3 when\n"
    "a bitmap is missing or inconsistent: the chain is then marked broken and\n"
    "the next backup must be full.  Exits 6 when virtckptd here is not synced.\n",
    vc_cmd_redefine, NULL, "" },
  { "show", "DOMAIN", "show the stored chain of DOMAIN",
    "[--xml | --names | --json] DOMAIN",
    "Show the stored chain of DOMAIN (--xml: the store document; --names: the\n"
    "checkpoint names, one a line, parents first, and exit status 3 when the\n"
    "chain is broken; --json: a JSON document).  Exits 4 when nothing is\n"
    "stored for DOMAIN.\n",
    vc_cmd_show, NULL, "xml names json" },
  { "list", "", "list the domains in the store", "[--check] [--json]",
    "List the domains in the store with their chain length and state, or\n"
    "\"no domains stored\".\n"
    "\n"
    "      --check   exit 3 when the chain of any domain is broken\n"
    "      --json    a JSON document (virtckpt(8), JSON OUTPUT)\n",
    vc_cmd_list_domains, NULL, "check json" },
  { "forget", "DOMAIN", "delete the stored chain of DOMAIN", NULL,
    "Delete the stored chain of DOMAIN.  libvirt is not touched; a schedule of\n"
    "DOMAIN is kept.  Exits 4 when no checkpoint is stored for DOMAIN.\n",
    vc_cmd_forget, NULL, "" },
  { "import", "FILE", "store the chain in FILE (a store document)", NULL,
    "Store the chain in FILE, a store document (for example one shown by\n"
    "'show --xml', or a conflict copy kept by virtckptd), as the newest\n"
    "version of its domain.  libvirt is not touched.\n",
    vc_cmd_import, NULL, "" },
  { NULL },
};

static const struct vc_command schedule_commands[] = {
  { "set", "DOMAIN -o DIR", "back up DOMAIN on a schedule",
    "DOMAIN -o DIR --every DURATION [--full-every DURATION]\n"
    "                [--keep-last N] [--keep-daily N] [--keep-weekly N]\n"
    "                [--keep-monthly N]",
    "Store a backup schedule for DOMAIN (replacing its schedule, if any) in\n"
    "its store document: it replicates to every node as its chain does.  A\n"
    "backup is due once in every window of DURATION (windows are multiples\n"
    "of DURATION since the epoch, the same on every node); windows missed are\n"
    "caught up once.  DURATION: 90s, 15m, 4h, 1d, 2w, 1h30m, or seconds.\n"
    "\n"
    "  -o, --output=DIR         backup directory: an absolute path (relative\n"
    "                           paths are refused: every node reads it)\n"
    "      --every=DURATION     one backup per DURATION (1s to 3660d)\n"
    "      --full-every=DURATION  a full backup once the last full is this\n"
    "                           old (at least --every; default: a full only\n"
    "                           when the chain needs one)\n"
    "      --keep-last=N, --keep-daily=N, --keep-weekly=N, --keep-monthly=N\n"
    "                           retention (1 to 100000 each; default: keep all)\n",
    vc_cmd_schedule_set, NULL,
    "output every full-every keep-last keep-daily keep-weekly keep-monthly" },
  { "show", "DOMAIN", "show the schedule of DOMAIN and when it is due",
    "[--json] DOMAIN",
    "Show the schedule of DOMAIN and when its next backup is due, as this node\n"
    "sees the backup directory (--json: a JSON document).  Exits 4 when DOMAIN\n"
    "has no schedule.\n",
    vc_cmd_schedule_show, NULL, "json" },
  { "list", "", "list the schedules", "[--json]",
    "List every scheduled domain: its period, full period, retention, when the\n"
    "next backup is due and its directory, or \"no schedules\" (--json: a\n"
    "JSON document).\n",
    vc_cmd_schedule_list, NULL, "json" },
  { "remove", "DOMAIN", "delete the schedule of DOMAIN", NULL,
    "Delete the schedule of DOMAIN; its checkpoints and backups are not\n"
    "touched.  Exits 4 when DOMAIN has no schedule.\n",
    vc_cmd_schedule_remove, NULL, "" },
  { "run", "[DOMAIN]...", "run the due backups of domains running here",
    "[DOMAIN]...",
    "For a host without a cluster (the virtckpt-schedule.timer runs it every\n"
    "minute): back up, one after the other, each scheduled domain (or each\n"
    "DOMAIN given) that runs on this host and is due, as 'virtckpt backup'\n"
    "does (--level full when a full is due, else auto).  One line per\n"
    "domain on standard output.  Runs on one host wait for each other.\n"
    "Exit status 1 when any backup failed, or a DOMAIN given has no schedule.\n",
    vc_cmd_schedule_run, NULL, "" },
  { NULL },
};

static const struct vc_command commands[] = {
  { "checkpoints", "SUBCOMMAND", "the stored checkpoint chains", "SUBCOMMAND [DOMAIN]",
    NULL, NULL, checkpoints_commands, NULL },
  { "schedule", "SUBCOMMAND", "backup schedules", "SUBCOMMAND [DOMAIN]",
    NULL, NULL, schedule_commands, NULL },
  { "backup", "DOMAIN -o DIR",
    "back up DOMAIN (--level full|inc|diff|copy|auto)",
    "DOMAIN -o DIR [--level LEVEL]\n"
    "                [--disk NAME]... [--exclude NAME]... [--json]\n"
    "                [--offline] [--config FILE]",
    "Back up the running DOMAIN into DIR through a libvirt pull-mode backup.\n"
    "Each disk becomes a qcow2 image; an incremental or differential is an\n"
    "overlay whose backing file is the previous link of its chain.  A DOMAIN\n"
    "that does not run here is backed up offline: qemu-storage-daemon exports\n"
    "its qcow2 images, locked against a start meanwhile.\n"
    "\n"
    "  -o, --output=DIR      backup directory (one domain per directory)\n"
    "  -l, --level=LEVEL     full: start a new chain; inc: changes since the last\n"
    "                        backup; diff: changes since the chain's full backup;\n"
    "                        copy: a standalone full copy, no checkpoint;\n"
    "                        auto (default): full when the chain is unusable,\n"
    "                        else inc\n"
    "      --disk=NAME       back up only this disk (repeatable)\n"
    "      --exclude=NAME    skip this disk (repeatable)\n"
    "      --checksum=ALGO   xxh128 (default; xxhsum -H2) or sha256 (sha256sum)\n"
    "      --connections=N   NBD connections per disk, used when QEMU allows\n"
    "                        multi-conn (default 1)\n"
    "      --in-flight=N     NBD reads in flight (default 64)\n"
    "      --request-size=B  bytes per read (64K, 1M, 2MiB...), a multiple of\n"
    "                        64 KiB (default 256 KiB); in-flight x request size\n"
    "                        is capped at 40 MiB\n"
    "      --max-rate=RATE   read at most RATE bytes per second over NBD, all\n"
    "                        disks together (8M, 100MiB...; default: no limit)\n"
    "      --rundir=DIR      NBD sockets, scratch files, locks (" RUN_DIR ")\n"
    "      --no-progress     no progress line, even on a terminal\n"
    "      --json            at the end, the backup made as a JSON document\n"
    "      --offline         read the images offline; refused while DOMAIN runs\n"
    "                        here (the default when it does not run here)\n"
    "      --config=FILE     offline: the domain XML to take the disks from\n"
    "                        (default: libvirt's definition, else the newest\n"
    "                        stored checkpoint)\n"
    "\n"
    "Exit status 3: an inc or diff was asked for but the chain is broken;\n"
    "a full backup is needed.\n",
    vc_cmd_backup, NULL, "output level disk exclude connections request-size in-flight max-rate checksum no-progress json offline config" },
  { "restore", "DIR -o OUTDIR", "rebuild the disks of a backup (--until BACKUP)",
    "DIR -o OUTDIR [--until BACKUP]\n"
    "                [--disk NAME]... [--format qcow2|raw] [--instant]",
    "Rebuild each disk, as it was at BACKUP (an id, a checkpoint name or a\n"
    "backup directory name; default: the newest), as a standalone image\n"
    "OUTDIR/DISK.qcow2 (or .raw), mode 0600.  OUTDIR must not exist or be\n"
    "empty; it appears complete or not at all.  Each link of the chain is\n"
    "read once, in order, its checksum verified as it streams (unless\n"
    "--no-verify); image headers and tables are always checked, and only the\n"
    "chain the manifest names is ever read.\n"
    "\n"
    "With -o DEVICE (a block device) and --format raw, one disk is written\n"
    "onto the device, its first MiB last: a failed restore leaves it zeroed.\n"
    "\n"
    "      --instant       no copy: OUTDIR/DISK.qcow2 is an overlay on the\n"
    "                      backup's own chain (checked, checksums not verified),\n"
    "                      and OUTDIR/DISK.xml its libvirt <disk>; a VM can boot\n"
    "                      from it at once (virsh blockcopy --pivot moves it)\n"
    "      --no-verify     do not verify the checksums\n"
    "      --no-progress   no progress line, even on a terminal\n",
    vc_cmd_restore, NULL, "output until disk format no-verify no-progress instant" },
  { "verify", "DIR", "check every backup file against the manifest",
    "[--json] DIR",
    "Check every file of every backup in DIR against the manifest (size,\n"
    "checksum, qcow2 header, backing links).  Exits 1 on any mismatch.\n"
    "--json: the result as a JSON document (the problems on stderr).\n",
    vc_cmd_verify, NULL, "json" },
  { "list", "DIR", "show the backups in DIR", "[--json] DIR",
    "Show the backups in DIR, oldest first (or \"no backups\").  --json: as a\n"
    "JSON document.\n",
    vc_cmd_list, NULL, "json" },
  { "prune", "DIR --keep-last N", "remove old backups, merging what kept ones need",
    "DIR [--keep-last N] [--keep-daily N] [--keep-weekly N]\n"
    "                [--keep-monthly N] [--dry-run] [--json]",
    "Remove the backups of DIR that no --keep rule keeps (at least one rule\n"
    "is needed).  A kept incremental whose parent is removed gets the removed\n"
    "backups' data folded into it; with nothing kept below it, it becomes a\n"
    "standalone synthetic full.  The newest backup of the chain (what the\n"
    "next incremental needs) and an interrupted backup's .partial-* data are\n"
    "always kept.  Changes are written aside, committed by the manifest, and\n"
    "a prune that is killed is completed or rolled back by the next prune or\n"
    "backup.\n"
    "\n"
    "      --keep-last=N     the N newest backups\n"
    "      --keep-daily=N    the newest backup of each of the N last days\n"
    "                        (UTC) that have backups\n"
    "      --keep-weekly=N   the same for ISO weeks\n"
    "      --keep-monthly=N  the same for months\n"
    "      --dry-run         only print what would be kept, removed, merged\n"
    "      --json            the result as a JSON document\n"
    "      --no-progress     no progress line, even on a terminal\n"
    "\n"
    "Exit status 9 when a backup or another prune writes to DIR (nothing\n"
    "changed); 1 on an error (nothing pruned unless the message says so).\n",
    vc_cmd_prune, NULL, "keep-last keep-daily keep-weekly keep-monthly dry-run json "
    "no-progress" },
  { "status", "[--wait-synced SECS | --domains | DOMAIN...]",
    "virtckptd's view of the cluster, or the domains' backup health",
    "[--wait-synced SECONDS] [--json]\n"
    "       virtckpt [OPTION]... status --domains | DOMAIN... [--check]\n"
    "                [--json | --attribute]",
    "Show what virtckptd on this node knows: members, quorum, epoch, whether it\n"
    "is synced, domains, checkpoints, conflicts, the last error, as \"KEY: VALUE\"\n"
    "lines (--json: a JSON document).  With --wait-synced, wait up to SECONDS\n"
    "for it to be synced, and exit 6 if it is not.  Exits 7 when no virtckptd\n"
    "runs on this node.\n"
    "\n"
    "With --domains (every stored domain) or DOMAIN..., show each domain's\n"
    "last backup (time, level, result, node), its last ok backup and its state:\n"
    "ok, never (no backup recorded), interrupted, overdue, broken (the next\n"
    "backup is full) or failed.  Read from the store: no daemon needed.\n"
    "      --check       exit 9 when a domain is failed, broken or overdue\n"
    "      --attribute   one short line per domain: STATE [LAST-OK LEVEL]\n"
    "Exits 4 when nothing is stored for a DOMAIN.\n",
    vc_cmd_status, NULL, "wait-synced json domains check attribute" },
  { "cancel", "DOMAIN", "end a running backup of DOMAIN on this host",
    "DOMAIN [--grace SECS] [--wait SECS]\n"
    "                [--hold SECS | --release]",
    "End the virtckpt backup of DOMAIN running on this host: it gets SIGTERM\n"
    "(and SIGCONT), ends its libvirt job, removes its partial files and its\n"
    "checkpoint, and commits nothing.  A backup job left by a killed virtckpt\n"
    "is ended too; a job another tool started is reported, not touched.  The\n"
    "OCF agent runs this before Pacemaker migrates or stops the domain: a\n"
    "running backup job blocks a live migration.\n"
    "\n"
    "      --grace=SECS  first let a running backup finish for up to SECS\n"
    "      --wait=SECS   wait up to SECS for the cancelled backup to end\n"
    "                    (default 60)\n"
    "      --hold=SECS   refuse new backups of DOMAIN on this host for SECS\n"
    "      --release     end such a hold\n"
    "\n"
    "Only the process that the kernel shows holding the domain's run lock,\n"
    "with the start time it recorded, is signalled.\n"
    "Exit status 0 when no virtckpt backup of DOMAIN runs any more (there was\n"
    "none, it finished, or it was cancelled); 1 when it did not end in time,\n"
    "or the lock names a process that cannot be verified.\n",
    vc_cmd_cancel, NULL, "grace wait hold release" },
  { "thaw", "DOMAIN", "thaw a guest a killed virtckpt left frozen",
    "[--force] DOMAIN",
    "Thaw the filesystems of DOMAIN (guest agent) if a virtckpt backup froze\n"
    "them and was killed before it could thaw them: a backup writes\n"
    "RUNDIR/NAME.frozen before it freezes and removes it once thawed.  A\n"
    "freeze made by another tool (no such file) is left alone, unless\n"
    "--force.  Every backup does this first too, and the OCF agent at start\n"
    "and monitor.  Does nothing while a backup of DOMAIN runs (it thaws what\n"
    "it froze) or when DOMAIN does not run.\n"
    "\n"
    "  -f, --force       thaw even if no virtckpt froze DOMAIN\n"
    "\n"
    "Exit status 0 when thawed or nothing to thaw; 1 when the guest agent\n"
    "did not thaw (the file is kept: run it again).\n",
    vc_cmd_thaw, NULL, "force" },
  { NULL },
};

static const struct vc_command *
find_command (const struct vc_command *table, const char *name)
{
  for (; table->name; table++)
    if (strcmp (table->name, name) == 0)
      return table;
  return NULL;
}

/* One line of the command list: "  NAME ARGS" padded, then the summary. */
static void
list_command (FILE *fp, const char *parent, const struct vc_command *c)
{
  char words[128];

  snprintf (words, sizeof words, "%s%s%s%s%s", parent ? parent : "",
            parent ? " " : "", c->name, *c->args ? " " : "", c->args);
  fprintf (fp, "  %-28s %s\n", words, c->summary);
}

static void
usage_main (FILE *fp)
{
  fprintf (fp,
"Usage: virtckpt [OPTION]... COMMAND [ARG]...\n"
"Keep libvirt checkpoint chains (and so incremental backups) alive when a\n"
"domain is re-created or moves to another host.\n"
"\n"
"Commands:\n");
  for (const struct vc_command *c = commands; c->name; c++) {
    if (c->subcommands == NULL)
      list_command (fp, NULL, c);
    for (const struct vc_command *s = c->subcommands; s && s->name; s++)
      list_command (fp, c->name, s);
  }
  fprintf (fp,
"\n"
"Options:\n"
"  -c, --connect=URI   libvirt URI (default: libvirt's own)\n"
"  -s, --store=DIR     checkpoint store (default: %s, or $VIRTCKPT_STORE)\n"
"  -f, --force         capture: replace a stored chain libvirt does not hold;\n"
"                      thaw: thaw even if no virtckpt froze the guest\n"
"      --xml           show: print the store document as XML\n"
"      --names         show: print the checkpoint names, one a line\n"
"  -o, --output=DIR    backup: backup directory; restore: output directory\n"
"  -l, --level=LEVEL   backup level (default auto)\n"
"      --disk=NAME     only this disk (repeatable)\n"
"      --exclude=NAME  backup: skip this disk (repeatable)\n"
"      --until=BACKUP  restore: the backup (id or checkpoint) to restore\n"
"      --format=FMT    restore: qcow2 (default) or raw\n"
"      --no-verify     restore: do not verify checksums\n"
"      --json          list, checkpoints list|show, schedule list|show, status,\n"
"                      verify, backup: one JSON document on stdout\n"
"                      (virtckpt(8), JSON OUTPUT)\n"
"      --check         checkpoints list: exit 3 when a chain is broken;\n"
"                      status: exit 10 when a domain's backups are not healthy\n"
"      --every=DURATION  schedule set: one backup per DURATION (15m, 1d...)\n"
"  -v, --verbose       say more; twice for debugging\n"
"  -q, --quiet         print errors only\n"
"  -h, --help          show this help (also after a command)\n"
"  -V, --version       show the version\n"
"\n"
"Exit status: 0 success, 1 error, 2 usage error, 3 the checkpoint chain is\n"
"broken and the next backup must be full, 4 nothing stored for the domain,\n"
"5 libvirt holds none of the stored checkpoints, 6 virtckptd is not synced,\n"
"7 no virtckptd runs on this node, 8 no trustworthy daemon (what answers as\n"
"virtckptd is not root's; no store was used), 9 the backup directory is\n"
"in use by another virtckpt (prune), 10 a domain's backups are not healthy\n"
"(status --check).\n"
"See virtckpt(8).\n", STORE_DIR);
  fprintf (fp, "Report bugs to: %s\n", PACKAGE_BUGREPORT);
}

/* virtckpt [PARENT] NAME --help */
static void
usage_command (const char *parent, const struct vc_command *c)
{
  printf ("Usage: virtckpt [OPTION]... %s%s%s %s\n", parent ? parent : "",
          parent ? " " : "", c->name, c->synopsis ? c->synopsis : c->args);
  if (c->help)
    printf ("\n%s", c->help);
  if (c->subcommands) {
    printf ("\n");
    for (const struct vc_command *s = c->subcommands; s->name; s++)
      list_command (stdout, NULL, s);
    printf ("\n'virtckpt %s SUBCOMMAND --help' describes one.\n", c->name);
  }
}

/* --max-rate: bytes per second (8M, 100MiB...), at least 64 KiB. */
static int
parse_rate (const char *arg, uint64_t *out)
{
  uint64_t v;

  if (vc_parse_size (arg, &v) == -1 || v < 65536) {
    fprintf (stderr, "virtckpt: bad value '%s' for --max-rate (bytes per "
             "second, at least 64K: 65536, 8M, 100MiB...)\n", arg);
    return VC_EXIT_USAGE;
  }
  *out = v;
  return 0;
}

/* --request-size: bytes, or with a suffix (64K, 1M, 2MiB). */
static int
parse_request_size (const char *arg, struct vc_options *o)
{
  uint64_t v;

  if (vc_parse_size (arg, &v) == -1 || v == 0 || v % 65536 ||
      v > 32 * 1024 * 1024) {
    fprintf (stderr, "virtckpt: bad value '%s' for --request-size (a multiple "
             "of 64 KiB, at most 32 MiB: 65536, 64K, 1M, 2MiB...)\n", arg);
    return VC_EXIT_USAGE;
  }
  o->request_size = v;
  return 0;
}

/* The numeric options.  Returns 0, or VC_EXIT_USAGE (said). */
static int
parse_number (int c, const char *arg, struct vc_options *o)
{
  char *end;
  unsigned long v = strtoul (arg, &end, 10);
  bool digits = *arg >= '0' && *arg <= '9' && *end == '\0';

  switch (c) {
  case VC_OPT_REQUEST_SIZE:
    return parse_request_size (arg, o);
  case VC_OPT_CONNECTIONS:
  case VC_OPT_IN_FLIGHT:
    if (!digits || v == 0 || v > UINT32_MAX ||
        (c == VC_OPT_CONNECTIONS && v > 8) || (c == VC_OPT_IN_FLIGHT && v > 256)) {
      fprintf (stderr, "virtckpt: bad value '%s' for --%s\n", arg,
               c == VC_OPT_CONNECTIONS ? "connections (1-8)" : "in-flight (1-256)");
      return VC_EXIT_USAGE;
    }
    if (c == VC_OPT_CONNECTIONS) o->connections = v;
    else o->in_flight = v;
    return 0;
  default:
    if (!digits || v > 86400) {
      fprintf (stderr, "virtckpt: bad value '%s' for --%s (seconds, at most 86400)\n",
               arg, c == VC_OPT_WAIT_SYNCED ? "wait-synced" : c == VC_OPT_GRACE ? "grace"
               : c == VC_OPT_WAIT ? "wait" : "hold");
      return VC_EXIT_USAGE;
    }
    if (c == VC_OPT_WAIT_SYNCED) o->wait_synced = v;
    else if (c == VC_OPT_GRACE) o->grace = v;
    else if (c == VC_OPT_WAIT) o->wait = v;
    else o->hold = v;
    return 0;
  }
}

static const struct option long_options[] = {
  { "connect", required_argument, NULL, 'c' },
  { "store", required_argument, NULL, 's' },
  { "force", no_argument, NULL, 'f' },
  { "xml", no_argument, NULL, VC_OPT_XML },
  { "names", no_argument, NULL, VC_OPT_NAMES },
  { "output", required_argument, NULL, 'o' },
  { "level", required_argument, NULL, 'l' },
  { "disk", required_argument, NULL, VC_OPT_DISK },
  { "exclude", required_argument, NULL, VC_OPT_EXCLUDE },
  { "until", required_argument, NULL, VC_OPT_UNTIL },
  { "format", required_argument, NULL, VC_OPT_FORMAT },
  { "connections", required_argument, NULL, VC_OPT_CONNECTIONS },
  { "request-size", required_argument, NULL, VC_OPT_REQUEST_SIZE },
  { "in-flight", required_argument, NULL, VC_OPT_IN_FLIGHT },
  { "max-rate", required_argument, NULL, VC_OPT_MAX_RATE },
  { "no-verify", no_argument, NULL, VC_OPT_NO_VERIFY },
  { "no-progress", no_argument, NULL, VC_OPT_NO_PROGRESS },
  { "rundir", required_argument, NULL, VC_OPT_RUNDIR },
  { "wait-synced", required_argument, NULL, VC_OPT_WAIT_SYNCED },
  { "checksum", required_argument, NULL, VC_OPT_CHECKSUM },
  { "grace", required_argument, NULL, VC_OPT_GRACE },
  { "wait", required_argument, NULL, VC_OPT_WAIT },
  { "hold", required_argument, NULL, VC_OPT_HOLD },
  { "release", no_argument, NULL, VC_OPT_RELEASE },
  { "json", no_argument, NULL, VC_OPT_JSON },
  { "check", no_argument, NULL, VC_OPT_CHECK },
  { "instant", no_argument, NULL, VC_OPT_INSTANT },
  { "every", required_argument, NULL, VC_OPT_EVERY },
  { "full-every", required_argument, NULL, VC_OPT_FULL_EVERY },
  { "keep-last", required_argument, NULL, VC_OPT_KEEP_LAST },
  { "keep-daily", required_argument, NULL, VC_OPT_KEEP_DAILY },
  { "keep-weekly", required_argument, NULL, VC_OPT_KEEP_WEEKLY },
  { "keep-monthly", required_argument, NULL, VC_OPT_KEEP_MONTHLY },
  { "dry-run", no_argument, NULL, VC_OPT_DRY_RUN },
  { "domains", no_argument, NULL, VC_OPT_DOMAINS },
  { "attribute", no_argument, NULL, VC_OPT_ATTRIBUTE },
  { "offline", no_argument, NULL, VC_OPT_OFFLINE },
  { "config", required_argument, NULL, VC_OPT_CONFIG },
  { "verbose", no_argument, NULL, 'v' },
  { "quiet", no_argument, NULL, 'q' },
  { "help", no_argument, NULL, 'h' },
  { "version", no_argument, NULL, 'V' },
  { NULL, 0, NULL, 0 },
};

/* Options given, by getopt's code (a short option's letter or VC_OPT_*). */
static bool given[VC_OPT_END];

/* Parses the options into o.  Returns -1 to go on, or the exit status. */
static int
parse_options (int argc, char **argv, struct vc_options *o, bool *help)
{
  bool quiet = false;
  int c;

  while ((c = getopt_long (argc, argv, "c:s:fo:l:vqhV", long_options, NULL)) != -1) {
    if (c >= 0 && c < VC_OPT_END)
      given[c] = true;
    switch (c) {
    case 'c': o->uri = optarg; break;
    case 's': o->store_dir = optarg; o->store_explicit = true; break;
    case 'f': o->force = true; break;
    case VC_OPT_XML: o->xml = true; break;
    case VC_OPT_NAMES: o->names = true; break;
    case 'o': o->output = optarg; break;
    case 'l': o->level = optarg; break;
    case VC_OPT_DISK:
    case VC_OPT_EXCLUDE: {
      char *d = strdup (optarg);
      if (d == NULL ||
          string_vector_append (c == VC_OPT_DISK ? &o->disks : &o->excludes, d) == -1) {
        perror ("virtckpt");
        return VC_EXIT_ERROR;
      }
      break;
    }
    case VC_OPT_UNTIL: o->until = optarg; break;
    case VC_OPT_FORMAT: o->format = optarg; break;
    case VC_OPT_CONNECTIONS: case VC_OPT_REQUEST_SIZE: case VC_OPT_IN_FLIGHT:
    case VC_OPT_WAIT_SYNCED: case VC_OPT_GRACE: case VC_OPT_WAIT: case VC_OPT_HOLD:
      if (parse_number (c, optarg, o) != 0)
        return VC_EXIT_USAGE;
      break;
    case VC_OPT_MAX_RATE:
      if (parse_rate (optarg, &o->max_rate) != 0)
        return VC_EXIT_USAGE;
      break;
    case VC_OPT_NO_VERIFY: o->no_verify = true; break;
    case VC_OPT_NO_PROGRESS: o->no_progress = true; break;
    case VC_OPT_RUNDIR: o->rundir = optarg; break;
    case VC_OPT_CHECKSUM: o->checksum = optarg; break;
    case VC_OPT_RELEASE: o->release = true; break;
    case VC_OPT_JSON: o->json = true; break;
    case VC_OPT_CHECK: o->check = true; break;
    case VC_OPT_INSTANT: o->instant = true; break;
    case VC_OPT_EVERY: o->every = optarg; break;
    case VC_OPT_FULL_EVERY: o->full_every = optarg; break;
    case VC_OPT_KEEP_LAST: o->keep_last = optarg; break;
    case VC_OPT_KEEP_DAILY: o->keep_daily = optarg; break;
    case VC_OPT_KEEP_WEEKLY: o->keep_weekly = optarg; break;
    case VC_OPT_KEEP_MONTHLY: o->keep_monthly = optarg; break;
    case VC_OPT_DRY_RUN: o->dry_run = true; break;
    case VC_OPT_DOMAINS: o->domains = true; break;
    case VC_OPT_ATTRIBUTE: o->attribute = true; break;
    case VC_OPT_OFFLINE: o->offline = true; break;
    case VC_OPT_CONFIG: o->config = optarg; break;
    case 'v': o->verbosity++; break;
    case 'q': quiet = true; break;
    case 'h': *help = true; break;
    case 'V':
      printf ("virtckpt %s\n", PACKAGE_VERSION);
      return VC_EXIT_OK;
    default:
      fprintf (stderr, "Try 'virtckpt --help'.\n");
      return VC_EXIT_USAGE;
    }
  }
  if (quiet)
    o->verbosity = -1;
  return -1;
}

/* Finds the entry of argv[0] (and of its subcommand), or prints the
 * usage error and returns NULL.  *skip: the words the command took.
 */
static const struct vc_command *
find_handler (int argc, char **argv, int *skip)
{
  const struct vc_command *c = find_command (commands, argv[0]), *s;

  if (c == NULL) {
    fprintf (stderr, "virtckpt: unknown command '%s'\nTry 'virtckpt --help'.\n",
             argv[0]);
    return NULL;
  }
  *skip = 1;
  if (c->subcommands == NULL)
    return c;
  if (argc < 2) {
    fprintf (stderr, "virtckpt: %s: missing subcommand\n"
             "Try 'virtckpt %s --help'.\n", c->name, c->name);
    return NULL;
  }
  s = find_command (c->subcommands, argv[1]);
  if (s == NULL) {
    fprintf (stderr, "virtckpt: %s: unknown subcommand '%s'\n"
             "Try 'virtckpt %s --help'.\n", c->name, argv[1], c->name);
    return NULL;
  }
  *skip = 2;
  return s;
}

static const char *
option_name (int code)
{
  for (const struct option *l = long_options; l->name; l++)
    if (l->val == code)
      return l->name;
  return "?";
}

/* An option the command does not take is refused, not ignored: a
 * script that passes one believes it had an effect.
 */
static int
check_options (const struct vc_command *c, const char *words)
{
  static const char common[] = " connect store rundir verbose quiet help version ";

  for (int code = 0; code < VC_OPT_END; code++) {
    CLEANUP_FREE char *name = NULL;
    CLEANUP_FREE char *takes = NULL;

    if (!given[code])
      continue;
    name = vc_printf (" %s ", option_name (code));
    takes = vc_printf (" %s ", c->options ? c->options : "");
    if (name == NULL || takes == NULL) {
      perror ("virtckpt");
      return VC_EXIT_ERROR;
    }
    if (strstr (common, name) == NULL && strstr (takes, name) == NULL) {
      fprintf (stderr, "virtckpt: %s does not take --%s\n"
               "Try 'virtckpt %s --help'.\n", words, option_name (code), words);
      return VC_EXIT_USAGE;
    }
  }
  return 0;
}

/* virtckpt [SUB]COMMAND --help; an unknown subcommand gets its command's. */
static int
help_for (int argc, char **argv)
{
  const struct vc_command *c = find_command (commands, argv[0]), *s = NULL;

  if (c == NULL) {
    fprintf (stderr, "virtckpt: unknown command '%s'\nTry 'virtckpt --help'.\n",
             argv[0]);
    return VC_EXIT_USAGE;
  }
  if (c->subcommands && argc > 1)
    s = find_command (c->subcommands, argv[1]);
  if (s)
    usage_command (c->name, s);
  else
    usage_command (NULL, c);
  return VC_EXIT_OK;
}

int
main (int argc, char **argv)
{
  struct vc_options opts = { .store_dir = getenv ("VIRTCKPT_STORE"),
                            .rundir = getenv ("VIRTCKPT_RUNDIR"),
                            .wait = 60, .hold = -1 };
  bool help = false;
  const struct vc_command *command;
  char *words;
  int ret, skip;

  if (opts.store_dir == NULL || *opts.store_dir == '\0')
    opts.store_dir = STORE_DIR;
  else
    opts.store_explicit = true;
  if (opts.rundir == NULL || *opts.rundir == '\0')
    opts.rundir = RUN_DIR;
  opts.uri = getenv ("LIBVIRT_DEFAULT_URI");

  ret = parse_options (argc, argv, &opts, &help);
  if (ret != -1)
    return ret;
  argc -= optind;
  argv += optind;
  if (argc == 0 || strcmp (argv[0], "help") == 0) {
    if (help || argc > 0) {
      usage_main (stdout);
      return VC_EXIT_OK;
    }
    usage_main (stderr);
    return VC_EXIT_USAGE;
  }
  if (help)
    return help_for (argc, argv);
  command = find_handler (argc, argv, &skip);
  if (command == NULL)
    return VC_EXIT_USAGE;
  words = vc_printf ("%s%s%s", argv[0], skip == 2 ? " " : "", skip == 2 ? argv[1] : "");
  ret = words ? check_options (command, words) : VC_EXIT_ERROR;
  free (words);
  if (ret != 0)
    return ret;

  vc_log_init ("virtckpt", opts.verbosity);
  ret = command->run (&opts, argc - skip, argv + skip);
  vc_log_fini ();
  vc_string_vector_free (&opts.disks);
  vc_string_vector_free (&opts.excludes);
  return ret;
}
