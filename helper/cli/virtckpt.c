/* virtckpt: keeps libvirt checkpoint chains alive across hosts. */
#include <config.h>

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "common/exit-codes.h"
#include "common/log.h"

static void
usage_main (FILE *fp)
{
  fprintf (fp,
"Usage: virtckpt [OPTION]... COMMAND [ARG]...\n"
"Keep libvirt checkpoint chains (and so incremental backups) alive when a\n"
"domain is re-created or moves to another host.\n"
"\n"
"Commands:\n"
"  checkpoints capture DOMAIN   record libvirt's checkpoints of DOMAIN\n"
"  checkpoints redefine DOMAIN  redefine stored checkpoints libvirt lacks\n"
"  checkpoints show DOMAIN      show the stored chain of DOMAIN\n"
"  checkpoints list             list the domains in the store\n"
"  checkpoints forget DOMAIN    delete the stored chain of DOMAIN\n"
"  backup DOMAIN -o DIR         back up DOMAIN (--level full|inc|diff|copy|auto)\n"
"  restore DIR -o OUTDIR        rebuild the disks of a backup (--until BACKUP)\n"
"  verify DIR                   check every backup file against the manifest\n"
"  list DIR                     show the backups in DIR\n"
"  status [--wait-synced SECS]  virtckptd's view of the cluster\n"
"  cancel DOMAIN                end a running backup of DOMAIN on this host\n"
"\n"
"Options:\n"
"  -c, --connect=URI   libvirt URI (default: libvirt's default)\n"
"  -s, --store=DIR     checkpoint store (default: %s, or $VIRTCKPT_STORE)\n"
"  -f, --force         capture: replace a stored chain libvirt does not hold\n"
"      --xml           show: print the store document as XML\n"
"  -o, --output=DIR    backup: backup directory; restore: output directory\n"
"  -l, --level=LEVEL   backup level (default auto)\n"
"      --disk=NAME     only this disk (repeatable)\n"
"      --exclude=NAME  backup: skip this disk (repeatable)\n"
"      --until=BACKUP  restore: the backup (id or checkpoint) to restore\n"
"      --format=FMT    restore: qcow2 (default) or raw\n"
"      --no-verify     restore: do not verify checksums first\n"
"  -v, --verbose       say more; twice for debugging\n"
"  -q, --quiet         print errors only\n"
"  -h, --help          show this help (also after a command)\n"
"  -V, --version       show the version\n"
"\n"
"Exit status: 0 success, 1 error, 2 usage error, 3 the checkpoint chain is\n"
"broken and the next backup must be full.\n"
"See virtckpt(8).\n", STORE_DIR);
}

