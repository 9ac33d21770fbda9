/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/store/checkpoint-xml.c and helper/common/xml-safe.c: reading
 * libvirt's <domaincheckpoint> XML, refusing hostile XML, and preparing
 * XML for a redefinition.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/checkpoint-xml.h"
#include "common/log.h"
#include "unit-common.h"
#include "common/xml-safe.h"

#define UUID "4dea22b3-1d52-d8f3-2516-782e98ab3fa0"

/* What virDomainCheckpointGetXMLDesc returns on libvirt 9.0 (trimmed
 * domain definition).
 */
static const char checkpoint_c2[] =
  "<domaincheckpoint>\n"
  "  <name>c2</name>\n"
  "  <description>nightly</description>\n"
  "  <parent>\n"
  "    <name>c1</name>\n"
  "  </parent>\n"
  "  <creationTime>1764227000</creationTime>\n"
  "  <disks>\n"
  "    <disk name='vda' checkpoint='bitmap' bitmap='c1' size='1048576'/>\n"
  "    <disk name='vdb' checkpoint='no'/>\n"
  "  </disks>\n"
  "  <domain type='kvm'>\n"
  "    <name>web1</name>\n"
  "    <uuid>" UUID "</uuid>\n"
  "    <memory unit='KiB'>1048576</memory>\n"
  "    <vcpu placement='static'>1</vcpu>\n"
  "    <os>\n"
  "      <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>\n"
  "    </os>\n"
  "    <devices>\n"
  "      <disk type='file' device='disk'>\n"
  "        <driver name='qemu' type='qcow2'/>\n"
  "        <source file='/var/lib/libvirt/images/web1.qcow2'/>\n"
  "        <target dev='vda' bus='virtio'/>\n"
  "      </disk>\n"
  "      <disk type='file' device='disk'>\n"
  "        <driver name='qemu' type='raw'/>\n"
  "        <source file='/var/lib/libvirt/images/web1-data.img'/>\n"
  "        <target dev='vdb' bus='virtio'/>\n"
  "      </disk>\n"
  "    </devices>\n"
  "  </domain>\n"
  "</domaincheckpoint>\n";

static const char checkpoint_root[] =
  "<domaincheckpoint>\n"
  "  <name>c1</name>\n"
  "  <creationTime>1764226000</creationTime>\n"
  "  <disks>\n"
  "    <disk name='vda' checkpoint='bitmap' bitmap='c1'/>\n"
  "  </disks>\n"
  "</domaincheckpoint>\n";

/* Parsing fails with a reason containing must_contain and leaves nothing
 * behind in the output.
 */
static void
parse_fails (const char *xml, const char *must_contain)
{
  struct vc_checkpoint c;
  char *err = NULL;

  memset (&c, 0xaa, sizeof c);    /* garbage the parser must overwrite */
  assert_int_equal (vc_checkpoint_parse (xml, &c, &err), -1);
  assert_non_null (err);
  if (strstr (err, must_contain) == NULL)
    fail_msg ("error '%s' does not mention '%s'", err, must_contain);
  assert_null (c.name);
  assert_null (c.parent);
  assert_null (c.xml);
  assert_int_equal (c.disks.len, 0);
  free (err);
}

static void
test_parse_libvirt_checkpoint (void **state)
{
  struct vc_checkpoint c;
  char *err = NULL;

  assert_int_equal (vc_checkpoint_parse (checkpoint_c2, &c, &err), 0);
  assert_null (err);
  assert_string_equal (c.name, "c2");
  assert_string_equal (c.parent, "c1");
  assert_int_equal (c.created, 1764227000);
  assert_int_equal (c.disks.len, 2);
  assert_string_equal (c.disks.ptr[0].name, "vda");
  assert_string_equal (c.disks.ptr[0].mode, "bitmap");
  assert_string_equal (c.disks.ptr[0].bitmap, "c1");
  assert_string_equal (c.disks.ptr[1].name, "vdb");
  assert_string_equal (c.disks.ptr[1].mode, "no");
  assert_null (c.disks.ptr[1].bitmap);
  /* The XML is kept byte for byte, in a copy. */
  assert_string_equal (c.xml, checkpoint_c2);
  assert_ptr_not_equal (c.xml, checkpoint_c2);
  vc_checkpoint_clear (&c);
  assert_null (c.name);
}

