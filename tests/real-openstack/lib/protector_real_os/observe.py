"""Prints what one real site holds, as JSON, for tests/real_openstack.rs to assert on
independently of protector: its servers (name, status, fixed IPs), ports (name, fixed IPs,
device) and volumes (name, status, host, attachments).

usage: python -m protector_real_os.observe SITE   (with OS_CLIENT_CONFIG_FILE set)

Through openstacksdk, not the `openstack` CLI: the CLI's `server list` looks images up in the
catalog's image service, which these sites list but do not serve (there is no Glance), and
fails even with --no-name-lookup."""
import json
import sys

import openstack


def main(site):
    conn = openstack.connect(cloud=site)
    servers = [{'id': s.id, 'name': s.name, 'status': s.status,
                'ips': sorted(a['addr'] for net in (s.addresses or {}).values() for a in net)}
               for s in conn.compute.servers()]
    ports = [{'id': p.id, 'name': p.name, 'device_id': p.device_id,
              'network_id': p.network_id,
              'ips': sorted(ip['ip_address'] for ip in p.fixed_ips)}
             for p in conn.network.ports()]
    volumes = [{'id': v.id, 'name': v.name, 'status': v.status, 'host': v.host,
                'attached_to': sorted(a['server_id'] for a in v.attachments)}
               for v in conn.block_storage.volumes(all_projects=True)]
    networks = {n.id: n.name for n in conn.network.networks()}
    for port in ports:
        port['network'] = networks.get(port['network_id'])
    print(json.dumps({'servers': servers, 'ports': ports, 'volumes': volumes}, indent=1))


if __name__ == '__main__':
    main(sys.argv[1])
