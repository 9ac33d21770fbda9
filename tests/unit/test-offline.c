/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/backup/offline.c without QEMU: where the disks of
 * a stopped domain come from and which images are accepted, the
 * checkpoint XML made offline, and its record in the store.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup/offline.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/vc-strings.h"
#include "common/xml-safe.h"
#include "store/checkpoint-xml.h"
#include "unit-common.h"

#define UUID "4dea22b3-1d52-d8f3-2516-782e98ab3fa0"

struct fixture {
  char *dir;
  struct vc_store store;
};

static int
setup (void **state)
{
  struct fixture *f = calloc (1, sizeof *f);
  CLEANUP_FREE char *store = NULL;

  assert_non_null (f);
  f->dir = vc_test_mkdtemp ("test-offline");
  assert_non_null (f->dir);
  store = vc_printf ("%s/store", f->dir);
  assert_int_equal (vc_store_open (&f->store, store, true), 0);
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  struct fixture *f = *state;

  vc_store_close (&f->store);
  vc_test_rmtree (f->dir);
  free (f->dir);
  free (f);
  return 0;
}

static void
write_file (const char *path, const char *text)
{
  FILE *fp = fopen (path, "w");
  assert_non_null (fp);
  fputs (text, fp);
  assert_int_equal (fclose (fp), 0);
}

/* A domain XML with one disk vda: its type, driver type and source. */
static char *
domain_xml (const char *type, const char *format, const char *source)
{
  return vc_printf ("<domain type='kvm'><name>web1</name><uuid>" UUID "</uuid>"
                    "<devices><disk type='%s' device='disk'>"
                    "<driver name='qemu' type='%s'/>%s"
                    "<target dev='vda' bus='virtio'/></disk>"
                    "<disk type='file' device='cdrom'><target dev='sda'/></disk>"
                    "</devices></domain>", type, format, source);
}

static int
find_vda (const char *xml)
{
  struct vc_offline o = { .domain = "web1", .origin = strdup ("test") };
  string_vector targets = empty_vector;
  int r;

  o.domxml = strdup (xml);
  assert_non_null (o.domxml);
  assert_int_equal (string_vector_append (&targets, strdup ("vda")), 0);
  r = vc_offline_find_disks (&o, &targets);
  if (r == 0) {
    assert_int_equal (o.disks.len, 1);
    assert_string_equal (o.disks.ptr[0].target, "vda");
    assert_false (o.disks.ptr[0].block);
  }
  vc_offline_clear (&o);
  vc_string_vector_free (&targets);
  return r;
}

static void
test_disks_must_be_local_qcow2 (void **state)
{
  struct fixture *f = *state;
  CLEANUP_FREE char *img = vc_printf ("%s/web1.qcow2", f->dir);
  CLEANUP_FREE char *src = vc_printf ("<source file='%s'/>", img);
  CLEANUP_FREE char *dirsrc = vc_printf ("<source file='%s'/>", f->dir);
  CLEANUP_FREE char *missing = vc_printf ("<source file='%s/nope.qcow2'/>", f->dir);
  const struct { const char *type, *format, *source; int want; } cases[] = {
    { "file", "qcow2", src, 0 },
    { "file", "raw", src, -1 },                 /* no bitmaps, no locks */
    { "file", "qcow2", "<source file='web1.qcow2'/>", -1 },  /* relative */
    { "file", "qcow2", missing, -1 },
    { "file", "qcow2", dirsrc, -1 },            /* a directory */
    { "file", "qcow2", "", -1 },                /* no source */
    { "network", "qcow2", "<source protocol='nbd' name='x'/>", -1 },
    { "block", "qcow2", src, -1 },              /* <source dev=...> expected */
  };

  write_file (img, "not really qcow2: only the path is checked here");
  for (size_t i = 0; i < VC_TEST_ROWS (cases); i++) {
    CLEANUP_FREE char *xml = domain_xml (cases[i].type, cases[i].format, cases[i].source);
    assert_non_null (xml);
    if (find_vda (xml) != cases[i].want)
      fail_msg ("case %zu (%s %s %s)", i, cases[i].type, cases[i].format, cases[i].source);
  }
  /* A target the XML lacks. */
  CLEANUP_FREE char *xml = domain_xml ("file", "qcow2", src);
  char *p = strstr (xml, "dev='vda'");
  assert_non_null (p);
  memcpy (p, "dev='vdz'", 9);
  assert_int_equal (find_vda (xml), -1);
}

static void
test_config_and_stored_domain (void **state)
{
  struct fixture *f = *state;
  CLEANUP_FREE char *config = vc_printf ("%s/web1.xml", f->dir);
  CLEANUP_FREE char *xml = domain_xml ("file", "qcow2", "<source file='/x.qcow2'/>");
  struct vc_offline o = { .domain = "web1" };

  /* Nothing stored, nothing given. */
  assert_int_equal (vc_offline_prepare (&o, &f->store, NULL, NULL), -1);
  vc_offline_clear (&o);

  write_file (config, xml);
  o.domain = "web1";
  assert_int_equal (vc_offline_prepare (&o, &f->store, NULL, config), 0);
  assert_null (o.tip);
  assert_string_equal (o.uuid, UUID);
  assert_string_equal (o.origin, config);
  assert_non_null (strstr (o.domxml, "<name>web1</name>"));
  vc_offline_clear (&o);

  write_file (config, "<domaincheckpoint><name>x</name></domaincheckpoint>");
  o.domain = "web1";
  assert_int_equal (vc_offline_prepare (&o, &f->store, NULL, config), -1);
  vc_offline_clear (&o);
}