static void
test_parse_root_has_no_parent (void **state)
{
  struct vc_checkpoint c;
  char *err = NULL;

  assert_int_equal (vc_checkpoint_parse (checkpoint_root, &c, &err), 0);
  assert_string_equal (c.name, "c1");
  assert_null (c.parent);
  assert_int_equal (c.created, 1764226000);
  assert_int_equal (c.disks.len, 1);
  vc_checkpoint_clear (&c);
}

/* libvirt omits checkpoint= for the default; no <disks> at all is a
 * checkpoint of a diskless domain.
 */
static void
test_parse_defaults (void **state)
{
  struct vc_checkpoint c;
  char *err = NULL;

  assert_int_equal (vc_checkpoint_parse ("<domaincheckpoint><name>c</name>"
                                         "<disks><disk name='sda'/></disks>"
                                         "</domaincheckpoint>", &c, &err), 0);
  assert_int_equal (c.created, 0);
  assert_int_equal (c.disks.len, 1);
  assert_string_equal (c.disks.ptr[0].mode, "bitmap");
  assert_null (c.disks.ptr[0].bitmap);
  vc_checkpoint_clear (&c);

  assert_int_equal (vc_checkpoint_parse ("<domaincheckpoint><name>c</name>"
                                         "<parent><name></name></parent>"
                                         "</domaincheckpoint>", &c, &err), 0);
  assert_null (c.parent);
  assert_int_equal (c.disks.len, 0);
  vc_checkpoint_clear (&c);
}

static void
test_parse_escaped_utf8_name (void **state)
{
  struct vc_checkpoint c;
  char *err = NULL;

  assert_int_equal (vc_checkpoint_parse ("<domaincheckpoint>"
                                         "<name>a&lt;b&amp;\"c\" \xc3\xa9</name>"
                                         "<parent><name>p&apos;</name></parent>"
                                         "</domaincheckpoint>", &c, &err), 0);
  assert_string_equal (c.name, "a<b&\"c\" \xc3\xa9");
  assert_string_equal (c.parent, "p'");
  vc_checkpoint_clear (&c);
}

/* What the XPath lookups of earlier versions selected, element for
 * element: the first match in document order, only elements in no
 * namespace, comments and text between them ignored, every <disks>.
 */
static void
test_parse_selects_as_xpath (void **state)
{
  struct vc_checkpoint c;
  char *err = NULL;

  assert_int_equal (vc_checkpoint_parse ("<domaincheckpoint><!-- c -->"
                                         "<x:name xmlns:x='urn:x'>no</x:name>"
                                         "<name>c<!-- i -->2</name><name>c9</name>"
                                         "<parent/><parent><name>c1</name></parent>"
                                         "<creationTime>7</creationTime>"
                                         "<disks><disk name='vda'/></disks>"
                                         "<disks><disk name='vdb'/>"
                                         "<disk xmlns='urn:y' name='vdz'/></disks>"
                                         "<domain><disks><disk name='sda'/></disks></domain>"
                                         "</domaincheckpoint>", &c, &err), 0);
  assert_string_equal (c.name, "c2");
  assert_string_equal (c.parent, "c1");
  assert_int_equal (c.created, 7);
  assert_int_equal (c.disks.len, 2);
  assert_string_equal (c.disks.ptr[0].name, "vda");
  assert_string_equal (c.disks.ptr[1].name, "vdb");
  vc_checkpoint_clear (&c);
  /* A root in a namespace matched nothing. */
  parse_fails ("<domaincheckpoint xmlns='urn:z'><name>c</name></domaincheckpoint>",
               "<name>");
}

static void
test_parse_rejects_missing_name (void **state)
{
  parse_fails ("<domaincheckpoint><creationTime>1</creationTime>"
               "</domaincheckpoint>", "<name>");
  parse_fails ("<domaincheckpoint><name></name></domaincheckpoint>", "<name>");
  /* A <name> elsewhere does not count. */
  parse_fails ("<domaincheckpoint><domain><name>web1</name></domain>"
               "</domaincheckpoint>", "<name>");
}

static void
test_parse_rejects_bad_creation_time (void **state)
{
  static const char *const bad[] = {
    "", "abc", "12abc", "1.5", "0x10", "99999999999999999999",
  };

  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char xml[256];
    snprintf (xml, sizeof xml, "<domaincheckpoint><name>c1</name>"
              "<creationTime>%s</creationTime></domaincheckpoint>", bad[i]);
    parse_fails (xml, "creationTime");
  }
}

