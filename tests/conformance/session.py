#!/usr/bin/env python3
"""A scripted DR session against the twin, spoken by the real clients: openstacksdk for
Keystone/Nova/Cinder/Neutron and py-pure-client for the FlashArrays.

Run by tests/conformance/run with the twin's env file loaded (OS_CLIENT_CONFIG_FILE,
PROTECTOR_SIM_CONTROL, FA_<SITE>_URL/_API_TOKEN/_CA_CERT). Every check asserts what the REAL
services answer (their API references, and for the array side what the Cinder Pure driver
relies on), not what the twin happens to answer today. One line per check:

    PASS  area: what
    FAIL  area: what: why
    SKIP  area: what (needs ...)      a check whose input an earlier failure did not produce

and a last line `N passed, M failed[, K skipped]`. Exit status 1 when anything failed.
"""

import argparse
import copy
import json
import os
import sys
import time
import traceback
import urllib.request
from importlib import metadata

import logging

import openstack
import openstack.connection
import openstack.exceptions as os_exc
import yaml
from openstack.config import loader as os_loader
from pypureclient import flasharray
from pypureclient.configuration import Configuration as PureConfiguration
from pypureclient.exceptions import PureError

GIB = 1 << 30

# What the built-in fixture (examples/sim/two-sites.yaml) holds.
SITE_A = "site-a"
SITE_B = "site-b"
SITE_A_SERVERS = {
    # name: (network, fixed ip, flavor, boot volume GiB, data volume GiB or None, tier)
    "db-1": ("net-primary-db", "10.10.2.10", "m1.large", 40, 200, "db"),
    "web-1": ("net-primary-web", "10.10.1.11", "m1.large", 20, None, "web"),
    "web-2": ("net-primary-web", "10.10.1.12", "m1.large", 20, None, "web"),
}
# name: (security groups, availability zone, tags, description, server group)
SITE_A_IDENTITY = {
    "db-1": (["default", "db", "db-admin"], "az-1", ["db", "critical"], "PostgreSQL primary", None),
    "web-1": (["default", "web", "web-lb"], "az-1", ["web"], "Web front end 1", "web-servers"),
    "web-2": (["default", "web", "web-lb"], "az-2", ["web"], "Web front end 2", "web-servers"),
}
# The key of Nova's API sample v2.92/keypairs-import-post-req.json, and the fingerprint Nova
# gives it (keypairs-import-post-resp.json).
SAMPLE_PUBLIC_KEY = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDx8nkQv/zgGgB4rMYmIf+6A4l6Rr+o/6lHBQdW5aYd44bd8JttDCE/"
    "F/pNRr0lRE+PiqSPO8nDPHw0010JeMH9gYgnnFlyY3/OcJ02RhIPyyxYpv9FhY+2YiUkpwFOcLImyrxEsYXpD/0d3ac"
    "30bNH6Sw9JD9UZHYcpSxsIbECHw== Generated-by-Nova"
)
SAMPLE_FINGERPRINT = "1e:2c:9b:56:79:4b:45:77:f9:ca:7a:98:2c:b0:d5:3c"
SITE_A_NETWORKS = {"net-primary-web": "10.10.1.0/24", "net-primary-db": "10.10.2.0/24"}
SITE_B_NETWORKS = {
    "net-secondary-web": "10.10.1.0/24",
    "net-secondary-db": "10.10.2.0/24",
    "net-drill-web": "192.168.101.0/24",
    "net-drill-db": "192.168.102.0/24",
}
PROTECTION_GROUP = "prod-web-app"
SITE_B_CINDER_HOST = "site-b@pure#fa-b"
RECOVERED = "web-1-recovered"
# A second copy, used to show what the Pure driver does with its own listed `name` reference.
PROBE = "web-1-probe"
# A third, for the array's own rename/destroy/eradicate cycle.
SCRATCH = "web-1-scratch"
VIEWER = ("viewer", "viewer-secret")
MANAGE_DENIED = "Policy doesn't allow volume_extension:volume_manage to be performed."
UNMANAGE_DENIED = "Policy doesn't allow volume_extension:volume_unmanage to be performed."

# Timeouts are generous: at --speed 200 every modelled latency is well under a second.
WAIT = 60.0
API_TIMEOUT = 30


class Skip(Exception):
    pass


class Checks:
    def __init__(self, label):
        self.label = label
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.state = {}

    def need(self, *keys):
        missing = [key for key in keys if self.state.get(key) is None]
        if missing:
            raise Skip("needs " + ", ".join(missing))
        values = [self.state[key] for key in keys]
        return values[0] if len(values) == 1 else values

    def run(self, name, fn):
        started = time.monotonic()
        try:
            fn()
        except Skip as skip:
            self.skipped += 1
            print(f"SKIP  {name} ({skip})", flush=True)
            return False
        except AssertionError as error:
            self.failed += 1
            print(f"FAIL  {name}: {error}", flush=True)
            return False
        except Exception as error:  # the client raised: that is the twin's answer too
            self.failed += 1
            print(f"FAIL  {name}: {describe(error)}", flush=True)
            if os.environ.get("CONFORMANCE_TRACEBACK"):
                traceback.print_exc()
            return False
        self.passed += 1
        elapsed = time.monotonic() - started
        slow = f" ({elapsed:.1f}s)" if elapsed >= 1.0 else ""
        print(f"PASS  {name}{slow}", flush=True)
        return True


def describe(error):
    """One line about a client exception: for HTTP errors the request and the answer."""
    if isinstance(error, os_exc.HttpException) and error.response is not None:
        response = error.response
        request = response.request
        body = response.text[:300].replace("\n", " ")
        return (
            f"{type(error).__name__}: {request.method} {response.url} -> "
            f"{response.status_code}: {body}"
        )
    text = str(error).replace("\n", " ")
    return f"{type(error).__name__}: {text[:400]}"


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def expect_eq(actual, expected, what):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def poll(fetch, done, what, timeout=WAIT, interval=0.1):
    """Calls fetch() until done(value); returns the value. AssertionError with the last value
    (or the last exception) on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fetch()
            if done(last):
                return last
        except os_exc.NotFoundException:
            last = "404 Not Found"
            if done(None):
                return None
        except AssertionError:
            raise
        except Exception as error:
            last = describe(error)
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last}")
        time.sleep(interval)


# ------------------------------------------------------------------------ control API


def control(method, path, body=None):
    url = os.environ["PROTECTOR_SIM_CONTROL"].rstrip("/") + path
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=API_TIMEOUT) as response:
        text = response.read()
    return json.loads(text) if text else None


# ------------------------------------------------------------------------ FlashArray helpers


def fa_env(site, what):
    name = "FA_" + "".join(c if c.isalnum() else "_" for c in site.upper()) + "_" + what
    value = os.environ.get(name)
    expect(value, f"${name} is not set by the twin's env file")
    return value


def fa_target(site):
    url = fa_env(site, "URL")
    expect(url.startswith("https://"), f"FA URL {url!r} is not https://")
    return url[len("https://"):].rstrip("/")


def fa_client(site, token=None, ca=True):
    """py-pure-client's documented way in: target is host:port (it prepends https://), an API
    token, verify_ssl=True and the CA bundle. In 1.96.0 the `ssl_cert=` argument is stored on the
    transport configuration but never read (urllib3 gets `ssl_ca_cert`), so the CA goes through
    `Configuration(ssl_ca_cert=...)`; `ssl_cert=` is passed too, as older releases read it."""
    ca_path = fa_env(site, "CA_CERT") if ca else None
    return flasharray.Client(
        target=fa_target(site),
        api_token=token or fa_env(site, "API_TOKEN"),
        verify_ssl=True,
        ssl_cert=ca_path,
        configuration=PureConfiguration(ssl_ca_cert=ca_path),
        timeout=(5, API_TIMEOUT),
        retries=1,
    )


def fa_ok(response, what):
    """The items of a ValidResponse; AssertionError with the array's errors otherwise."""
    if isinstance(response, flasharray.ValidResponse):
        return list(response.items or [])
    errors = getattr(response, "errors", None) or []
    messages = "; ".join(
        f"{getattr(e, 'context', None)}: {getattr(e, 'message', None)}" for e in errors
    )
    raise AssertionError(
        f"{what}: HTTP {getattr(response, 'status_code', '?')}: {messages or response!r}"
    )


