/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/libvirt/domain-info.c: what a backup takes from the live
 * domain XML (disks, the DAC owner QEMU runs as, the guest agent).
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

#include "libvirt/domain-info.h"
#include "common/log.h"
#include "common/vc-strings.h"
#include "unit-common.h"

/* As `virsh dumpxml web1` prints it for a running domain with libvirt 9
 * (Debian 12), trimmed of nothing that matters here.  DISKS and SECLABELS
 * are filled in per test.
 */
#define LIVE_XML(DISKS, CHANNELS, SECLABELS) \
  "<domain type='kvm' id='3'>\n" \
  "  <name>web1</name>\n" \
  "  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>\n" \
  "  <metadata>\n" \
  "    <libosinfo:libosinfo xmlns:libosinfo=\"http://libosinfo.org/xmlns/libvirt/domain/1.0\">\n" \
  "      <libosinfo:os id=\"http://debian.org/debian/12\"/>\n" \
  "    </libosinfo:libosinfo>\n" \
  "  </metadata>\n" \
  "  <memory unit='KiB'>2097152</memory>\n" \
  "  <currentMemory unit='KiB'>2097152</currentMemory>\n" \
  "  <vcpu placement='static'>2</vcpu>\n" \
  "  <resource>\n" \
  "    <partition>/machine</partition>\n" \
  "  </resource>\n" \
  "  <os>\n" \
  "    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>\n" \
  "    <boot dev='hd'/>\n" \
  "  </os>\n" \
  "  <features><acpi/><apic/><vmport state='off'/></features>\n" \
  "  <cpu mode='host-passthrough' check='none' migratable='on'/>\n" \
  "  <clock offset='utc'>\n" \
  "    <timer name='rtc' tickpolicy='catchup'/>\n" \
  "  </clock>\n" \
  "  <on_poweroff>destroy</on_poweroff>\n" \
  "  <on_reboot>restart</on_reboot>\n" \
  "  <on_crash>destroy</on_crash>\n" \
  "  <devices>\n" \
  "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n" \
  DISKS \
  "    <controller type='usb' index='0' model='qemu-xhci' ports='15'>\n" \
  "      <alias name='usb'/>\n" \
  "      <address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>\n" \
  "    </controller>\n" \
  "    <controller type='sata' index='0'>\n" \
  "      <alias name='ide'/>\n" \
  "    </controller>\n" \
  "    <interface type='network'>\n" \
  "      <mac address='52:54:00:6b:3c:58'/>\n" \
  "      <source network='default' portid='0b6f7f4e-0d51-4b8f-9a57-7c2b5b6f3f43' bridge='virbr0'/>\n" \
  "      <target dev='vnet2'/>\n" \
  "      <model type='virtio'/>\n" \
  "      <alias name='net0'/>\n" \
  "    </interface>\n" \
  "    <serial type='pty'>\n" \
  "      <source path='/dev/pts/1'/>\n" \
  "      <target type='isa-serial' port='0'><model name='isa-serial'/></target>\n" \
  "      <alias name='serial0'/>\n" \
  "    </serial>\n" \
  "    <console type='pty' tty='/dev/pts/1'>\n" \
  "      <source path='/dev/pts/1'/>\n" \
  "      <target type='serial' port='0'/>\n" \
  "      <alias name='serial0'/>\n" \
  "    </console>\n" \
  CHANNELS \
  "    <input type='tablet' bus='usb'><alias name='input0'/></input>\n" \
  "    <graphics type='spice' port='5900' autoport='yes' listen='127.0.0.1'>\n" \
  "      <listen type='address' address='127.0.0.1'/>\n" \
  "    </graphics>\n" \
  "    <audio id='1' type='spice'/>\n" \
  "    <video><model type='virtio' heads='1' primary='yes'/><alias name='video0'/></video>\n" \
  "    <memballoon model='virtio'><alias name='balloon0'/></memballoon>\n" \
  "    <rng model='virtio'><backend model='random'>/dev/urandom</backend>" \
  "<alias name='rng0'/></rng>\n" \
  "  </devices>\n" \
  SECLABELS \
  "</domain>\n"

#define DISK(dev, file, bus) \
  "    <disk type='file' device='disk'>\n" \
  "      <driver name='qemu' type='qcow2' discard='unmap'/>\n" \
  "      <source file='/var/lib/libvirt/images/" file "' index='2'/>\n" \
  "      <backingStore/>\n" \
  "      <target dev='" dev "' bus='" bus "'/>\n" \
  "      <alias name='" bus "-disk0'/>\n" \
  "      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>\n" \
  "    </disk>\n"