static void
test_parse_rejects_disk_without_name (void **state)
{
  parse_fails ("<domaincheckpoint><name>c1</name><disks>"
               "<disk checkpoint='bitmap' bitmap='c1'/></disks>"
               "</domaincheckpoint>", "disk without a name");
}

static void
test_parse_rejects_other_root (void **state)
{
  parse_fails ("<domainsnapshot><name>s1</name></domainsnapshot>",
               "domaincheckpoint");
  parse_fails ("<domain><name>c1</name></domain>", "domaincheckpoint");
}

static void
test_parse_rejects_malformed_xml (void **state)
{
  /* Truncated in the middle of an element. */
  parse_fails ("<domaincheckpoint><name>c1</name><creationT", "malformed XML");
  parse_fails ("<domaincheckpoint><name>c1</name>", "malformed XML");
  parse_fails ("<domaincheckpoint><name>c1</nam></domaincheckpoint>",
               "malformed XML");
  parse_fails ("", "XML");
  parse_fails ("just text", "malformed XML");
}

/* Every prefix of a real checkpoint fails cleanly (the whole text minus
 * its final newline is still complete).
 */
static void
test_parse_rejects_every_truncation (void **state)
{
  size_t len = strlen (checkpoint_c2);
  size_t complete = strstr (checkpoint_c2, "</domaincheckpoint>") - checkpoint_c2
    + strlen ("</domaincheckpoint>");

  for (size_t n = 0; n < len; n++) {
    char *prefix = strndup (checkpoint_c2, n);
    struct vc_checkpoint c;
    char *err = NULL;
    int r;

    assert_non_null (prefix);
    r = vc_checkpoint_parse (prefix, &c, &err);
    if (n < complete) {
      if (r != -1)
        fail_msg ("prefix of %zu bytes parsed", n);
      assert_non_null (err);
    }
    else {
      assert_int_equal (r, 0);
      vc_checkpoint_clear (&c);
    }
    free (err);
    free (prefix);
  }
}

/* XXE: the entity must not be resolved, and nothing of the file must
 * show up in what we return.
 */
static void
test_parse_refuses_external_entity (void **state)
{
  char path[] = "/tmp/test-checkpoint-xml-XXXXXX";
  const char secret[] = "VIRTCKPT-SECRET-7d1e0c";
  int fd = mkstemp (path);
  char xml[512];

  assert_true (fd >= 0);
  assert_int_equal (write (fd, secret, strlen (secret)), strlen (secret));
  close (fd);

  const char *targets[] = { path, "/etc/passwd" };
  for (size_t i = 0; i < 2; i++) {
    struct vc_checkpoint c;
    char *err = NULL;

    snprintf (xml, sizeof xml,
              "<!DOCTYPE x [<!ENTITY e SYSTEM \"file://%s\">]>\n"
              "<domaincheckpoint><name>&e;</name>"
              "<creationTime>1</creationTime></domaincheckpoint>", targets[i]);
    assert_int_equal (vc_checkpoint_parse (xml, &c, &err), -1);
    assert_non_null (err);
    assert_non_null (strstr (err, "DOCTYPE"));
    assert_null (strstr (err, secret));
    assert_null (strstr (err, "root:"));
    assert_null (c.name);
    assert_null (c.xml);
    free (err);

    bool dropped;
    err = NULL;
    assert_null (vc_checkpoint_xml_for_redefine (xml, UUID, &dropped, &err));
    assert_non_null (err);
    assert_null (strstr (err, secret));
    free (err);
  }
  unlink (path);
}

/* The DOCTYPE check looks for ASCII bytes; a UTF-16 document hides them
 * from it, and must still be refused once parsed.
 */
static void
test_parse_refuses_utf16_doctype (void **state)
{
  const char *xml =
    "<?xml version=\"1.0\" encoding=\"UTF-16\"?>"
    "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>"
    "<domaincheckpoint><name>&e;</name></domaincheckpoint>";
  size_t n = strlen (xml);
  char *utf16 = malloc (2 + 2 * n);
  char *err = NULL;

  assert_non_null (utf16);
  utf16[0] = (char) 0xff;         /* little-endian byte order mark */
  utf16[1] = (char) 0xfe;
  for (size_t i = 0; i < n; i++) {
    utf16[2 + 2 * i] = xml[i];
    utf16[3 + 2 * i] = '\0';
  }
  assert_null (vc_xml_parse (utf16, 2 + 2 * n, &err));
  assert_non_null (err);
  assert_non_null (strstr (err, "DOCTYPE"));
  assert_null (strstr (err, "root:"));
  free (err);
  free (utf16);
}

