#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The document generator of tests/bench/scale.sh.

gen DIR COUNT PREFIX CHECKPOINTS: COUNT store documents named
PREFIX%05d.xml in DIR, each a chain of CHECKPOINTS checkpoints whose
<xml> is a checkpoint as libvirt describes it (virDomainCheckpointGetXMLDesc
without VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN): with the whole <domain>
element of a typical q35 KVM guest (two virtio disks, a NIC, the usual
controllers, channels, serial console, VNC, a memory balloon, an RNG,
seclabels), about 4 KiB, escaped into the document as the store keeps it.
Every document has its own name and uuid, and a base equal to its
version, as the end of a sync leaves it.  Prints the average size.
With EVERY, each document also holds a schedule (store/schedule.h):
every EVERY seconds, into /backup/NAME.

forks TRACE PID: the processes PID forked, from TRACE, the output of
`strace -f -ttt -e trace=clone,clone3,fork,vfork` (no -q silencing
exits); prints one line per child, "CHILD FORKED EXITED" (wall-clock
seconds; EXITED is "-" when it had not exited).
"""
import os, sys, uuid
from xml.sax.saxutils import escape

DOMAIN = """<domain type='kvm' id='{id}'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://debian.org/debian/12"/>
    </libosinfo:libosinfo>
  </metadata>
  <memory unit='KiB'>8388608</memory>
  <currentMemory unit='KiB'>8388608</currentMemory>
  <vcpu placement='static'>4</vcpu>
  <resource>
    <partition>/machine</partition>
  </resource>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
    <apic/>
    <vmport state='off'/>
  </features>
  <cpu mode='host-passthrough' check='none' migratable='on'/>
  <clock offset='utc'>
    <timer name='rtc' tickpolicy='catchup'/>
    <timer name='pit' tickpolicy='delay'/>
    <timer name='hpet' present='no'/>
  </clock>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <pm>
    <suspend-to-mem enabled='no'/>
    <suspend-to-disk enabled='no'/>
  </pm>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' discard='unmap'/>
      <source file='/var/lib/libvirt/images/{name}-root.qcow2' index='2'/>
      <backingStore/>
      <target dev='vda' bus='virtio'/>
      <alias name='virtio-disk0'/>
      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' discard='unmap'/>
      <source file='/var/lib/libvirt/images/{name}-data.qcow2' index='1'/>
      <backingStore/>
      <target dev='vdb' bus='virtio'/>
      <alias name='virtio-disk1'/>
      <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>
    </disk>
    <controller type='usb' index='0' model='qemu-xhci' ports='15'>
      <alias name='usb'/>
      <address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>
    </controller>
    <controller type='pci' index='0' model='pcie-root'>
      <alias name='pcie.0'/>
    </controller>
    <controller type='pci' index='1' model='pcie-root-port'>
      <model name='pcie-root-port'/>
      <target chassis='1' port='0x10'/>
      <alias name='pci.1'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0' multifunction='on'/>
    </controller>
    <controller type='sata' index='0'>
      <alias name='ide'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x1f' function='0x2'/>
    </controller>
    <controller type='virtio-serial' index='0'>
      <alias name='virtio-serial0'/>
      <address type='pci' domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>
    </controller>
    <interface type='bridge'>
      <mac address='52:54:00:{m1:02x}:{m2:02x}:{m3:02x}'/>
      <source bridge='br0'/>
      <target dev='vnet{id}'/>
      <model type='virtio'/>
      <alias name='net0'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </interface>
    <serial type='pty'>
      <source path='/dev/pts/{id}'/>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
      <alias name='serial0'/>
    </serial>
    <console type='pty' tty='/dev/pts/{id}'>
      <source path='/dev/pts/{id}'/>
      <target type='serial' port='0'/>
      <alias name='serial0'/>
    </console>
    <channel type='unix'>
      <source mode='bind' path='/run/libvirt/qemu/channel/{id}-{name}/org.qemu.guest_agent.0'/>
      <target type='virtio' name='org.qemu.guest_agent.0' state='connected'/>
      <alias name='channel0'/>
      <address type='virtio-serial' controller='0' bus='0' port='1'/>
    </channel>
    <input type='tablet' bus='usb'>
      <alias name='input0'/>
      <address type='usb' bus='0' port='1'/>
    </input>
    <input type='mouse' bus='ps2'>
      <alias name='input1'/>
    </input>
    <input type='keyboard' bus='ps2'>
      <alias name='input2'/>
    </input>
    <graphics type='vnc' port='{port}' autoport='yes' listen='127.0.0.1'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>
    <video>
      <model type='virtio' heads='1' primary='yes'/>
      <alias name='video0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
    </video>
    <memballoon model='virtio'>
      <stats period='10'/>
      <alias name='balloon0'/>
      <address type='pci' domain='0x0000' bus='0x06' slot='0x00' function='0x0'/>
    </memballoon>
    <rng model='virtio'>
      <backend model='random'>/dev/urandom</backend>
      <alias name='rng0'/>
      <address type='pci' domain='0x0000' bus='0x07' slot='0x00' function='0x0'/>
    </rng>
  </devices>
  <seclabel type='dynamic' model='apparmor' relabel='yes'>
    <label>libvirt-{uuid}</label>
    <imagelabel>libvirt-{uuid}</imagelabel>
  </seclabel>
  <seclabel type='dynamic' model='dac' relabel='yes'>
    <label>+64055:+994</label>
    <imagelabel>+64055:+994</imagelabel>
  </seclabel>
