"""The smoke check of tests/real-openstack/check: what `seed` made holds on the real sites and
on the twin's arrays. Prints what it sees; exits 1 on the first list of mismatches.

usage: python -m protector_real_os.check   (with DIR/env loaded)"""
import json
import os
import sys
import urllib.request

import openstack

from protector_real_os.seed import GROUP, SERVERS

ARRAYS = {'site-a': 'fa-a', 'site-b': 'fa-b'}


def main():
    problems = []
    world = json.load(urllib.request.urlopen(os.environ['PROTECTOR_SIM_CONTROL'] + '/world',
                                             timeout=10))
    for site, array_name in ARRAYS.items():
        conn = openstack.connect(cloud=site)
        fa = world['sites'][site]['array']
        if fa['name'] != array_name:
            problems.append('%s: the twin array is %s, not %s' % (site, fa['name'], array_name))
        live = {name for name, v in fa['volumes'].items() if not v.get('destroyed')}
        volumes = list(conn.block_storage.volumes(details=True, all_projects=True))
        print('%s (array %s): %d Cinder volume(s), %d array volume(s)'
              % (site, array_name, len(volumes), len(live)))

        if site == 'site-a':
            servers = {s.name: s for s in conn.compute.servers(details=True)}
            for name, network, ip, _groups, _metadata, count in SERVERS:
                server = servers.get(name)
                if server is None:
                    problems.append('site-a: no server %s' % name)
                    continue
                ips = {a['addr'] for n, addrs in (server.addresses or {}).items()
                       for a in addrs if n == network}
                attached = [a['id'] for a in server.attached_volumes or []]
                print('  server %-6s %-7s %s: %s, %d volume(s)'
                      % (name, server.status, network, ','.join(sorted(ips)) or '-',
                         len(attached)))
                if server.status != 'ACTIVE':
                    problems.append('site-a: server %s is %s' % (name, server.status))
                if ip not in ips:
                    problems.append('site-a: server %s has %s on %s, not %s'
                                    % (name, sorted(ips), network, ip))
                if len(attached) != count:
                    problems.append('site-a: server %s has %d volume(s), not %d'
                                    % (name, len(attached), count))
                for volume_id in attached:
                    volume = conn.block_storage.get_volume(volume_id)
                    if volume.status != 'in-use':
                        problems.append('site-a: volume %s of %s is %s, not in-use'
                                        % (volume.name, name, volume.status))
                    if not (volume.host or '').startswith('site-a@pure#'):
                        problems.append('site-a: volume %s of %s is on %s, not site-a@pure#...'
                                        % (volume.name, name, volume.host))
                    if 'volume-%s-cinder' % volume_id not in fa['protection_groups'].get(
                            GROUP, {}).get('volumes', []):
                        problems.append('fa-a: volume-%s-cinder (%s) is not in protection '
                                        'group %s' % (volume_id, volume.name, GROUP))

        for volume in volumes:
            wanted = 'volume-%s-cinder' % volume.id
            here = wanted in live
            print('  volume %-12s %-9s %-22s -> %s %s'
                  % (volume.name, volume.status, volume.host, wanted,
                     'on ' + array_name if here else 'MISSING'))
            if volume.status.startswith('error'):
                problems.append('%s: Cinder volume %s (%s) is %s'
                                % (site, volume.name, volume.id, volume.status))
                continue
            if not here and volume.status not in ('creating', 'deleting'):
                problems.append('%s: Cinder volume %s (%s) has no array volume %s on %s'
                                % (site, volume.name, volume.id, wanted, array_name))
            # what the Pure driver records and protector reads to find the array volume
            metadata = volume.metadata or {}
            if (metadata.get('array_volume_name'), metadata.get('array_name')) != (
                    wanted, array_name):
                problems.append('%s: volume %s has metadata array_volume_name=%s '
                                'array_name=%s, not %s on %s'
                                % (site, volume.name, metadata.get('array_volume_name'),
                                   metadata.get('array_name'), wanted, array_name))
    if problems:
        print('check FAILED:')
        for problem in problems:
            print('  ' + problem)
        return 1
    print('check passed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
