"""Waits until one site answers through its real APIs as the harness's user: Keystone issues a
token, Nova lists its compute services up with a hypervisor each, Neutron lists networks, and
Cinder's scheduler knows a pool of the backend `HOST@BACKEND` (the volume driver set itself up
and reported its stats; until then every volume create fails with "No valid backend").

usage: python -m protector_real_os.ready --cloud site-a --backend site-a@pure [--timeout 120]
On failure prints `not ready: SERVICE: reason` (SERVICE is keystone, nova, neutron or cinder)
and exits 1."""
import argparse
import sys
import time

import openstack


class NotReady(Exception):
    def __init__(self, service, reason):
        super().__init__('%s: %s' % (service, reason))
        self.service = service


def probe(cloud, backend):
    try:
        conn = openstack.connect(cloud=cloud)
        conn.authorize()
    except Exception as error:  # noqa: BLE001 - any failure means "not yet"
        raise NotReady('keystone', error)
    try:
        services = [s for s in conn.compute.services() if s.binary == 'nova-compute']
        if not services or any(s.state != 'up' for s in services):
            raise NotReady('nova', 'nova-compute is not up: %s'
                           % [(s.host, s.state) for s in services])
        hypervisors = list(conn.compute.hypervisors())
        if len(hypervisors) < len(services):
            raise NotReady('nova', '%d hypervisor(s) for %d compute service(s)'
                           % (len(hypervisors), len(services)))
    except NotReady:
        raise
    except Exception as error:  # noqa: BLE001
        raise NotReady('nova', error)
    try:
        list(conn.network.networks())
    except Exception as error:  # noqa: BLE001
        raise NotReady('neutron', error)
    try:
        pools = [p.name for p in conn.block_storage.backend_pools()]
    except Exception as error:  # noqa: BLE001
        raise NotReady('cinder', error)
    if not any(p.startswith(backend + '#') for p in pools):
        raise NotReady('cinder', 'the scheduler knows no pool of %s (pools: %s): the volume '
                       'driver did not set up or report its stats' % (backend, pools))
    return [p for p in pools if p.startswith(backend + '#')]


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('--cloud', required=True)
    parser.add_argument('--backend', required=True)
    parser.add_argument('--timeout', type=float, default=120)
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.timeout
    while True:
        try:
            pools = probe(args.cloud, args.backend)
            print('%s ready: pools %s' % (args.cloud, ', '.join(pools)), flush=True)
            return 0
        except NotReady as error:
            if time.monotonic() > deadline:
                print('not ready: %s' % error, flush=True)
                return 1
        time.sleep(1)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