static void
test_parse_refuses_internal_entities (void **state)
{
  parse_fails ("<!DOCTYPE domaincheckpoint [<!ENTITY n \"c1\">]>"
               "<domaincheckpoint><name>&n;</name></domaincheckpoint>",
               "DOCTYPE");
  /* Even an empty internal subset. */
  parse_fails ("<!DOCTYPE domaincheckpoint>"
               "<domaincheckpoint><name>c1</name></domaincheckpoint>",
               "DOCTYPE");
}

static void
test_parse_refuses_billion_laughs (void **state)
{
  static const char bomb[] =
    "<?xml version=\"1.0\"?>\n"
    "<!DOCTYPE lolz [\n"
    " <!ENTITY lol \"lol\">\n"
    " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
    " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
    " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
    " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
    " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
    " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
    " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
    " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
    " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
    "]>\n"
    "<domaincheckpoint><name>&lol9;</name></domaincheckpoint>\n";
  double start = vc_test_now ();

  parse_fails (bomb, "DOCTYPE");
  /* Generous for valgrind; an expansion would take far longer. */
  assert_true (vc_test_now () - start < 2.0);
}

/* Fills buf (len bytes, NUL-terminated) with a valid checkpoint padded
 * by comments of 1 MiB at most: libxml2 refuses a single text or comment
 * node over 10 MB, and only the size limit is under test.
 */
static char *
padded_checkpoint (size_t len)
{
  static const char head[] = "<domaincheckpoint><name>c1</name>";
  static const char tail[] = "</domaincheckpoint>";
  char *xml = malloc (len + 1);
  char *p = xml, *end = xml + len - strlen (tail);

  assert_non_null (xml);
  p = stpcpy (p, head);
  while (p < end) {
    size_t room = end - p;
    if (room < 7) {             /* too short for a comment: blanks */
      memset (p, ' ', room);
      p += room;
      break;
    }
    size_t n = room > 1024 * 1024 ? 1024 * 1024 : room;
    if (room - n > 0 && room - n < 7)
      n -= 7;
    memcpy (p, "<!--", 4);
    memset (p + 4, 'x', n - 7);
    memcpy (p + n - 3, "-->", 3);
    p += n;
  }
  strcpy (p, tail);
  assert_int_equal (strlen (xml), len);
  return xml;
}

/* Over VC_XML_MAX_SIZE: refused from its length alone, and quickly. */
static void
test_parse_refuses_oversized_xml (void **state)
{
  char *xml = padded_checkpoint (VC_XML_MAX_SIZE + 1);
  char *err = NULL;
  double start = vc_test_now ();

  parse_fails (xml, "limit");
  assert_null (vc_xml_parse (xml, strlen (xml), &err));
  assert_non_null (strstr (err, "32 MiB"));
  free (err);
  /* Generous for valgrind; parsing 32 MiB would take far longer there. */
  assert_true (vc_test_now () - start < 2.0);
  free (xml);
}

/* Exactly at the limit is still accepted. */
static void
test_parse_accepts_xml_at_size_limit (void **state)
{
  char *xml = padded_checkpoint (VC_XML_MAX_SIZE);
  struct vc_checkpoint c;
  char *err = NULL;

  if (vc_checkpoint_parse (xml, &c, &err) == -1)
    fail_msg ("%s", err);
  assert_string_equal (c.name, "c1");
  vc_checkpoint_clear (&c);
  free (xml);
}

/* Checks that xml is checkpoint_c2 without its <domain>. */
static void
assert_c2_without_domain (const char *xml)
{
  struct vc_checkpoint c;
  char *err = NULL;

  assert_non_null (xml);
  assert_null (strstr (xml, "<domain>"));
  assert_null (strstr (xml, "<domain "));
  assert_null (strstr (xml, UUID));
  assert_null (strstr (xml, "web1.qcow2"));

  assert_int_equal (vc_checkpoint_parse (xml, &c, &err), 0);
  assert_string_equal (c.name, "c2");
  assert_string_equal (c.parent, "c1");
  assert_int_equal (c.created, 1764227000);
  assert_int_equal (c.disks.len, 2);
  assert_string_equal (c.disks.ptr[0].name, "vda");
  assert_string_equal (c.disks.ptr[0].mode, "bitmap");
  assert_string_equal (c.disks.ptr[0].bitmap, "c1");
  assert_string_equal (c.disks.ptr[1].name, "vdb");
  assert_string_equal (c.disks.ptr[1].mode, "no");
  vc_checkpoint_clear (&c);

  /* And nothing else was lost. */
  assert_non_null (strstr (xml, "<description>nightly</description>"));
  assert_non_null (strstr (xml, "size=\"1048576\""));
}