int
main (int argc, char **argv)
{
  enum { OPT_XML = 256, OPT_DISK, OPT_EXCLUDE, OPT_UNTIL, OPT_FORMAT,
         OPT_CONNECTIONS, OPT_REQUEST_SIZE, OPT_IN_FLIGHT, OPT_NO_VERIFY,
         OPT_NO_PROGRESS, OPT_RUNDIR, OPT_WAIT_SYNCED, OPT_CHECKSUM,
         OPT_GRACE, OPT_WAIT, OPT_HOLD, OPT_RELEASE };
  static const struct option long_options[] = {
    { "connect", required_argument, NULL, 'c' },
    { "store", required_argument, NULL, 's' },
    { "force", no_argument, NULL, 'f' },
    { "xml", no_argument, NULL, OPT_XML },
    { "output", required_argument, NULL, 'o' },
    { "level", required_argument, NULL, 'l' },
    { "disk", required_argument, NULL, OPT_DISK },
    { "exclude", required_argument, NULL, OPT_EXCLUDE },
    { "until", required_argument, NULL, OPT_UNTIL },
    { "format", required_argument, NULL, OPT_FORMAT },
    { "connections", required_argument, NULL, OPT_CONNECTIONS },
    { "request-size", required_argument, NULL, OPT_REQUEST_SIZE },
    { "in-flight", required_argument, NULL, OPT_IN_FLIGHT },
    { "no-verify", no_argument, NULL, OPT_NO_VERIFY },
    { "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
    { "rundir", required_argument, NULL, OPT_RUNDIR },
    { "wait-synced", required_argument, NULL, OPT_WAIT_SYNCED },
    { "checksum", required_argument, NULL, OPT_CHECKSUM },
    { "grace", required_argument, NULL, OPT_GRACE },
    { "wait", required_argument, NULL, OPT_WAIT },
    { "hold", required_argument, NULL, OPT_HOLD },
    { "release", no_argument, NULL, OPT_RELEASE },
    { "verbose", no_argument, NULL, 'v' },
    { "quiet", no_argument, NULL, 'q' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
  };
  struct vc_options opts = { .store_dir = getenv ("VIRTCKPT_STORE"),
                            .rundir = getenv ("VIRTCKPT_RUNDIR"),
                            .wait = 60, .hold = -1 };
  bool help = false, quiet = false;
  int c, ret;

  if (opts.store_dir == NULL || *opts.store_dir == '\0')
    opts.store_dir = STORE_DIR;
  else
    opts.store_explicit = true;
  if (opts.rundir == NULL || *opts.rundir == '\0')
    opts.rundir = RUN_DIR;
  opts.uri = getenv ("LIBVIRT_DEFAULT_URI");

  while ((c = getopt_long (argc, argv, "c:s:fo:l:vqhV", long_options, NULL)) != -1) {
    switch (c) {
    case 'c': opts.uri = optarg; break;
    case 's': opts.store_dir = optarg; opts.store_explicit = true; break;
    case 'f': opts.force = true; break;
    case OPT_XML: opts.xml = true; break;
    case 'o': opts.output = optarg; break;
    case 'l': opts.level = optarg; break;
    case OPT_DISK:
    case OPT_EXCLUDE: {
      char *d = strdup (optarg);
      if (d == NULL ||
          string_vector_append (c == OPT_DISK ? &opts.disks : &opts.excludes, d) == -1) {
        perror ("virtckpt");
        return VC_EXIT_ERROR;
      }
      break;
    }
    case OPT_UNTIL: opts.until = optarg; break;
    case OPT_FORMAT: opts.format = optarg; break;
    case OPT_CONNECTIONS:
    case OPT_REQUEST_SIZE:
    case OPT_IN_FLIGHT: {
      char *end;
      unsigned long v = strtoul (optarg, &end, 10);
      if (*optarg < '0' || *optarg > '9' || *end || v == 0 || v > UINT32_MAX ||
          (c == OPT_CONNECTIONS && v > 8) || (c == OPT_IN_FLIGHT && v > 256) ||
          (c == OPT_REQUEST_SIZE && (v % 65536 || v > 32 * 1024 * 1024))) {
        fprintf (stderr, "virtckpt: bad value '%s' for --%s\n", optarg,
                 c == OPT_CONNECTIONS ? "connections (1-8)"
                 : c == OPT_IN_FLIGHT ? "in-flight (1-256)"
                 : "request-size (multiple of 65536, at most 32 MiB)");
        return VC_EXIT_USAGE;
      }
      if (c == OPT_CONNECTIONS) opts.connections = v;
      else if (c == OPT_IN_FLIGHT) opts.in_flight = v;
      else opts.request_size = v;
      break;
    }
    case OPT_NO_VERIFY: opts.no_verify = true; break;
    case OPT_NO_PROGRESS: opts.no_progress = true; break;
    case OPT_RUNDIR: opts.rundir = optarg; break;
    case OPT_CHECKSUM: opts.checksum = optarg; break;
    case OPT_WAIT_SYNCED:
    case OPT_GRACE:
    case OPT_WAIT:
    case OPT_HOLD: {
      char *end;
      unsigned long v = strtoul (optarg, &end, 10);
      if (*optarg < '0' || *optarg > '9' || *end || v > 86400) {
        fprintf (stderr, "virtckpt: bad value '%s' for --%s (seconds, at most 86400)\n",
                 optarg, c == OPT_WAIT_SYNCED ? "wait-synced" : c == OPT_GRACE ? "grace"
                 : c == OPT_WAIT ? "wait" : "hold");
        return VC_EXIT_USAGE;
      }
      if (c == OPT_WAIT_SYNCED)
        opts.wait_synced = v;
      else if (c == OPT_GRACE)
        opts.grace = v;
      else if (c == OPT_WAIT)
        opts.wait = v;
      else
        opts.hold = v;
      break;
    }
    case OPT_RELEASE: opts.release = true; break;
    case 'v': opts.verbosity++; break;
    case 'q': quiet = true; break;
    case 'h': help = true; break;
    case 'V':
      printf ("virtckpt %s\n", PACKAGE_VERSION);
      return VC_EXIT_OK;
    default:
      fprintf (stderr, "Try 'virtckpt --help'.\n");
      return VC_EXIT_USAGE;
    }
  }
  if (quiet)
    opts.verbosity = -1;

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

  if (strcmp (argv[0], "checkpoints") == 0) {
    if (help) {
      vc_usage_checkpoints (argc > 1 ? argv[1] : NULL);
      return VC_EXIT_OK;
    }
    vc_log_init ("virtckpt", opts.verbosity);
    ret = vc_cmd_checkpoints (&opts, argc - 1, argv + 1);
    vc_log_fini ();
    return ret;
  }

  static const struct {
    const char *name;
    int (*run) (const struct vc_options *, int, char **);
  } commands[] = {
    { "backup", vc_cmd_backup },
    { "restore", vc_cmd_restore },
    { "verify", vc_cmd_verify },
    { "list", vc_cmd_list },
    { "status", vc_cmd_status },
    { "cancel", vc_cmd_cancel },
  };
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    if (strcmp (argv[0], commands[i].name) != 0)
      continue;
    if (help) {
      vc_usage_backup (argv[0]);
      return VC_EXIT_OK;
    }
    vc_log_init ("virtckpt", opts.verbosity);
    ret = commands[i].run (&opts, argc - 1, argv + 1);
    vc_log_fini ();
    vc_string_vector_free (&opts.disks);
    vc_string_vector_free (&opts.excludes);
    return ret;
  }

  fprintf (stderr, "virtckpt: unknown command '%s'\nTry 'virtckpt --help'.\n",
           argv[0]);
  return VC_EXIT_USAGE;
}
