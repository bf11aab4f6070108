"""Nova's fake virt driver as one compute host of several in ONE process (nova_aio.py runs three
per site, so that anti-affinity server groups can be honoured).

`nova.virt.fake.FakeDriverWithoutFakeNodes` takes its node UUID from the process-wide local
node identity (DIR/SITE/state/compute_id), so two hosts in one process would share one node;
`FakeDriver` names each node after its host but draws its UUID at random per process, so a
restarted site (start-site) would report other nodes than its database holds. This one names
each node after its host and derives the UUID from that name: distinct per host, the same
after a restart.

Nova loads its driver from the nova.virt package only: nova_aio.py registers this module as
`nova.virt.protector_real_os_fake`, configured as
`compute_driver = protector_real_os_fake.FakeHostDriver`."""
import uuid

from nova.virt import fake


def node_uuid(nodename):
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, '%s.protector-real-os' % nodename))


class FakeHostDriver(fake.FakeDriver):
    def get_available_resource(self, nodename):
        resources = super().get_available_resource(nodename)
        if resources:
            resources['uuid'] = node_uuid(nodename)
        return resources

    def get_nodenames_by_uuid(self, refresh=False):
        return {node_uuid(n): n for n in self.get_available_nodes()}
