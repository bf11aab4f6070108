"""Creates on the two real sites what examples/prod-web-app.yaml expects, through their APIs as
the harness's user `protector` (openstacksdk), plus the array side the twin's fixture would have
(the instances' array volumes in protection group prod-web-app on fa-a).

site-a: networks net-primary-web 10.10.1.0/24 and net-primary-db 10.10.2.0/24, flavors m1.large
        and m1.small, volume type pure-replicated, security groups web and db (an ingress rule
        each), keypair ops, server group web-servers (anti-affinity), and the servers db-1
        (10.10.2.10, boot + data volume), web-1 (10.10.1.11) and web-2 (10.10.1.12) booted from
        1 GB volumes on the Pure backend, ACTIVE, each with key pair ops, security groups
        default and its tier's, tags and a description; web-1 and web-2 in web-servers (so on
        two compute hosts: each site has three, see nova_aio.py).
site-b: networks net-secondary-web/-db (same CIDRs), net-drill-web 192.168.101.0/24 and
        net-drill-db 192.168.102.0/24, flavors m2.large and m1.small, volume type
        pure-replicated, security groups web and db, keypair ops. No server group: a failover
        creates web-servers there (same name and policy), as protector plans it.

What already exists (by name) is kept, so a second run only completes a first one.

usage: python -m protector_real_os.seed DIR   (with DIR/env loaded: OS_CLIENT_CONFIG_FILE, FA_*)
"""
import os
import sys
import time

import openstack
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from protector_real_os import array

GROUP = 'prod-web-app'
VOLUME_TYPE = 'pure-replicated'
SIZE_GB = 1

SITES = {
    'site-a': {
        'pool': 'fa-a',
        'networks': [('net-primary-web', '10.10.1.0/24'), ('net-primary-db', '10.10.2.0/24')],
        'flavors': [('m1.large', 4, 8192, 80), ('m1.small', 1, 2048, 20)],
    },
    'site-b': {
        'pool': 'fa-b',
        'networks': [('net-secondary-web', '10.10.1.0/24'),
                     ('net-secondary-db', '10.10.2.0/24'),
                     ('net-drill-web', '192.168.101.0/24'),
                     ('net-drill-db', '192.168.102.0/24')],
        'flavors': [('m2.large', 4, 8192, 80), ('m1.small', 1, 2048, 20)],
    },
}
SECURITY_GROUPS = {'web': [80, 443], 'db': [5432]}
# name, network, fixed IP, security groups, metadata, volumes (the first boots)
SERVERS = [
    ('db-1', 'net-primary-db', '10.10.2.10', ['default', 'db'], {'tier': 'db'}, 2),
    ('web-1', 'net-primary-web', '10.10.1.11', ['default', 'web'], {'tier': 'web'}, 1),
    ('web-2', 'net-primary-web', '10.10.1.12', ['default', 'web'], {'tier': 'web'}, 1),
]
KEY_NAME = 'ops'
# what else each server carries: tags, description, server group (as the twin's fixture)
PROFILE = {
    'db-1': {'tags': ['critical', 'db'], 'description': 'PostgreSQL primary', 'group': None},
    'web-1': {'tags': ['web'], 'description': 'Web front end 1', 'group': 'web-servers'},
    'web-2': {'tags': ['web'], 'description': 'Web front end 2', 'group': 'web-servers'},
}
SERVER_GROUPS = {'web-servers': 'anti-affinity'}


def log(message):
    print('seed: %s' % message, flush=True)


def ensure_network(conn, name, cidr):
    network = conn.network.find_network(name)
    if network is None:
        network = conn.network.create_network(name=name)
        log('%s: network %s' % (conn.config.name, name))
    if not list(conn.network.subnets(network_id=network.id)):
        conn.network.create_subnet(name='%s-subnet' % name, network_id=network.id,
                                   ip_version=4, cidr=cidr, enable_dhcp=False)
    return network


def ensure_flavor(conn, name, vcpus, ram, disk):
    if conn.compute.find_flavor(name) is None:
        conn.compute.create_flavor(name=name, vcpus=vcpus, ram=ram, disk=disk)
        log('%s: flavor %s' % (conn.config.name, name))


def ensure_volume_type(conn, pool):
    if conn.block_storage.find_type(VOLUME_TYPE) is None:
        # Only the backend name: `replication_enabled='<is> True'` would need the Pure
        # driver's replication_device setup, else the scheduler finds no backend. The
        # replication itself is the array's protection group (see add_to_group). The backend
        # name is the site's array (lib/site-up): fa-a on site-a, fa-b on site-b.
        conn.block_storage.create_type(name=VOLUME_TYPE,
                                       extra_specs={'volume_backend_name': pool})
        log('%s: volume type %s' % (conn.config.name, VOLUME_TYPE))


def ensure_security_group(conn, name, ports):
    if conn.network.find_security_group(name) is None:
        group = conn.network.create_security_group(name=name, description='%s tier' % name)
        for port in ports:
            conn.network.create_security_group_rule(
                security_group_id=group.id, direction='ingress', ethertype='IPv4',
                protocol='tcp', port_range_min=port, port_range_max=port)
        log('%s: security group %s' % (conn.config.name, name))