</domain>"""


def checkpoint_xml(name, parent, created, domain):
    par = '  <parent>\n    <name>%s</name>\n  </parent>\n' % parent if parent else ''
    return ('<domaincheckpoint>\n  <name>%s</name>\n%s  <creationTime>%d</creationTime>\n'
            '  <disks>\n    <disk name=\'vda\' checkpoint=\'bitmap\' bitmap=\'%s\'/>\n'
            '    <disk name=\'vdb\' checkpoint=\'bitmap\' bitmap=\'%s\'/>\n  </disks>\n'
            '  %s\n</domaincheckpoint>\n' % (name, par, created, name, name,
                                             domain.replace('\n', '\n  ')))


def document(name, ckpts, i, every=0):
    u = str(uuid.uuid4())
    dom = DOMAIN.format(id=i % 10000 + 1, name=name, uuid=u, m1=(i >> 16) & 255,
                        m2=(i >> 8) & 255, m3=i & 255, port=5900 + i % 1000)
    out = ['<?xml version="1.0"?>\n<virtckpt-domain format="1">\n',
           '  <name>%s</name>\n  <uuid>%s</uuid>\n' % (name, u),
           # as a sync leaves it: based on the version every node holds
           '  <version generation="1" node="0"/>\n  <base generation="1" node="0"/>\n',
           '  <updated>1764000000</updated>\n',
           '  <checkpoints>\n']
    parent = None
    for k in range(1, ckpts + 1):
        cp = 'backup-%d' % k
        created = 1764000000 + k * 900
        out.append('    <checkpoint name="%s"%s created="%d">\n' %
                   (cp, ' parent="%s"' % parent if parent else '', created))
        out.append('      <disk name="vda" checkpoint="bitmap" bitmap="%s"/>\n' % cp)
        out.append('      <disk name="vdb" checkpoint="bitmap" bitmap="%s"/>\n' % cp)
        out.append('      <xml>%s</xml>\n' % escape(checkpoint_xml(cp, parent, created, dom)))
        out.append('    </checkpoint>\n')
        parent = cp
    out.append('  </checkpoints>\n')
    if every:
        out.append('  <schedule every="%d" set="1764000000">\n'
                   '    <dir>/backup/%s</dir>\n  </schedule>\n' % (every, name))
    out.append('</virtckpt-domain>\n')
    return ''.join(out).encode()


def cmd_gen(argv):
    d, count, prefix, ckpts = argv[0], int(argv[1]), argv[2], int(argv[3])
    every = int(argv[4]) if len(argv) > 4 else 0
    total = 0
    for i in range(1, count + 1):
        name = '%s%05d' % (prefix, i)
        doc = document(name, ckpts, i, every)
        total += len(doc)
        tmp = os.path.join(d, '.gen-%s' % name)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, doc)
        os.close(fd)
        os.rename(tmp, os.path.join(d, name + '.xml'))
    print(total // count)


def cmd_forks(argv):
    parent, forks, exits, pending = argv[1], {}, {}, {}
    for line in open(argv[0]):
        f = line.split(None, 2)
        if len(f) < 3:
            continue
        pid, t, rest = f
        if rest.startswith('+++ exited') or rest.startswith('+++ killed'):
            exits[pid] = t
        if pid != parent:
            continue
        if rest.startswith(('clone', 'fork', 'vfork')) and '<unfinished' in rest:
            pending[pid] = (t, 'CLONE_THREAD' in rest)
            continue
        if rest.startswith('<... '):
            if pid not in pending:
                continue
            (t, thread), call = pending.pop(pid), ''
        else:
            call, thread = rest, 'CLONE_THREAD' in rest
            if not call.startswith(('clone', 'fork', 'vfork')):
                continue
        ret = rest.rsplit('=', 1)[-1].split()[0] if '=' in rest else ''
        if not thread and ret.isdigit():
            forks[ret] = t
    for child, t in sorted(forks.items(), key=lambda kv: float(kv[1])):
        print(child, t, exits.get(child, '-'))


{'gen': cmd_gen, 'forks': cmd_forks}[sys.argv[1]](sys.argv[2:])
