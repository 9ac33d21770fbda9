/* virtckpt: keeps libvirt checkpoint chains alive across hosts. */
#include <config.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "exit-codes.h"
#include "log.h"

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
"\n"
"Options:\n"
"  -c, --connect=URI   libvirt URI (default: libvirt's default)\n"
"  -s, --store=DIR     checkpoint store (default: %s, or $VIRTCKPT_STORE)\n"
"  -f, --force         capture: replace a stored chain libvirt does not hold\n"
"      --xml           show: print the store document as XML\n"
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
  enum { OPT_XML = 256 };
  static const struct option long_options[] = {
    { "connect", required_argument, NULL, 'c' },
    { "store", required_argument, NULL, 's' },
    { "force", no_argument, NULL, 'f' },
    { "xml", no_argument, NULL, OPT_XML },
    { "verbose", no_argument, NULL, 'v' },
    { "quiet", no_argument, NULL, 'q' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
  };
  struct vc_options opts = { .store_dir = getenv ("VIRTCKPT_STORE") };
  bool help = false, quiet = false;
  int c, ret;

  if (opts.store_dir == NULL || *opts.store_dir == '\0')
    opts.store_dir = STORE_DIR;
  opts.uri = getenv ("LIBVIRT_DEFAULT_URI");

  while ((c = getopt_long (argc, argv, "c:s:fvqhV", long_options, NULL)) != -1) {
    switch (c) {
    case 'c': opts.uri = optarg; break;
    case 's': opts.store_dir = optarg; break;
    case 'f': opts.force = true; break;
    case OPT_XML: opts.xml = true; break;
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

  fprintf (stderr, "virtckpt: unknown command '%s'\nTry 'virtckpt --help'.\n",
           argv[0]);
  return VC_EXIT_USAGE;
}