/* The checkpoint made offline as libvirt would redefine it, its record
 * in the store, and the <domain> the next offline backup takes from it.
 */
static void
test_checkpoint_xml_and_record (void **state)
{
  struct fixture *f = *state;
  CLEANUP_FREE char *xml = domain_xml ("file", "qcow2", "<source file='/x.qcow2'/>");
  struct vc_offline o = { .domain = "web1", .uuid = strdup (UUID) };
  string_vector all = empty_vector;
  struct vc_offline_disk vda = { .target = strdup ("vda"), .path = strdup ("/x.qcow2") };
  struct vc_checkpoint c;
  struct vc_chain chain;
  char *err = NULL, *cp1, *cp2;

  o.domxml = strdup (xml);
  assert_int_equal (vc_offline_disk_vector_append (&o.disks, vda), 0);
  assert_int_equal (string_vector_append (&all, strdup ("vda")), 0);
  assert_int_equal (string_vector_append (&all, strdup ("vdb")), 0);

  /* A root (nothing stored yet). */
  cp1 = vc_offline_checkpoint_xml (&o, "virtckpt.c.1.aaaa", &all, 1);
  assert_non_null (cp1);
  assert_int_equal (vc_checkpoint_parse (cp1, &c, &err), 0);
  assert_string_equal (c.name, "virtckpt.c.1.aaaa");
  assert_null (c.parent);
  assert_true (c.created > 0);
  assert_int_equal (c.disks.len, 2);
  assert_string_equal (c.disks.ptr[0].name, "vda");
  assert_string_equal (c.disks.ptr[0].mode, "bitmap");
  assert_string_equal (c.disks.ptr[0].bitmap, "virtckpt.c.1.aaaa");
  assert_string_equal (c.disks.ptr[1].name, "vdb");
  assert_string_equal (c.disks.ptr[1].mode, "no");
  vc_checkpoint_clear (&c);
  assert_int_equal (vc_offline_record (&o, &f->store, cp1, false), 0);

  /* The next one: the stored tip is its parent, and its <domain> is the
   * next backup's source of disks.
   */
  vc_offline_clear (&o);
  o.domain = "web1";
  assert_int_equal (vc_offline_prepare (&o, &f->store, NULL, NULL), 0);
  assert_string_equal (o.tip, "virtckpt.c.1.aaaa");
  assert_non_null (strstr (o.domxml, "<source file=\"/x.qcow2\"/>"));
  assert_string_equal (o.uuid, UUID);
  cp2 = vc_offline_checkpoint_xml (&o, "virtckpt.c.2.bbbb", &all, 2);
  assert_non_null (cp2);
  assert_int_equal (vc_checkpoint_parse (cp2, &c, &err), 0);
  assert_string_equal (c.parent, "virtckpt.c.1.aaaa");
  vc_checkpoint_clear (&c);
  CLEANUP_FREE char *embedded = NULL;
  {
    CLEANUP_XMLFREEDOC xmlDocPtr doc = vc_xml_parse (cp2, strlen (cp2), &err);
    assert_non_null (doc);
    embedded = vc_xml_text (doc, NULL, "/domaincheckpoint/domain/uuid");
  }
  assert_string_equal (embedded, UUID);
  assert_int_equal (vc_offline_record (&o, &f->store, cp2, false), 0);
  assert_int_equal (vc_store_load (&f->store, "web1", &chain), 0);
  assert_int_equal (chain.checkpoints.len, 2);
  assert_string_equal (chain.checkpoints.ptr[1].name, "virtckpt.c.2.bbbb");
  assert_string_equal (chain.uuid, UUID);
  vc_chain_clear (&chain);

  /* Recorded again against a tip that moved meanwhile: refused. */
  assert_int_equal (vc_offline_record (&o, &f->store, cp2, false), -1);

  /* A full replaces the chain (o.disks is empty: no image to clean). */
  vc_offline_clear (&o);
  o.domain = "web1";
  assert_int_equal (vc_offline_prepare (&o, &f->store, NULL, NULL), 0);
  free (o.tip);
  o.tip = NULL;
  CLEANUP_FREE char *cp3 = vc_offline_checkpoint_xml (&o, "virtckpt.d.3.cccc", &all, 3);
  assert_non_null (cp3);
  assert_int_equal (vc_offline_record (&o, &f->store, cp3, true), 0);
  assert_int_equal (vc_store_load (&f->store, "web1", &chain), 0);
  assert_int_equal (chain.checkpoints.len, 1);
  assert_string_equal (chain.checkpoints.ptr[0].name, "virtckpt.d.3.cccc");
  assert_null (chain.checkpoints.ptr[0].parent);
  vc_chain_clear (&chain);

  free (cp1);
  free (cp2);
  vc_offline_clear (&o);
  vc_string_vector_free (&all);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_disks_must_be_local_qcow2, setup, teardown),
    cmocka_unit_test_setup_teardown (test_config_and_stored_domain, setup, teardown),
    cmocka_unit_test_setup_teardown (test_checkpoint_xml_and_record, setup, teardown),
  };
  int r;

  vc_test_log_init ("test-offline");
  r = cmocka_run_group_tests_name ("offline", tests, NULL, NULL);
  vc_log_fini ();
  return r;
}