def fa_volume_exists(client, name):
    response = client.get_volumes(names=[name])
    if isinstance(response, flasharray.ValidResponse):
        return len(list(response.items)) == 1
    return False


def fa_expect_not_exist(client, name):
    """A name that does not exist: FlashArray answers 400 with "... does not exist." (the Cinder
    Pure driver matches that text to tell a missing volume from other errors)."""
    response = client.get_volumes(names=[name])
    if isinstance(response, flasharray.ValidResponse):
        found = [v.name for v in response.items]
        raise AssertionError(
            f"GET /volumes?names={name} answered 200 with {found}: expected 400 (does not exist)"
        )
    expect_eq(response.status_code, 400, f"status of GET /volumes?names={name}")
    message = response.errors[0].message if response.errors else ""
    expect("does not exist" in message, f"error message {message!r} lacks 'does not exist'")


def attr(obj, name, default=None):
    try:
        value = getattr(obj, name)
    except AttributeError:
        return default
    return default if value is None else value


def ref_name(reference):
    if reference is None:
        return None
    if isinstance(reference, dict):
        return reference.get("name")
    return attr(reference, "name")


# ------------------------------------------------------------------------ OpenStack helpers


def connect(cloud):
    return openstack.connect(cloud=cloud, api_timeout=API_TIMEOUT)


def connect_from(config_file, cloud):
    config = os_loader.OpenStackConfig(
        config_files=[config_file], vendor_files=[], load_envvars=False
    )
    region = config.get_one(cloud=cloud, api_timeout=API_TIMEOUT)
    return openstack.connection.Connection(config=region)


def clouds_document():
    with open(os.environ["OS_CLIENT_CONFIG_FILE"]) as handle:
        return yaml.safe_load(handle)


def write_side_config(clouds):
    """A copy of the twin's clouds.yaml, next to it, with extra clouds for this session (the
    twin's own file stays as written)."""
    document = copy.deepcopy(clouds_document())
    document["clouds"].update(clouds)
    folder = os.path.dirname(os.environ["OS_CLIENT_CONFIG_FILE"])
    path = os.path.join(folder, "clouds-conformance.yaml")
    with open(path, "w") as handle:
        yaml.safe_dump(document, handle)
    return path


def endpoint_of(conn, service_type, fallbacks=()):
    catalog = conn.session.auth.get_access(conn.session).service_catalog
    for kind in (service_type, *fallbacks):
        try:
            url = catalog.url_for(service_type=kind, interface="public")
        except Exception:
            continue
        if url:
            return url
    return None


def token_methods(access):
    # keystoneauth keeps the token document; `methods` has no accessor of its own.
    return access._data.get("token", {}).get("methods")


def max_microversion(proxy):
    data = proxy.get_endpoint_data()
    return None if data is None else data.max_microversion


def ips_of(server, network):
    return [entry.get("addr") for entry in (server.addresses or {}).get(network, [])]


# ------------------------------------------------------------------------ the session


