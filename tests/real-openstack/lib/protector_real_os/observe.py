"""Prints what one real site holds, as JSON, for tests/real_openstack.rs to assert on
independently of protector: its servers (name, status, fixed IPs, key pair, tags, description,
availability zone, compute host), ports (name, fixed IPs, device, security groups by name),
volumes (name, status, host, attachments), server groups (name, policy, members) and key
pairs.

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
                'ips': sorted(a['addr'] for net in (s.addresses or {}).values() for a in net),
                'key_name': s.key_name, 'tags': sorted(s.tags or []),
                'description': s.description, 'availability_zone': s.availability_zone,
                'host': s.compute_host}
               for s in conn.compute.servers()]
    security_groups = {g.id: g.name for g in conn.network.security_groups()}
    ports = [{'id': p.id, 'name': p.name, 'device_id': p.device_id,
              'network_id': p.network_id,
              'ips': sorted(ip['ip_address'] for ip in p.fixed_ips),
              'security_groups': sorted(security_groups.get(g, g)
                                        for g in p.security_group_ids or [])}
             for p in conn.network.ports()]
    names = {s['id']: s['name'] for s in servers}
    server_groups = [{'name': g.name, 'policy': g.policy or (g.policies or [None])[0],
                      'members': sorted(names.get(m, m) for m in g.member_ids or [])}
                     for g in conn.compute.server_groups()]
    keypairs = sorted(k.name for k in conn.compute.keypairs())
    volumes = [{'id': v.id, 'name': v.name, 'status': v.status, 'host': v.host,
                'attached_to': sorted(a['server_id'] for a in v.attachments)}
               for v in conn.block_storage.volumes(all_projects=True)]
    networks = {n.id: n.name for n in conn.network.networks()}
    for port in ports:
        port['network'] = networks.get(port['network_id'])
    print(json.dumps({'servers': servers, 'ports': ports, 'volumes': volumes,
                      'server_groups': server_groups, 'keypairs': keypairs}, indent=1))


if __name__ == '__main__':
    main(sys.argv[1])