def ensure_keypair(conn, public_key):
    if conn.compute.find_keypair(KEY_NAME) is None:
        conn.compute.create_keypair(name=KEY_NAME, public_key=public_key)
        log('%s: keypair %s' % (conn.config.name, KEY_NAME))


def ensure_server_group(conn, name, policy):
    group = conn.compute.find_server_group(name)
    if group is None:
        group = conn.compute.create_server_group(name=name, policy=policy)
        log('%s: server group %s (%s)' % (conn.config.name, name, policy))
    return group


def ops_key(directory):
    """The public half of DIR/seed/ops.key, made on first use."""
    path = os.path.join(directory, 'seed', 'ops.key')
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not os.path.exists(path):
        key = ed25519.Ed25519PrivateKey.generate()
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), 'wb') as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.OpenSSH,
                                      serialization.NoEncryption()))
    with open(path, 'rb') as f:
        key = serialization.load_ssh_private_key(f.read(), password=None)
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH).decode() + ' ops'


def wait_volume(conn, volume, status='available'):
    return conn.block_storage.wait_for_status(volume, status=status, failures=['error'],
                                              interval=0.5, wait=120)


def ensure_server(conn, name, network_name, ip, groups, metadata, volume_count):
    server = conn.compute.find_server(name)
    if server is not None:
        server = conn.compute.wait_for_server(server, status='ACTIVE', interval=0.5, wait=120)
        return server
    volumes = []
    for index in range(volume_count):
        volume_name = '%s-boot' % name if index == 0 else '%s-data-%d' % (name, index)
        volume = conn.block_storage.find_volume(volume_name)
        if volume is None:
            volume = conn.block_storage.create_volume(name=volume_name, size=SIZE_GB,
                                                      volume_type=VOLUME_TYPE)
        volume = wait_volume(conn, volume)
        if index == 0 and not volume.is_bootable:
            # no Glance: an empty volume marked bootable, as an imported disk would be
            conn.block_storage.set_volume_bootable_status(volume, True)
        volumes.append(volume)
    network = conn.network.find_network(network_name, ignore_missing=False)
    port = conn.network.find_port('%s-port' % name)
    if port is None:
        subnet = next(conn.network.subnets(network_id=network.id))
        group_ids = [conn.network.find_security_group(g, ignore_missing=False).id
                     for g in groups]
        port = conn.network.create_port(
            name='%s-port' % name, network_id=network.id, security_group_ids=group_ids,
            fixed_ips=[{'subnet_id': subnet.id, 'ip_address': ip}])
    flavor = conn.compute.find_flavor('m1.large', ignore_missing=False)
    mappings = [{'boot_index': 0 if index == 0 else -1, 'uuid': volume.id,
                 'source_type': 'volume', 'destination_type': 'volume',
                 'delete_on_termination': False}
                for index, volume in enumerate(volumes)]
    profile = PROFILE[name]
    extra = {}
    if profile['group']:
        group = conn.compute.find_server_group(profile['group'], ignore_missing=False)
        extra['scheduler_hints'] = {'group': group.id}
    server = conn.compute.create_server(
        name=name, flavor_id=flavor.id, networks=[{'port': port.id}], key_name=KEY_NAME,
        metadata=metadata, block_device_mapping_v2=mappings, tags=profile['tags'],
        description=profile['description'], **extra)
    server = conn.compute.wait_for_server(server, status='ACTIVE', failures=['ERROR'],
                                          interval=0.5, wait=180)
    log('site-a: server %s ACTIVE at %s with %d volume(s)' % (name, ip, len(volumes)))
    return server


def add_to_group(fa, volume_ids):
    """Puts the servers' array volumes into protection group prod-web-app (what the twin's
    fixture does for its instances; on a real array the admin or the Pure driver's replicated
    volume types do it)."""
    names = ['volume-%s-cinder' % v for v in volume_ids]
    members = {m['member']['name'] for m in
               fa.call('GET', 'protection-groups/volumes', params={'group_names': GROUP})}
    missing = [n for n in names if n not in members]
    if missing:
        fa.call('POST', 'protection-groups/volumes',
                params={'group_names': GROUP, 'member_names': ','.join(missing)})
        log('fa-a: %d volume(s) added to protection group %s' % (len(missing), GROUP))


def main(directory):
    started = time.monotonic()
    public_key = ops_key(directory)
    conns = {site: openstack.connect(cloud=site) for site in SITES}
    for site, spec in SITES.items():
        conn = conns[site]
        for name, cidr in spec['networks']:
            ensure_network(conn, name, cidr)
        for flavor in spec['flavors']:
            ensure_flavor(conn, *flavor)
        ensure_volume_type(conn, spec['pool'])
        for name, ports in SECURITY_GROUPS.items():
            ensure_security_group(conn, name, ports)
        ensure_keypair(conn, public_key)
    conn = conns['site-a']
    for name, policy in SERVER_GROUPS.items():
        ensure_server_group(conn, name, policy)
    volume_ids = []
    for spec in SERVERS:
        server = ensure_server(conn, *spec)
        volume_ids += [a['id'] for a in server.attached_volumes]
    add_to_group(array.from_env('site-a'), volume_ids)
    log('done in %.0fs' % (time.monotonic() - started))


if __name__ == '__main__':
    main(sys.argv[1])