#define CDROM \
  "    <disk type='file' device='cdrom'>\n" \
  "      <driver name='qemu' type='raw'/>\n" \
  "      <source file='/var/lib/libvirt/images/debian-12.iso' index='1'/>\n" \
  "      <backingStore/>\n" \
  "      <target dev='sda' bus='sata'/>\n" \
  "      <readonly/>\n" \
  "      <alias name='sata0-0-0'/>\n" \
  "      <address type='drive' controller='0' bus='0' target='0' unit='0'/>\n" \
  "    </disk>\n"

#define TWO_DISKS_AND_CDROM \
  DISK ("vda", "web1.qcow2", "virtio") CDROM DISK ("vdb", "web1-data.qcow2", "virtio")

#define AGENT \
  "    <channel type='unix'>\n" \
  "      <source mode='bind' path='/run/libvirt/qemu/channel/3-web1/org.qemu.guest_agent.0'/>\n" \
  "      <target type='virtio' name='org.qemu.guest_agent.0' state='connected'/>\n" \
  "      <alias name='channel0'/>\n" \
  "      <address type='virtio-serial' controller='0' bus='0' port='1'/>\n" \
  "    </channel>\n"

#define VDAGENT \
  "    <channel type='spicevmc'>\n" \
  "      <target type='virtio' name='com.redhat.spice.0' state='disconnected'/>\n" \
  "      <alias name='channel1'/>\n" \
  "      <address type='virtio-serial' controller='0' bus='0' port='2'/>\n" \
  "    </channel>\n"

#define APPARMOR \
  "  <seclabel type='dynamic' model='apparmor' relabel='yes'>\n" \
  "    <label>libvirt-4dea22b3-1d52-d8f3-2516-782e98ab3fa0</label>\n" \
  "    <imagelabel>libvirt-4dea22b3-1d52-d8f3-2516-782e98ab3fa0</imagelabel>\n" \
  "  </seclabel>\n"

#define DAC(label) \
  "  <seclabel type='dynamic' model='dac' relabel='yes'>\n" \
  "    <label>" label "</label>\n" \
  "    <imagelabel>" label "</imagelabel>\n" \
  "  </seclabel>\n"

static void
parse_ok (const char *xml, struct vc_domain_info *info)
{
  char *err = NULL;

  if (vc_domain_info_parse (xml, info, &err) != 0)
    fail_msg ("refused: %s", err ? err : "(no message)");
  assert_null (err);
}

static void
assert_disks (const struct vc_domain_info *info, const char *expected)
{
  char buf[256] = "";

  for (size_t i = 0; i < info->disks.len; i++) {
    if (i > 0)
      strcat (buf, " ");
    strcat (buf, info->disks.ptr[i]);
  }
  assert_string_equal (buf, expected);
}

static void
test_live_xml_gives_disks_owner_and_agent (void **state)
{
  struct vc_domain_info info;

  parse_ok (LIVE_XML (TWO_DISKS_AND_CDROM, AGENT VDAGENT, APPARMOR DAC ("+64055:+64055")),
            &info);
  assert_disks (&info, "vda vdb");
  assert_true (info.have_owner);
  assert_int_equal (info.qemu_uid, 64055);
  assert_int_equal (info.qemu_gid, 64055);
  assert_true (info.has_agent);
  vc_domain_info_clear (&info);
}

static void
test_cdrom_and_floppy_are_skipped (void **state)
{
  struct vc_domain_info info;

  parse_ok (LIVE_XML (CDROM
                      "<disk type='file' device='floppy'><target dev='fda' bus='fdc'/></disk>\n"
                      /* device defaults to disk */
                      "<disk type='file'><source file='/x.img'/><target dev='hda' bus='ide'/></disk>\n"
                      DISK ("sdb", "b.qcow2", "scsi"),
                      "", DAC ("+107:+107")),
            &info);
  assert_disks (&info, "hda sdb");
  vc_domain_info_clear (&info);

  /* Only a cdrom: no disk at all. */
  parse_ok (LIVE_XML (CDROM, "", ""), &info);
  assert_int_equal (info.disks.len, 0);
  vc_domain_info_clear (&info);
}

static void
test_without_seclabel_no_owner (void **state)
{
  struct vc_domain_info info;

  parse_ok (LIVE_XML (TWO_DISKS_AND_CDROM, AGENT, ""), &info);
  assert_disks (&info, "vda vdb");
  assert_false (info.have_owner);
  assert_int_equal (info.qemu_uid, 0);
  assert_int_equal (info.qemu_gid, 0);
  vc_domain_info_clear (&info);

  /* An AppArmor label is not an owner. */
  parse_ok (LIVE_XML (TWO_DISKS_AND_CDROM, AGENT, APPARMOR), &info);
  assert_false (info.have_owner);
  vc_domain_info_clear (&info);
}