/* A checkpoint's XML made ready for redefining in the domain of a UUID:
 * libvirt refuses an embedded <domain> of another UUID (a transient domain
 * re-created without <uuid> has a new one), so it is dropped then, and
 * kept when the UUIDs match, in any letter case.
 */
static const struct {
  const char *what, *xml, *uuid;
  bool dropped;                         /* else the XML is kept as it is */
} redefine_cases[] = {
  { "same UUID", checkpoint_c2, UUID, false },
  { "same UUID, upper case", checkpoint_c2, "4DEA22B3-1D52-D8F3-2516-782E98AB3FA0", false },
  { "same UUID, mixed case", checkpoint_c2, "4dEa22b3-1D52-d8f3-2516-782e98AB3fa0", false },
  { "other UUID", checkpoint_c2, "11111111-2222-3333-4444-555555555555", true },
  { "no UUID", checkpoint_c2, NULL, true },
  { "no <domain>", checkpoint_root, UUID, false },
  { "no <domain>, no UUID", checkpoint_root, NULL, false },
};

static void
test_redefine_cases (void **state)
{
  for (size_t i = 0; i < VC_TEST_ROWS (redefine_cases); i++) {
    const char *what = redefine_cases[i].what, *in = redefine_cases[i].xml;
    bool dropped = !redefine_cases[i].dropped;  /* must be set either way */
    char *err = NULL;
    char *xml = vc_checkpoint_xml_for_redefine (in, redefine_cases[i].uuid,
                                                &dropped, &err);

    if (err != NULL)
      fail_msg ("%s: %s", what, err);
    if (dropped != redefine_cases[i].dropped)
      fail_msg ("%s: the <domain> was %s", what, dropped ? "dropped" : "kept");
    if (dropped)
      assert_c2_without_domain (xml);
    else {
      assert_non_null (xml);
      if (strcmp (xml, in) != 0)
        fail_msg ("%s: the XML changed:\n%s", what, xml);
    }
    free (xml);
  }
}

static void
test_redefine_rejects_malformed_xml (void **state)
{
  bool dropped = true;
  char *err = NULL;

  assert_null (vc_checkpoint_xml_for_redefine ("<domaincheckpoint><name>",
                                               UUID, &dropped, &err));
  assert_non_null (err);
  assert_false (dropped);
  free (err);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_parse_libvirt_checkpoint),
    cmocka_unit_test (test_parse_root_has_no_parent),
    cmocka_unit_test (test_parse_selects_as_xpath),
    cmocka_unit_test (test_parse_defaults),
    cmocka_unit_test (test_parse_escaped_utf8_name),
    cmocka_unit_test (test_parse_rejects_missing_name),
    cmocka_unit_test (test_parse_rejects_bad_creation_time),
    cmocka_unit_test (test_parse_rejects_disk_without_name),
    cmocka_unit_test (test_parse_rejects_other_root),
    cmocka_unit_test (test_parse_rejects_malformed_xml),
    cmocka_unit_test (test_parse_rejects_every_truncation),
    cmocka_unit_test (test_parse_refuses_external_entity),
    cmocka_unit_test (test_parse_refuses_utf16_doctype),
    cmocka_unit_test (test_parse_refuses_internal_entities),
    cmocka_unit_test (test_parse_refuses_billion_laughs),
    cmocka_unit_test (test_parse_refuses_oversized_xml),
    cmocka_unit_test (test_parse_accepts_xml_at_size_limit),
    cmocka_unit_test (test_redefine_cases),
    cmocka_unit_test (test_redefine_rejects_malformed_xml),
  };
  int r;

  vc_log_init ("test-checkpoint-xml", -1);
  r = cmocka_run_group_tests_name ("checkpoint-xml", tests, NULL, NULL);
  vc_log_fini ();
  return r;
}