def session(c, label):
    S = c.state
    tls = label == "tls"

    # ---------------------------------------------------------------- control API
    def world():
        dump = control("GET", "/world")
        sites = dump.get("sites") or {}
        expect(
            {SITE_A, SITE_B} <= set(sites),
            f"GET /world sites: expected site-a and site-b, got {sorted(sites)}",
        )
        S["world"] = dump

    c.run("control: GET /world lists site-a and site-b", world)

    # ---------------------------------------------------------------- clouds.yaml
    def clouds_file():
        clouds = clouds_document()["clouds"]
        for name in (SITE_A, SITE_B, f"{SITE_A}-protector-dr", f"{SITE_B}-protector-dr"):
            expect(name in clouds, f"cloud {name!r} missing from clouds.yaml: {sorted(clouds)}")
        for name, cloud in clouds.items():
            url = cloud["auth"]["auth_url"]
            scheme = "https://" if tls else "http://"
            expect(url.startswith(scheme), f"{name}: auth_url {url!r} is not {scheme}")
            if tls:
                expect(
                    cloud.get("cacert") and os.path.exists(cloud["cacert"]),
                    f"{name}: no usable cacert in clouds.yaml ({cloud.get('cacert')!r})",
                )
        expect_eq(
            clouds[f"{SITE_B}-protector-dr"].get("auth_type"),
            "v3applicationcredential",
            "auth_type of site-b-protector-dr",
        )
        S["clouds"] = clouds

    c.run(f"clouds.yaml: four clouds, {'https + cacert' if tls else 'http'}", clouds_file)

    # ---------------------------------------------------------------- Keystone
    def password_login(site, key):
        def check():
            c.need("clouds")
            conn = connect(site)
            token = conn.authorize()
            expect(token, "no token")
            access = conn.session.auth.get_access(conn.session)
            expect_eq(access.project_name, "prod", "token project")
            expect_eq(access.username, "protector", "token user")
            expect("admin" in access.role_names, f"roles {access.role_names} lack admin")
            expect_eq(token_methods(access), ["password"], "token methods")
            for kind, fallbacks in (
                ("identity", ()),
                ("compute", ()),
                ("block-storage", ("volumev3",)),
                ("network", ()),
            ):
                url = endpoint_of(conn, kind, fallbacks)
                expect(url, f"catalog has no public {kind} endpoint")
                expect(
                    url.startswith(S["clouds"][site]["auth"]["auth_url"].split("/identity")[0]),
                    f"{kind} endpoint {url} is not on the site's port",
                )
            S[key] = conn

        return check

    c.run("keystone: site-a password auth (token, project prod, roles, catalog)",
          password_login(SITE_A, "a"))
    c.run("keystone: site-b password auth (token, project prod, roles, catalog)",
          password_login(SITE_B, "b"))

    def app_cred_login(site, key):
        def check():
            c.need("clouds")
            conn = connect(f"{site}-protector-dr")
            expect(conn.authorize(), "no token")
            access = conn.session.auth.get_access(conn.session)
            expect_eq(token_methods(access), ["application_credential"], "token methods")
            expect_eq(
                access.application_credential_id,
                S["clouds"][f"{site}-protector-dr"]["auth"]["application_credential_id"],
                "token application_credential.id",
            )
            expect_eq(access.project_name, "prod", "token project")
            expect_eq(access.username, "protector", "token user")
            S[key] = conn

        return check

    c.run("keystone: site-a-protector-dr application credential auth",
          app_cred_login(SITE_A, "a_dr"))
    c.run("keystone: site-b-protector-dr application credential auth",
          app_cred_login(SITE_B, "b_dr"))

    def bad_password():
        clouds = c.need("clouds")
        c.need("a")  # the right password works, so a refusal is about the password
        cloud = copy.deepcopy(clouds[SITE_A])
        cloud["auth"]["password"] = "wrong"
        path = write_side_config({"site-a-wrong-password": cloud})
        conn = connect_from(path, "site-a-wrong-password")
        try:
            conn.authorize()
        except Exception as error:
            text = str(error)
            expect(
                "401" in text or "Unauthorized" in type(error).__name__
                or "authentication" in text.lower(),
                f"expected a 401, got {describe(error)}",
            )
            return
        raise AssertionError("a wrong password was accepted")

    c.run("keystone: a wrong password is refused (401)", bad_password)

    if tls:
        def without_ca():
            clouds = c.need("clouds")
            c.need("a")  # with the CA it works, so a refusal is about the CA
            cloud = copy.deepcopy(clouds[SITE_A])
            cloud.pop("cacert", None)
            path = write_side_config({"site-a-no-ca": cloud})
            conn = connect_from(path, "site-a-no-ca")
            try:
                conn.authorize()
            except Exception as error:
                expect(
                    "ssl" in (type(error).__name__ + str(error)).lower()
                    or "certificate" in str(error).lower(),
                    f"expected a TLS verification failure, got {describe(error)}",
                )
                return
            raise AssertionError("the twin's certificate was trusted without its CA")

        c.run("keystone: without the twin's CA, TLS verification refuses the endpoint",
              without_ca)

    # ---------------------------------------------------------------- version discovery
    def microversions():
        a = c.need("a")
        cinder = max_microversion(a.block_storage)
        nova = max_microversion(a.compute)
        expect(cinder is not None, "Cinder version discovery gave no max microversion")
        expect(
            tuple(cinder) >= (3, 8),
            f"Cinder max microversion {cinder}: < 3.8, so openstacksdk would use the "
            "legacy /os-volume-manage instead of /manageable_volumes",
        )
        expect(nova is not None, "Nova version discovery gave no max microversion")
        expect(tuple(nova) >= (2, 67), f"Nova max microversion {nova} < 2.67")

    c.run("discovery: Nova >= 2.67 and Cinder >= 3.8 microversions advertised", microversions)

    # ---------------------------------------------------------------- Nova, site-a
    def flavors_a():
        a = c.need("a")
        flavors = {f.name: f for f in a.compute.flavors()}
        expect({"m1.large", "m1.small"} <= set(flavors), f"flavors: {sorted(flavors)}")
        large = flavors["m1.large"]
        expect_eq((large.vcpus, large.ram, large.disk), (4, 8192, 80), "m1.large vcpus/ram/disk")

    c.run("nova: site-a flavors m1.large (4 vCPU, 8192 MB, 80 GB) and m1.small", flavors_a)

    def servers_a():
        a = c.need("a")
        servers = {s.name: s for s in a.compute.servers()}
        expect_eq(sorted(servers), sorted(SITE_A_SERVERS), "server names")
        for name, (network, ip, flavor, _, _, tier) in SITE_A_SERVERS.items():
            server = servers[name]
            expect_eq(server.status, "ACTIVE", f"{name} status")
            expect_eq(ips_of(server, network), [ip], f"{name} addresses on {network}")
            expect_eq(server.flavor.name, flavor, f"{name} flavor (original_name)")
            expect_eq(server.key_name, "ops", f"{name} key_name")
            expect_eq(server.metadata, {"tier": tier}, f"{name} metadata")
            groups = sorted(g["name"] for g in server.security_groups or [])
            expect_eq(groups, sorted(SITE_A_IDENTITY[name][0]), f"{name} security groups")
        S["servers_a"] = servers

    c.run("nova: site-a servers db-1, web-1, web-2 ACTIVE with 10.10.2.10/10.10.1.11/10.10.1.12",
          servers_a)

    def identity_a():
        a, servers = c.need("a", "servers_a")
        groups = {g.name: g for g in a.compute.server_groups()}
        expect_eq(sorted(groups), ["web-servers"], "server groups")
        web = groups["web-servers"]
        expect_eq(web.policy, "anti-affinity", "web-servers policy")
        expect_eq(sorted(web.member_ids),
                  sorted(servers[n].id for n in ("web-1", "web-2")), "web-servers members")
        hosts = set()
        for name, (_, zone, tags, description, group) in SITE_A_IDENTITY.items():
            server = a.compute.get_server(servers[name].id)
            expect_eq(server.availability_zone, zone, f"{name} availability zone")
            expect_eq(server.tags, tags, f"{name} tags")
            expect_eq(server.description, description, f"{name} description")
            if group:
                hosts.add(server.compute_host)
        expect_eq(len(hosts), 2, "web-servers members on different hosts (anti-affinity)")
        keypairs = {k.name: k for k in a.compute.keypairs()}
        expect_eq(sorted(keypairs), ["ops"], "key pairs")
        ops = a.compute.get_keypair("ops")
        expect(ops.public_key.startswith("ssh-ed25519 "), f"ops public key {ops.public_key!r}")
        expect(len(ops.fingerprint.split(":")) == 16, f"ops fingerprint {ops.fingerprint!r}")

    c.run("nova: site-a server group web-servers (anti-affinity), zones, tags, descriptions, "
          "key pair ops", identity_a)

    def identity_writes_a():
        a, servers = c.need("a", "servers_a")
        group = a.compute.create_server_group(name="conformance", policy="soft-anti-affinity")
        expect_eq(group.policy, "soft-anti-affinity", "created group policy")
        expect_eq(group.member_ids, [], "created group members")
        a.compute.delete_server_group(group)
        expect(all(g.name != "conformance" for g in a.compute.server_groups()),
               "deleted group still listed")
        keypair = a.compute.create_keypair(name="conformance", public_key=SAMPLE_PUBLIC_KEY)
        expect_eq(keypair.fingerprint, SAMPLE_FINGERPRINT, "imported key fingerprint")
        a.compute.delete_keypair("conformance")
        expect(all(k.name != "conformance" for k in a.compute.keypairs()),
               "deleted key pair still listed")
        db = servers["db-1"]
        a.compute.add_tag_to_server(db, "conformance")
        expect("conformance" in a.compute.get_server(db.id).tags, "added tag")
        a.compute.remove_tag_from_server(db, "conformance")
        expect_eq(a.compute.get_server(db.id).tags, ["db", "critical"], "tags after removal")

    c.run("nova: create/delete a server group and a key pair, add/remove a server tag",
          identity_writes_a)

    def server_filter():
        a = c.need("a")
        found = [s.name for s in a.compute.servers(name="web-1")]
        expect_eq(found, ["web-1"], "servers?name=web-1")

    c.run("nova: server list filter name=web-1", server_filter)

    def app_cred_servers():
        conn = c.need("a_dr")
        names = sorted(s.name for s in conn.compute.servers())
        expect_eq(names, sorted(SITE_A_SERVERS), "servers seen with the app credential")

    c.run("nova: site-a servers listed with the application credential", app_cred_servers)

    # ---------------------------------------------------------------- Neutron, site-a
    def networks_a():
        a = c.need("a")
        networks = {n.name: n for n in a.network.networks()}
        expect(set(SITE_A_NETWORKS) <= set(networks), f"networks: {sorted(networks)}")
        subnets = list(a.network.subnets())
        for name, cidr in SITE_A_NETWORKS.items():
            mine = [s for s in subnets if s.network_id == networks[name].id]
            expect_eq([s.cidr for s in mine], [cidr], f"subnets of {name}")
            expect_eq(mine[0].ip_version, 4, f"ip_version of {name}'s subnet")
            expect(networks[name].subnet_ids == [mine[0].id],
                   f"{name} subnets {networks[name].subnet_ids} != [{mine[0].id}]")
        S["networks_a"] = networks

    c.run("neutron: site-a networks and subnets (10.10.1.0/24, 10.10.2.0/24)", networks_a)

    def ports_a():
        a, servers = c.need("a", "servers_a")
        for name, (network, ip, *_rest) in SITE_A_SERVERS.items():
            ports = list(a.network.ports(device_id=servers[name].id))
            expect_eq(len(ports), 1, f"ports with device_id of {name}")
            port = ports[0]
            expect_eq([f["ip_address"] for f in port.fixed_ips], [ip], f"{name} port fixed_ips")
            expect(
                (port.device_owner or "").startswith("compute:"),
                f"{name} port device_owner {port.device_owner!r} is not compute:*",
            )
            expect_eq(port.status, "ACTIVE", f"{name} port status")

    c.run("neutron: site-a ports (device_id filter, fixed IPs, device_owner compute:*)",
          ports_a)

    def security_groups_a():
        a = c.need("a")
        names = [g.name for g in a.network.security_groups()]
        expect({"default", "web", "web-lb", "db", "db-admin"} <= set(names),
               f"security groups: {sorted(names)}")
        web = [g.name for g in a.network.security_groups(name="web")]
        expect_eq(web, ["web"], "security-groups?name=web")

    c.run("neutron: site-a security groups default, web, db (and name filter)",
          security_groups_a)

    # ---------------------------------------------------------------- Cinder, site-a
    def volumes_a():
        a, servers = c.need("a", "servers_a")
        volumes = list(a.block_storage.volumes(details=True))
        expect_eq(len(volumes), 4, f"volume count ({[v.name for v in volumes]})")
        by_server = {}
        for volume in volumes:
            expect_eq(volume.status, "in-use", f"volume {volume.id} status")
            expect_eq(len(volume.attachments or []), 1, f"volume {volume.id} attachments")
            attachment = volume.attachments[0]
            by_server.setdefault(attachment["server_id"], []).append((attachment, volume))
            expect_eq(
                (volume.metadata or {}).get("array_volume_name"),
                f"volume-{volume.id}-cinder",
                f"volume {volume.id} metadata array_volume_name",
            )
            expect_eq(volume.volume_type, "pure-replicated", f"volume {volume.id} type")
            expect_eq(volume.host, "site-a@pure#fa-a", f"volume {volume.id} os-vol-host-attr:host")
        boot = {}
        for name, (_, _, _, boot_gb, data_gb, _) in SITE_A_SERVERS.items():
            server = servers[name]
            mine = sorted(by_server.get(server.id, []), key=lambda pair: pair[0]["device"])
            expect_eq(
                [(a_["device"], v.size) for a_, v in mine],
                [("/dev/vda", boot_gb)] + ([("/dev/vdb", data_gb)] if data_gb else []),
                f"{name} volumes (device, size)",
            )
            expect(mine[0][1].is_bootable is True, f"{name} boot volume is not bootable")
            if data_gb:
                expect(mine[1][1].is_bootable is False, f"{name} data volume is bootable")
            attached = sorted(v["id"] for v in server.attached_volumes or [])
            expect_eq(attached, sorted(v.id for _, v in mine),
                      f"{name} os-extended-volumes:volumes_attached")
            boot[name] = mine[0][1]
        in_use_ = list(a.block_storage.volumes(status="in-use"))
        expect_eq(len(in_use_), 4, "volumes?status=in-use")
        expect_eq(list(a.block_storage.volumes(status="available")), [],
                  "volumes?status=available")
        S["boot_volumes_a"] = boot
        S["volumes_a"] = volumes

    c.run("cinder: site-a volumes in-use, attached, boot volumes bootable, "
          "array_volume_name = volume-<id>-cinder (and status filter)", volumes_a)

    def quota_a():
        a = c.need("a")
        # What openstacksdk's QuotaSet makes of `?usage=true`: limits as attributes, in_use in
        # `usage`, reserved in `reservation`.
        quota = a.block_storage.get_quota_set(a.current_project_id, usage=True)
        expect_eq(quota.volumes, -1, "volumes limit (the fixture sets none)")
        expect_eq(quota.usage.get("volumes"), 4, "volumes in use")
        expect_eq(quota.usage.get("gigabytes"), 40 + 200 + 20 + 20, "gigabytes in use")
        expect_eq(quota.reservation.get("volumes"), 0, "volumes reserved")
        limits = a.block_storage.get_quota_set(a.current_project_id)
        expect_eq(limits.volumes, -1, "volumes limit without usage")

    c.run("cinder: site-a quota set with usage (volumes unlimited, 4 in use, 280 GiB)",
          quota_a)

    def volume_types_a():
        a = c.need("a")
        types = {t.name: t for t in a.block_storage.types()}
        expect({"pure-replicated", "pure"} <= set(types), f"volume types: {sorted(types)}")

    c.run("cinder: site-a volume types pure-replicated and pure", volume_types_a)

    def pools_a():
        a = c.need("a")
        names = [p.name for p in a.block_storage.backend_pools()]
        expect("site-a@pure#fa-a" in names, f"pools: {names}")

    c.run("cinder: site-a scheduler pools include site-a@pure#fa-a", pools_a)

    # ---------------------------------------------------------------- site-b (empty side)
    def site_b_inventory():
        b = c.need("b")
        flavors = [f.name for f in b.compute.flavors()]
        expect("m2.large" in flavors, f"site-b flavors: {flavors}")
        networks = {n.name: n for n in b.network.networks()}
        expect(set(SITE_B_NETWORKS) <= set(networks), f"site-b networks: {sorted(networks)}")
        subnets = list(b.network.subnets())
        for name, cidr in SITE_B_NETWORKS.items():
            mine = [s.cidr for s in subnets if s.network_id == networks[name].id]
            expect_eq(mine, [cidr], f"subnets of {name}")
        servers = list(b.compute.servers())
        expect_eq([s.name for s in servers], [], "site-b servers")
        S["networks_b"] = networks

    c.run("nova/neutron: site-b flavors (m2.large), 4 networks, no servers", site_b_inventory)

    def site_b_app_cred_volumes():
        conn = c.need("b_dr")
        volumes = list(conn.block_storage.volumes())
        expect_eq([v.name for v in volumes], [], "site-b volumes before recovery")

    c.run("cinder: site-b volumes listed with the application credential (none yet)",
          site_b_app_cred_volumes)

    # ---------------------------------------------------------------- FlashArray
    def fa_login(site, key, name):
        def check():
            client = fa_client(site)
            arrays = fa_ok(client.get_arrays(), "GET /arrays")
            expect_eq([a.name for a in arrays], [name], "array names")
            expect(attr(arrays[0], "id"), "array has no id")
            S[key] = client

        return check

    c.run("flasharray: fa-a login with API token over verified TLS, GET /arrays",
          fa_login(SITE_A, "fa_a", "fa-a"))
    c.run("flasharray: fa-b login with API token over verified TLS, GET /arrays",
          fa_login(SITE_B, "fa_b", "fa-b"))

    def fa_bad_token():
        c.need("fa_a")  # the right token works, so a refusal is about the token
        try:
            fa_client(SITE_A, token="00000000-0000-0000-0000-000000000000")
        except PureError:
            return
        raise AssertionError("a wrong API token was accepted by POST /login")

    c.run("flasharray: a wrong API token is refused at login", fa_bad_token)

    def fa_no_ca():
        c.need("fa_a")  # with the CA it works, so a refusal is about the CA
        try:
            fa_client(SITE_A, ca=False)
        except Exception as error:
            expect(
                "ssl" in (type(error).__name__ + str(error)).lower()
                or "certificate" in str(error).lower(),
                f"expected a TLS verification failure, got {describe(error)}",
            )
            return
        raise AssertionError("the array's certificate was trusted without the twin's CA")

    c.run("flasharray: without the twin's CA, TLS verification refuses the array", fa_no_ca)

    def fa_connections():
        fa_a, fa_b = c.need("fa_a", "fa_b")
        for client, peer in ((fa_a, "fa-b"), (fa_b, "fa-a")):
            items = fa_ok(client.get_array_connections(), "GET /array-connections")
            peers = {attr(i, "name") or ref_name(attr(i, "remote")): i for i in items}
            expect(peer in peers, f"no connection to {peer}: {sorted(peers)}")
            connection = peers[peer]
            expect_eq(attr(connection, "status"), "connected", f"connection to {peer} status")
            expect_eq(attr(connection, "type"), "async-replication", f"connection to {peer} type")

    c.run("flasharray: array connections fa-a <-> fa-b connected, async-replication",
          fa_connections)

    def web1_array_volume():
        boot = S.get("boot_volumes_a")
        if boot:
            return boot["web-1"].metadata["array_volume_name"]
        # Cinder on site-a failed above: take the name from the world dump so the array
        # checks still run (an input, not a check).
        dump = c.need("world")
        block = dump["sites"][SITE_A]["block"]["volumes"]
        for volume in block.values():
            for attachment in volume.get("attachments") or []:
                server = dump["sites"][SITE_A]["compute"]["servers"].get(attachment["server_id"])
                if server and server["name"] == "web-1" and attachment["device"] == "/dev/vda":
                    return volume["array_volume"]
        raise Skip("needs web-1's boot volume")

    def fa_volumes_filter():
        fa_a = c.need("fa_a")
        name = web1_array_volume()
        S["web1_array_volume"] = name
        exact = fa_ok(fa_a.get_volumes(filter=f"name='{name}'"), "GET /volumes?filter=name=")
        expect_eq([v.name for v in exact], [name], f"filter name='{name}'")
        expect_eq(attr(exact[0], "provisioned"), 20 * GIB, "web-1 boot volume provisioned bytes")
        wild = fa_ok(fa_a.get_volumes(filter="name='volume-*-cinder'"), "filter with *")
        expect_eq(len(wild), 4, f"filter name='volume-*-cinder' ({[v.name for v in wild]})")
        big = fa_ok(fa_a.get_volumes(filter=f"provisioned>{100 * GIB}"), "filter provisioned>")
        expect_eq([attr(v, "provisioned") for v in big], [200 * GIB], "filter provisioned>100GiB")

    c.run("flasharray: GET /volumes with filters (exact name, wildcard, provisioned>)",
          fa_volumes_filter)

    def fa_attached_connected():
        fa_a = c.need("fa_a")
        volumes = fa_ok(fa_a.get_volumes(filter="name='volume-*-cinder'"), "GET /volumes")
        unconnected = [v.name for v in volumes if attr(v, "connection_count", 0) < 1]
        expect(
            volumes and not unconnected,
            f"connection_count 0 for {unconnected}: these back in-use Cinder volumes, and the "
            "Pure driver connects an attached volume to its compute host",
        )

    c.run("flasharray: fa-a volumes attached on site-a are connected to a host "
          "(connection_count >= 1)", fa_attached_connected)

    def fa_volumes_names():
        fa_a = c.need("fa_a")
        name = c.need("web1_array_volume")
        items = fa_ok(fa_a.get_volumes(names=[name]), "GET /volumes?names=")
        expect_eq([v.name for v in items], [name], "names=")
        fa_expect_not_exist(fa_a, "no-such-volume")

    c.run("flasharray: GET /volumes?names= finds one; an unknown name is 400 'does not exist'",
          fa_volumes_names)

    def fa_pagination():
        fa_a = c.need("fa_a")
        everything = sorted(v.name for v in fa_ok(fa_a.get_volumes(), "GET /volumes"))
        expect(len(everything) >= 3, f"too few volumes to paginate: {everything}")
        first = fa_a.get_volumes(limit=2, total_item_count=True)
        page = fa_ok(first, "GET /volumes?limit=2")
        expect_eq(len(page), 2, "items on the first page")
        expect_eq(first.total_item_count, len(everything), "total_item_count")
        token = first.continuation_token
        expect(token, "no continuation token (x-next-token) on a partial first page")
        seen = [v.name for v in page]
        for _ in range(10):
            if not token:
                break
            response = fa_a.get_volumes(limit=2, continuation_token=token)
            page = fa_ok(response, "GET /volumes?continuation_token=")
            seen += [v.name for v in page]
            token = response.continuation_token
            if not page:
                break
        expect(not token, "pagination did not end within 10 pages")
        expect_eq(len(seen), len(set(seen)), f"duplicates across pages: {seen}")
        expect_eq(sorted(seen), everything, "pages joined")

    c.run("flasharray: GET /volumes pagination (limit + continuation_token)", fa_pagination)

    def fa_protection_groups():
        fa_a, fa_b = c.need("fa_a", "fa_b")
        groups = {g.name: g for g in fa_ok(fa_a.get_protection_groups(), "GET /protection-groups")}
        expect(PROTECTION_GROUP in groups, f"fa-a protection groups: {sorted(groups)}")
        group = groups[PROTECTION_GROUP]
        expect_eq(ref_name(attr(group, "source")), "fa-a", "prod-web-app source")
        expect_eq(attr(group, "target_count"), 1, "prod-web-app target_count")
        expect_eq(attr(group, "volume_count"), 4, "prod-web-app volume_count")
        targets = fa_ok(
            fa_a.get_protection_groups_targets(group_names=[PROTECTION_GROUP]),
            "GET /protection-groups/targets",
        )
        expect_eq([(ref_name(attr(t, "member")), attr(t, "allowed")) for t in targets],
                  [("fa-b", True)], "prod-web-app targets (member, allowed)")
        members = fa_ok(
            fa_a.get_protection_groups_volumes(group_names=[PROTECTION_GROUP]),
            "GET /protection-groups/volumes",
        )
        names = sorted(ref_name(attr(m, "member")) for m in members)
        expect_eq(len(names), 4, f"prod-web-app members {names}")
        if S.get("web1_array_volume"):
            expect(S["web1_array_volume"] in names, f"web-1's volume not in {names}")
        replicated = {g.name: g for g in fa_ok(fa_b.get_protection_groups(), "fa-b groups")}
        expect(f"fa-a:{PROTECTION_GROUP}" in replicated,
               f"fa-b protection groups: {sorted(replicated)}")
        expect_eq(ref_name(attr(replicated[f"fa-a:{PROTECTION_GROUP}"], "source")), "fa-a",
                  "fa-a:prod-web-app source on fa-b")

    c.run("flasharray: protection group prod-web-app (target fa-b, 4 members; "
          "fa-a:prod-web-app on fa-b)", fa_protection_groups)

    def fa_snapshot_replicate():
        fa_a, fa_b = c.need("fa_a", "fa_b")
        created = fa_ok(
            fa_a.post_protection_group_snapshots(
                source_names=[PROTECTION_GROUP], replicate_now=True
            ),
            "POST /protection-group-snapshots?replicate_now=true",
        )
        expect_eq(len(created), 1, "snapshots created")
        snapshot = created[0]
        name = snapshot.name
        expect(name.startswith(PROTECTION_GROUP + "."), f"snapshot name {name!r}")
        suffix = name[len(PROTECTION_GROUP) + 1:]
        expect(suffix.isdigit(), f"snapshot suffix {suffix!r} is not a number")
        expect_eq(ref_name(attr(snapshot, "source")), PROTECTION_GROUP, "snapshot source")
        remote = f"fa-a:{name}"
        seen_progress = []

        def fetch():
            response = fa_b.get_protection_group_snapshots_transfer(names=[remote])
            items = fa_ok(response, f"GET /protection-group-snapshots/transfer?names={remote}")
            progress = attr(items[0], "progress") if items else None
            seen_progress.append(progress)
            return items[0] if items else None

        transfer = poll(
            fetch,
            lambda item: item is not None and attr(item, "progress") == 1.0
            and attr(item, "completed") is not None,
            f"{remote} transfer progress 1.0 on fa-b",
        )
        expect(attr(transfer, "started") is not None, "transfer has no started time")
        expect(attr(transfer, "data_transferred") is not None, "transfer has no data_transferred")
        S["replicated_snapshot"] = remote
        S["transfer_progress_seen"] = seen_progress

    c.run("flasharray: POST pg snapshot replicate_now on fa-a; transfer reaches 1.0 on fa-b",
          fa_snapshot_replicate)

    def fa_replicated_volume_snapshot():
        fa_b = c.need("fa_b")
        remote, volume = c.need("replicated_snapshot", "web1_array_volume")
        groups = fa_ok(fa_b.get_protection_group_snapshots(names=[remote]),
                       "GET /protection-group-snapshots")
        expect_eq(ref_name(attr(groups[0], "source")), f"fa-a:{PROTECTION_GROUP}",
                  f"{remote} source")
        name = f"{remote}.{volume}"
        items = fa_ok(fa_b.get_volume_snapshots(names=[name]), f"GET /volume-snapshots?names={name}")
        expect_eq([s.name for s in items], [name], "replicated volume snapshot")
        expect_eq(attr(items[0], "provisioned"), 20 * GIB, "replicated snapshot provisioned")
        S["web1_snapshot"] = name

    c.run("flasharray: fa-b holds fa-a:prod-web-app.<N>.<web-1 boot volume>",
          fa_replicated_volume_snapshot)

    def control_replicate():
        fa_b = c.need("fa_b")
        answer = control(
            "POST", "/replicate",
            {"site": SITE_A, "protection_group": PROTECTION_GROUP, "wait": True},
        )
        snapshots = [s["snapshot"] for s in answer.get("snapshots", [])]
        expect_eq(len(snapshots), 1, f"POST /replicate snapshots {answer}")
        remote = f"fa-a:{snapshots[0]}"
        items = fa_ok(fa_b.get_protection_group_snapshots_transfer(names=[remote]),
                      f"transfer of {remote}")
        expect_eq(attr(items[0], "progress"), 1.0, f"{remote} progress right after wait:true")

    c.run("control: POST /replicate {wait:true} shows a completed transfer on fa-b",
          control_replicate)

    def fa_copy(target_name, key):
        def check():
            fa_b, snapshot = c.need("fa_b", "web1_snapshot")
            created = fa_ok(
                fa_b.post_volumes(
                    names=[target_name],
                    volume=flasharray.VolumePost(source=flasharray.Reference(name=snapshot)),
                ),
                f"POST /volumes?names={target_name} from {snapshot}",
            )
            expect_eq([v.name for v in created], [target_name], "created volume")
            expect_eq(attr(created[0], "provisioned"), 20 * GIB, "copy provisioned bytes")
            items = fa_ok(fa_b.get_volumes(names=[target_name]), "GET the copy")
            expect_eq(attr(items[0], "destroyed"), False, "copy destroyed")
            expect_eq(attr(items[0], "connection_count", 0), 0, "copy connection_count")
            S[key] = target_name

        return check

    c.run(f"flasharray: copy the replicated snapshot to a new volume {RECOVERED} on fa-b",
          fa_copy(RECOVERED, "recovered"))
    c.run(f"flasharray: copy it again to {PROBE}", fa_copy(PROBE, "probe"))
    c.run(f"flasharray: and to {SCRATCH}", fa_copy(SCRATCH, "scratch"))

    def fa_lifecycle():
        fa_b = c.need("fa_b")
        c.need("scratch")
        renamed = f"{SCRATCH}-renamed"
        fa_ok(fa_b.patch_volumes(names=[SCRATCH], volume=flasharray.VolumePatch(name=renamed)),
              f"PATCH /volumes?names={SCRATCH} name={renamed}")
        fa_expect_not_exist(fa_b, SCRATCH)
        expect(fa_volume_exists(fa_b, renamed), f"{renamed} not found after the rename")
        early = fa_b.delete_volumes(names=[renamed])
        expect(not isinstance(early, flasharray.ValidResponse),
               "DELETE (eradicate) of a volume that is not destroyed was accepted")
        expect_eq(early.status_code, 400, "status of eradicating a live volume")
        fa_ok(fa_b.patch_volumes(names=[renamed], volume=flasharray.VolumePatch(destroyed=True)),
              "PATCH destroyed=true")
        pending = fa_ok(fa_b.get_volumes(names=[renamed], destroyed=True), "GET destroyed=true")
        expect_eq(attr(pending[0], "destroyed"), True, "destroyed")
        expect(attr(pending[0], "time_remaining") is not None,
               "a destroyed volume has no time_remaining (eradication pending)")
        live = fa_ok(fa_b.get_volumes(destroyed=False), "GET destroyed=false")
        expect(renamed not in [v.name for v in live], "destroyed volume listed with destroyed=false")
        fa_ok(fa_b.delete_volumes(names=[renamed]), "DELETE (eradicate)")
        fa_expect_not_exist(fa_b, renamed)

    c.run("flasharray: rename (PATCH name), destroy (PATCH destroyed), eradicate (DELETE) "
          "a volume; eradicating a live one is 400", fa_lifecycle)

    # ---------------------------------------------------------------- Cinder manage, site-b
    def manageable_unversioned():
        b = c.need("b")
        # openstacksdk 4.22's manageable_volumes() sends no microversion (its resource has no
        # _max_microversion), and Cinder serves /manageable_volumes from 3.8 on only: real
        # Cinder answers 404 (VersionNotFoundForAPIMethod -> itemNotFound).
        try:
            list(b.block_storage.manageable_volumes(details=True, host=SITE_B_CINDER_HOST))
        except os_exc.NotFoundException as error:
            expect_eq(error.response.json(),
                      {"itemNotFound": {"code": 404,
                                        "message": "The resource could not be found."}},
                      "404 body")
            return
        raise AssertionError("GET /manageable_volumes/detail answered at microversion 3.0")

    c.run("cinder: manageable_volumes without a microversion (as openstacksdk sends it) is 404",
          manageable_unversioned)

    def manageable_entries(b):
        response = b.block_storage.get(
            "/manageable_volumes/detail", params={"host": SITE_B_CINDER_HOST},
            microversion="3.8",
        )
        os_exc.raise_from_response(response)
        body = response.json()
        expect("manageable-volumes" in body, f"no manageable-volumes key: {sorted(body)}")
        return {(e.get("reference") or {}).get("name"): e for e in body["manageable-volumes"]}

    def manageable():
        b, recovered = c.need("b", "recovered")
        by_name = manageable_entries(b)
        expect(recovered in by_name, f"{recovered} not listed: {sorted(map(str, by_name))}")
        entry = by_name[recovered]
        expect_eq(entry.get("reference"), {"name": recovered}, "reference (the Pure driver's)")
        expect_eq((entry.get("size"), entry.get("safe_to_manage"), entry.get("cinder_id")),
                  (20, True, None), f"{recovered} (size, safe_to_manage, cinder_id)")

    c.run(f"cinder: manageable_volumes/detail (3.8) on site-b lists {RECOVERED} "
          "(reference name, 20 GiB, safe)", manageable)

    def viewer():
        clouds = c.need("clouds")
        cloud = copy.deepcopy(clouds[SITE_B])
        cloud["auth"]["username"], cloud["auth"]["password"] = VIEWER
        path = write_side_config({"site-b-viewer": cloud})
        conn = connect_from(path, "site-b-viewer")
        access = conn.session.auth.get_access(conn.session)
        expect_eq(access.role_names, ["reader"], "viewer roles")
        list(conn.block_storage.volumes())  # a reader may list
        S["viewer"] = conn

    c.run("keystone: viewer (reader) logs in to site-b and may list volumes", viewer)

    def manage_denied():
        conn, recovered = c.need("viewer", "recovered")
        try:
            conn.block_storage.manage_volume(
                host=SITE_B_CINDER_HOST, ref={"source-name": recovered}, name="web-1",
                bootable=True, volume_type="pure-replicated",
            )
        except os_exc.HttpException as error:
            expect_eq(error.status_code, 403, f"status ({describe(error)})")
            expect_eq(error.details, MANAGE_DENIED, "message")
            body = error.response.json()
            expect_eq(body, {"forbidden": {"code": 403, "message": MANAGE_DENIED}},
                      "403 body")
            return
        raise AssertionError("the viewer's manage request was accepted")

    c.run("cinder: viewer's manage request is 403 'Policy doesn't allow "
          "volume_extension:volume_manage to be performed.'", manage_denied)

    def manage_listed_name():
        """The Cinder API takes any `ref`; Cinder 29's Pure driver reads only
        `ref["source-name"]` (`manage_existing requires a 'source-name' key`) yet still lists
        each manageable volume's reference as `{"name": ...}`. So the listed reference, sent
        as-is, is accepted (202) and the volume ends in error (error_managing, shown as
        `error`), the array volume untouched."""
        b, fa_b, probe = c.need("b", "fa_b", "probe")
        by_name = manageable_entries(b)
        expect(probe in by_name, f"{probe} not listed: {sorted(map(str, by_name))}")
        reference = by_name[probe].get("reference")
        expect_eq(reference, {"name": probe}, "listed reference (the Pure driver's)")
        volume = b.block_storage.manage_volume(
            host=SITE_B_CINDER_HOST, ref=reference, name="probe",
            bootable=True, volume_type="pure-replicated",
        )
        final = poll(lambda: b.block_storage.get_volume(volume.id),
                     lambda v: v is not None and v.status not in ("creating",),
                     "the probe volume to leave creating")
        kept = fa_volume_exists(fa_b, probe)
        # Either way, leave no probe volume behind in Cinder.
        b.block_storage.delete_volume(volume.id)
        poll(lambda: b.block_storage.get_volume(volume.id), lambda v: v is None,
             "the probe volume to be deleted")
        expect_eq(final.status, "error", "status after manage with ref {'name': ...}")
        expect(kept, f"array volume {probe} was renamed or removed")

    c.run("cinder: manage with the listed ref {'name'} (Cinder 29's Pure driver reads "
          "'source-name') ends in error", manage_listed_name)

    def manage():
        b, fa_b, recovered = c.need("b", "fa_b", "recovered")
        volume = b.block_storage.manage_volume(
            host=SITE_B_CINDER_HOST, ref={"source-name": recovered}, name="web-1",
            description="web-1 boot volume, recovered", bootable=True,
            volume_type="pure-replicated",
        )
        expect(volume.id, "manage answered no volume id")
        expect_eq(volume.status, "creating", "status in the manage response")
        S["managed"] = volume.id
        final = poll(lambda: b.block_storage.get_volume(volume.id),
                     lambda v: v is not None and v.status in ("available", "error"),
                     "the managed volume to be available")
        expect_eq(final.status, "available", "status after manage")
        expect_eq(final.size, 20, "size (GiB, rounded up from the array volume)")
        expect_eq(final.is_bootable, True, "bootable")
        expect_eq(final.volume_type, "pure-replicated", "volume_type")
        expect_eq(final.host, SITE_B_CINDER_HOST, "os-vol-host-attr:host")
        expect_eq(final.name, "web-1", "name")
        meta = final.metadata or {}
        expect_eq(meta.get("array_volume_name"), f"volume-{volume.id}-cinder",
                  "metadata array_volume_name")
        expect_eq(meta.get("array_name"), "fa-b", "metadata array_name")
        S["managed_volume"] = final

    c.run(f"cinder: manage {RECOVERED} on site-b (ref source-name, bootable, pure-replicated) "
          "-> available", manage)

    def manage_renamed():
        fa_b, volume_id = c.need("fa_b", "managed")
        expect(fa_volume_exists(fa_b, f"volume-{volume_id}-cinder"),
               f"volume-{volume_id}-cinder not found on fa-b")
        fa_expect_not_exist(fa_b, RECOVERED)

    c.run(f"flasharray: manage renamed {RECOVERED} to volume-<id>-cinder on fa-b",
          manage_renamed)

    def manageable_after():
        b, volume_id = c.need("b", "managed")
        by_name = manageable_entries(b)
        name = f"volume-{volume_id}-cinder"
        expect(name in by_name, f"{name} not listed: {sorted(map(str, by_name))}")
        entry = by_name[name]
        expect_eq((entry.get("safe_to_manage"), entry.get("cinder_id")), (False, volume_id),
                  f"{name} (safe_to_manage, cinder_id)")
        reason = entry.get("reason_not_safe") or ""
        expect("already managed" in reason, f"reason_not_safe {reason!r} lacks 'already managed'")

    c.run("cinder: manageable_volumes/detail shows the managed volume as not safe, "
          "with its cinder_id", manageable_after)

    # ---------------------------------------------------------------- Neutron port, site-b
    def port():
        b, networks = c.need("b", "networks_b")
        network = networks["net-secondary-web"]
        created = b.network.create_port(
            network_id=network.id, name="web-1", fixed_ips=[{"ip_address": "10.10.1.11"}]
        )
        S["port"] = created
        expect_eq([f["ip_address"] for f in created.fixed_ips], ["10.10.1.11"], "fixed_ips")
        subnet_ids = network.subnet_ids or []
        expect_eq([f["subnet_id"] for f in created.fixed_ips], subnet_ids[:1], "fixed_ips subnet")
        expect_eq(created.device_id or "", "", "device_id of a new port")
        expect(created.mac_address, "no mac_address")

    c.run("neutron: create a port on net-secondary-web with fixed IP 10.10.1.11", port)

    def port_conflict():
        b, networks = c.need("b", "networks_b")
        c.need("port")
        try:
            extra = b.network.create_port(
                network_id=networks["net-secondary-web"].id,
                fixed_ips=[{"ip_address": "10.10.1.11"}],
            )
        except os_exc.HttpException as error:
            expect_eq(error.status_code, 409, f"status ({describe(error)})")
            body = error.response.json()
            expect_eq(body.get("NeutronError", {}).get("type"), "IpAddressAlreadyAllocated",
                      "NeutronError type")
            return
        b.network.delete_port(extra)
        raise AssertionError("a second port got the same fixed IP")

    c.run("neutron: a second port with 10.10.1.11 is 409 IpAddressAlreadyAllocated",
          port_conflict)

    # ---------------------------------------------------------------- Nova boot, site-b
    def boot():
        b, volume_id, port_ = c.need("b", "managed", "port")
        flavor = b.compute.find_flavor("m2.large", ignore_missing=False)
        server = b.compute.create_server(
            name="web-1",
            flavor_id=flavor.id,
            networks=[{"port": port_.id}],
            block_device_mapping=[{
                "boot_index": 0,
                "uuid": volume_id,
                "source_type": "volume",
                "destination_type": "volume",
                "delete_on_termination": False,
            }],
            metadata={"tier": "web"},
        )
        S["server"] = server.id
        final = poll(lambda: b.compute.get_server(server.id),
                     lambda s: s is not None and s.status in ("ACTIVE", "ERROR"),
                     "web-1 to be ACTIVE")
        expect_eq(final.status, "ACTIVE", f"status (fault: {final.fault})")
        expect_eq(ips_of(final, "net-secondary-web"), ["10.10.1.11"], "addresses")
        expect_eq(final.flavor.name, "m2.large", "flavor")
        expect_eq([v["id"] for v in final.attached_volumes or []], [volume_id],
                  "volumes_attached")
        expect_eq(final.metadata, {"tier": "web"}, "metadata")

    c.run("nova: boot web-1 from the managed volume (bdm v2 boot_index 0, m2.large, port) "
          "-> ACTIVE", boot)

    def in_use():
        b, volume_id, server_id, port_ = c.need("b", "managed", "server", "port")
        volume = b.block_storage.get_volume(volume_id)
        expect_eq(volume.status, "in-use", "volume status")
        expect_eq([(a["server_id"], a["device"]) for a in volume.attachments or []],
                  [(server_id, "/dev/vda")], "volume attachments (server, device)")
        attachments = list(b.compute.volume_attachments(server_id))
        expect_eq([(a.volume_id, a.device) for a in attachments], [(volume_id, "/dev/vda")],
                  "os-volume_attachments (volumeId, device)")
        bound = b.network.get_port(port_.id)
        expect_eq(bound.device_id, server_id, "port device_id")
        expect((bound.device_owner or "").startswith("compute:"),
               f"port device_owner {bound.device_owner!r}")
        expect_eq(bound.status, "ACTIVE", "port status")

    c.run("cinder/nova/neutron: the volume is in-use on /dev/vda (Cinder attachments, "
          "os-volume_attachments); the port is bound to web-1", in_use)

    def array_connected():
        fa_b, _server, volume_id = c.need("fa_b", "server", "managed")
        items = fa_ok(fa_b.get_volumes(names=[f"volume-{volume_id}-cinder"]), "GET the volume")
        expect(attr(items[0], "connection_count", 0) >= 1,
               "connection_count 0: the Pure driver connects an attached volume to the "
               "compute host (initialize_connection)")
        S["array_connected"] = True

    c.run("flasharray: while web-1 runs, its volume is connected to a host on fa-b",
          array_connected)

    def stop():
        b, server_id = c.need("b", "server")
        b.compute.stop_server(server_id)
        final = poll(lambda: b.compute.get_server(server_id),
                     lambda s: s is not None and s.status in ("SHUTOFF", "ERROR"),
                     "web-1 to be SHUTOFF")
        expect_eq(final.status, "SHUTOFF", "status after os-stop")
        expect_eq(final.power_state, 4, "OS-EXT-STS:power_state (4 = shutdown)")

    c.run("nova: stop web-1 -> SHUTOFF", stop)

    def delete():
        b, server_id, volume_id, port_ = c.need("b", "server", "managed", "port")
        b.compute.delete_server(server_id)
        poll(lambda: b.compute.get_server(server_id), lambda s: s is None,
             "web-1 to be gone (404)")
        volume = poll(lambda: b.block_storage.get_volume(volume_id),
                      lambda v: v is not None and v.status == "available",
                      "the volume to be available again")
        expect_eq(volume.attachments or [], [], "attachments after delete")
        kept = b.network.get_port(port_.id)  # a port the user made outlives the server
        expect_eq(kept.device_id or "", "", "port device_id after server delete")
        b.network.delete_port(port_.id)
        poll(lambda: b.network.get_port(port_.id), lambda p: p is None, "the port to be gone")

    deleted = c.run("nova: delete web-1 -> gone; volume available; the user's port kept, "
                    "unbound", delete)

    def array_disconnected():
        fa_b, volume_id, _connected = c.need("fa_b", "managed", "array_connected")
        if not deleted:
            raise Skip("needs web-1 deleted")
        items = fa_ok(fa_b.get_volumes(names=[f"volume-{volume_id}-cinder"]), "GET the volume")
        expect_eq(attr(items[0], "connection_count", 0), 0,
                  "connection_count after the server is gone (terminate_connection)")

    c.run("flasharray: once web-1 is deleted, its volume has no host connection",
          array_disconnected)

    # ---------------------------------------------------------------- unmanage
    def unmanage_denied():
        conn, volume_id = c.need("viewer", "managed")
        try:
            conn.block_storage.unmanage_volume(volume_id)
        except os_exc.HttpException as error:
            expect_eq(error.status_code, 403, f"status ({describe(error)})")
            expect_eq(error.details, UNMANAGE_DENIED, "message")
            return
        raise AssertionError("the viewer's unmanage request was accepted")

    c.run("cinder: viewer's os-unmanage is 403 (volume_extension:volume_unmanage)",
          unmanage_denied)

    def unmanage():
        b, fa_b, volume_id = c.need("b", "fa_b", "managed")
        b.block_storage.unmanage_volume(volume_id)
        poll(lambda: b.block_storage.get_volume(volume_id), lambda v: v is None,
             "the volume to leave Cinder (404)")
        ids = [v.id for v in b.block_storage.volumes()]
        expect(volume_id not in ids, "still listed after unmanage")
        array_name = f"volume-{volume_id}-cinder"
        expect(fa_volume_exists(fa_b, f"{array_name}-unmanaged"),
               f"{array_name}-unmanaged not found on fa-b")
        fa_expect_not_exist(fa_b, array_name)

    c.run("cinder: os-unmanage -> gone from Cinder; fa-b volume renamed "
          "volume-<id>-cinder-unmanaged", unmanage)

    # ---------------------------------------------------------------- a site goes down
    def site_down():
        a, fa_a, fa_b = c.need("a", "fa_a", "fa_b")
        control("POST", f"/sites/{SITE_A}/down")
        try:
            try:
                list(a.compute.servers())
            except Exception as error:
                text = (type(error).__name__ + str(error)).lower()
                expect("connect" in text or "refused" in text,
                       f"expected connection refused, got {describe(error)}")
            else:
                raise AssertionError("site-a's Nova answered while the site was down")
            try:
                fa_a.get_arrays()
            except Exception:
                pass
            else:
                raise AssertionError("fa-a answered while its site was down")
            fa_ok(fa_b.get_arrays(), "fa-b while site-a is down")
        finally:
            control("POST", f"/sites/{SITE_A}/up")
        names = sorted(s.name for s in a.compute.servers())
        expect_eq(names, sorted(SITE_A_SERVERS), "site-a servers once back up")

    c.run("control: site-a down refuses connections (Nova, fa-a); up serves again", site_down)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="plain", choices=["plain", "tls"],
                        help="which pass: plain (OpenStack over HTTP) or tls (over HTTPS)")
    parser.add_argument("--summary", help="write {passed, failed, skipped} as JSON here")
    args = parser.parse_args()
    for name in ("OS_CLIENT_CONFIG_FILE", "PROTECTOR_SIM_CONTROL"):
        if not os.environ.get(name):
            print(f"${name} is not set: load the twin's env file first", file=sys.stderr)
            return 2
    # keystoneauth warns on the refusals the session provokes on purpose (no CA, bad password).
    logging.getLogger("keystoneauth").setLevel(logging.ERROR)
    checks = Checks(args.label)
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("openstacksdk", "py-pure-client")
    )
    print(f"== conformance pass: {args.label} ({versions})", flush=True)
    try:
        session(checks, args.label)
    except Exception:
        checks.failed += 1
        print("FAIL  session aborted:", flush=True)
        traceback.print_exc()
    line = f"{checks.passed} passed, {checks.failed} failed"
    if checks.skipped:
        line += f", {checks.skipped} skipped"
    print(f"{args.label}: {line}", flush=True)
    if args.summary:
        with open(args.summary, "w") as handle:
            json.dump({"passed": checks.passed, "failed": checks.failed,
                       "skipped": checks.skipped}, handle)
    return 1 if checks.failed or checks.skipped else 0


if __name__ == "__main__":
    sys.exit(main())
