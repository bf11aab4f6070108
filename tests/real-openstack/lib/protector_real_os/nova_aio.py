"""nova-api, nova-conductor, nova-scheduler and nova-compute (fake virt driver) in ONE process,
with native threads (no eventlet) and one in-memory `fake://` RPC bus shared by every cell, as
Nova's own RPCFixture does. The API is served by a threaded wsgiref server. One nova-compute
service per host named in NOVA_AIO_COMPUTE_HOSTS (comma-separated; default: CONF.host), each
with its own fake driver (fakehost.py), as Nova's functional tests run several computes.

Configuration comes from OS_NOVA_CONFIG_DIR + OS_NOVA_CONFIG_FILES; NOVA_AIO_PORT is the API
port. Prints `nova aio ready` once every compute host is mapped to its cell (before that, the
scheduler does not see it).

usage: python -m protector_real_os.nova_aio"""
import os

os.environ['OS_NOVA_DISABLE_EVENTLET_PATCHING'] = 'true'
os.environ.setdefault('OS_NOVA_CONFIG_FILES', 'api-paste.ini;nova.conf')

from nova import monkey_patch  # noqa: E402

monkey_patch.patch(backend='threading')

import socketserver  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from wsgiref import simple_server  # noqa: E402

sys.argv = sys.argv[:1]

import oslo_messaging as messaging  # noqa: E402

import nova.conf  # noqa: E402
from nova import context, rpc, service  # noqa: E402
from nova.api.openstack import wsgi_app  # noqa: E402

from protector_real_os import wire  # noqa: E402

CONF = nova.conf.CONF
_bus = {}


def _shared_transport(url):
    if 'bus' not in _bus:
        _bus['bus'] = messaging.get_rpc_transport(
            CONF, url=None, allowed_remote_exmods=rpc.get_allowed_exmods())
    return _bus['bus']


class _Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


def main():
    if not os.environ.get('OS_NOVA_CONFIG_DIR'):
        raise SystemExit('OS_NOVA_CONFIG_DIR is not set')
    port = int(os.environ['NOVA_AIO_PORT'])
    wire.install()
    rpc.create_transport = _shared_transport
    app = wsgi_app.init_application('osapi_compute', 'nova-api-os-compute')

    import os_brick
    os_brick.setup(CONF)
    # A real compute host's open-iscsi supports manual scans, so os-brick takes no lock around
    # an attach. Here there is no iscsiadm, os-brick then locks on the volume's service_uuid,
    # and a volume Cinder MANAGED has none (only a created volume gets one): every boot from a
    # managed volume failed with "'NoneType' object has no attribute 'replace'"
    # (tests/real-openstack/DIFFERENCES.md). Be that host.
    from os_brick.initiator import utils as brick_utils
    brick_utils.ISCSI_SUPPORTS_MANUAL_SCAN = True

    from nova.compute import rpcapi as compute_rpc
    from nova.conductor import rpcapi as conductor_rpc
    from nova.scheduler import rpcapi as scheduler_rpc
    # nova-compute refuses to start again (start-site) without a local node identity file,
    # which only the single-node drivers write: write it (fakehost.py names the nodes).
    import nova.virt.node
    nova.virt.node.get_local_node_uuid()
    # the driver (nova loads drivers from its nova.virt package only)
    from protector_real_os import fakehost
    sys.modules['nova.virt.protector_real_os_fake'] = fakehost
    hosts = [h for h in os.environ.get('NOVA_AIO_COMPUTE_HOSTS', CONF.host).split(',') if h]
    services = [
        service.Service.create(binary='nova-conductor', topic=conductor_rpc.RPC_TOPIC),
        service.Service.create(binary='nova-scheduler', topic=scheduler_rpc.RPC_TOPIC),
    ] + [service.Service.create(host=host, binary='nova-compute', topic=compute_rpc.RPC_TOPIC,
                                topic_alt=compute_rpc.RPC_TOPIC_ALT)
         for host in hosts]
    for svc in services:
        svc.start()

    httpd = simple_server.make_server('127.0.0.1', port, app, server_class=_Server,
                                      handler_class=_QuietHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()

    from nova.objects import host_mapping
    ctxt = context.get_admin_context()
    for _ in range(240):
        # each compute service creates its compute node on its first resource update
        host_mapping.discover_hosts(ctxt)
        unmapped = [host for host in hosts if not _mapped(ctxt, host)]
        if not unmapped:
            break
        time.sleep(0.5)
    else:
        raise SystemExit('nova-compute %s never registered a compute node' % unmapped)
    print('nova aio ready on 127.0.0.1:%d' % port, flush=True)
    while True:
        time.sleep(3600)


def _mapped(ctxt, host):
    from nova import exception
    from nova.objects import host_mapping
    try:
        host_mapping.HostMapping.get_by_host(ctxt, host)
        return True
    except exception.HostMappingNotFound:
        return False


if __name__ == '__main__':
    main()