static void
test_dac_label_forms (void **state)
{
  static const struct {
    const char *xml;
    bool have_owner;
    unsigned uid, gid;                  /* when have_owner */
  } forms[] = {
    /* Without the plus signs. */
    { LIVE_XML (TWO_DISKS_AND_CDROM, "", DAC ("107:108")), true, 107, 108 },
    /* QEMU running as root is an owner too. */
    { LIVE_XML (TWO_DISKS_AND_CDROM, "", DAC ("+0:+0")), true, 0, 0 },
    /* Names (as in inactive XML) are not resolved: no owner. */
    { LIVE_XML (TWO_DISKS_AND_CDROM, "", DAC ("libvirt-qemu:kvm")), false, 0, 0 },
  };

  for (size_t i = 0; i < VC_TEST_ROWS (forms); i++) {
    struct vc_domain_info info;

    parse_ok (forms[i].xml, &info);
    if (info.have_owner != forms[i].have_owner)
      fail_msg ("form %zu: have_owner is %d", i, info.have_owner);
    if (forms[i].have_owner) {
      assert_int_equal (info.qemu_uid, forms[i].uid);
      assert_int_equal (info.qemu_gid, forms[i].gid);
    }
    vc_domain_info_clear (&info);
  }
}

static void
test_no_agent_channel (void **state)
{
  struct vc_domain_info info;

  parse_ok (LIVE_XML (TWO_DISKS_AND_CDROM, VDAGENT, DAC ("+64055:+64055")), &info);
  assert_false (info.has_agent);
  vc_domain_info_clear (&info);

  parse_ok (LIVE_XML (TWO_DISKS_AND_CDROM, "", DAC ("+64055:+64055")), &info);
  assert_false (info.has_agent);
  vc_domain_info_clear (&info);
}

static void
assert_target_refused (const char *target, const char *xml)
{
  struct vc_domain_info info;
  char *err = NULL;
  char *want;

  memset (&info, 0x5a, sizeof info);
  if (vc_domain_info_parse (xml, &info, &err) != -1)
    fail_msg ("disk target '%s' was accepted", target);
  assert_non_null (err);
  want = vc_printf ("disk target '%s' is not a plain name", target);
  assert_string_equal (err, want);
  free (want);
  free (err);
  /* Nothing is left to free. */
  assert_int_equal (info.disks.len, 0);
  assert_null (info.disks.ptr);
}

static void
test_odd_disk_target_is_refused (void **state)
{
  assert_target_refused ("vd/a", LIVE_XML (DISK ("vda", "a.qcow2", "virtio")
                                            DISK ("vd/a", "b.qcow2", "virtio"), "", ""));
  assert_target_refused ("VDA", LIVE_XML (DISK ("VDA", "a.qcow2", "virtio"), "", ""));
  assert_target_refused ("..", LIVE_XML (DISK ("..", "a.qcow2", "virtio"), "", ""));
  assert_target_refused ("vd a", LIVE_XML (DISK ("vd a", "a.qcow2", "virtio"), "", ""));
  assert_target_refused ("", LIVE_XML (DISK ("", "a.qcow2", "virtio"), "", ""));
  assert_target_refused ("vda.qcow2", LIVE_XML (DISK ("vda.qcow2", "a.qcow2", "virtio"), "", ""));
}

static void
test_bad_xml_is_refused (void **state)
{
  struct vc_domain_info info;
  char *err = NULL;

  assert_int_equal (vc_domain_info_parse ("<domain><devices>", &info, &err), -1);
  assert_non_null (err);
  assert_non_null (strstr (err, "malformed XML"));
  free (err);
  err = NULL;
  assert_int_equal (vc_domain_info_parse ("<!DOCTYPE domain [<!ENTITY x 'vda'>]>"
                                          "<domain/>", &info, &err), -1);
  assert_non_null (err);
  assert_non_null (strstr (err, "DOCTYPE"));
  free (err);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_live_xml_gives_disks_owner_and_agent),
    cmocka_unit_test (test_cdrom_and_floppy_are_skipped),
    cmocka_unit_test (test_without_seclabel_no_owner),
    cmocka_unit_test (test_dac_label_forms),
    cmocka_unit_test (test_no_agent_channel),
    cmocka_unit_test (test_odd_disk_target_is_refused),
    cmocka_unit_test (test_bad_xml_is_refused),
  };
  int r;


  vc_test_log_init ("test-domain-info");
  r = cmocka_run_group_tests_name ("domain-info", tests, NULL, NULL);
  vc_log_fini ();
  return r;
}
