#!/usr/bin/env python3
"""Drives Cinder's own Pure Storage iSCSI driver against one of the twin's FlashArrays.

The driver (`cinder.volume.drivers.pure.PureISCSIDriver`, from the PyPI `cinder` package) is
built the way cinder-volume builds it: from a cinder.conf backend section (written by this
program, printed with --print-conf), with Cinder's coordinator started and a database behind the
volume objects (SQLite, migrated by Cinder's own `db_sync`). Nothing else of Cinder runs: no API,
no scheduler, no message queue. Each driver call is checked twice: it must not raise, and the
array, read back with py-pure-client, must show what a real FlashArray would.

Environment (from the env file `protector sim up --env-out` writes):
  FA_SITE_A_URL, FA_SITE_A_API_TOKEN, FA_SITE_A_CA_CERT   (or another site with --site)

Exit status: 0 when every step passed, 1 otherwise.
"""

import argparse
import os
import shutil
import sys
import tempfile
import traceback
import uuid

GIB = 1 << 30
# The initiator the "compute host" attaches from; the driver names its array host after
# connector["host"] and this uuid.
CONNECTOR = {
    "initiator": "iqn.1994-05.com.redhat:check-driver-compute",
    "host": "compute-1",
    "ip": "127.0.0.1",
    "multipath": False,
    "platform": "x86_64",
    "os_type": "linux",
    "system uuid": "5b2a3f0e-8c1d-4e7a-9f6b-0d2c4e6a8b1f",
}
BACKEND = "twin-a"


def env(site, key):
    name = f"FA_{site.upper().replace('-', '_')}_{key}"
    value = os.environ.get(name)
    if not value:
        sys.exit(f"check_driver: {name} is not set (load the env file of `protector sim up`)")
    return value


def san_ip(site):
    """py-pure-client's `target`: host:port (it prepends https://)."""
    url = env(site, "URL")
    if not url.startswith("https://"):
        sys.exit(f"check_driver: {url!r} is not an https:// URL")
    return url[len("https://"):].rstrip("/")


def cinder_conf(site, state_path):
    """The cinder.conf a cinder-volume serving the twin's array needs (the backend section is
    what a real deployment would use)."""
    return f"""[DEFAULT]
enabled_backends = {BACKEND}
state_path = {state_path}
log_file = {state_path}/cinder.log
debug = true

[database]
connection = sqlite:///{state_path}/cinder.sqlite

[coordination]
backend_url = file://{state_path}/locks

[oslo_concurrency]
lock_path = {state_path}/locks

[{BACKEND}]
volume_driver = cinder.volume.drivers.pure.PureISCSIDriver
volume_backend_name = {BACKEND}
san_ip = {san_ip(site)}
pure_api_token = {env(site, "API_TOKEN")}
driver_ssl_cert_verify = true
driver_ssl_cert_path = {env(site, "CA_CERT")}
pure_iscsi_cidr = 127.0.0.0/8
"""


class Steps:
    def __init__(self, traceback_on_failure):
        self.passed = 0
        self.failed = 0
        self.traceback = traceback_on_failure

    def run(self, name, fn):
        """Runs one step; its failure is printed and counted, and returns None."""
        try:
            result = fn()
        except Exception as error:  # noqa: BLE001 - every failure is a reported step
            self.failed += 1
            print(f"FAILED {name}: {type(error).__name__}: {error}", flush=True)
            if self.traceback:
                traceback.print_exc()
            return None
        self.passed += 1
        print(f"ok     {name}", flush=True)
        return result if result is not None else True


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def trace_array_calls():
    """Prints `METHOD /api/... -> status` for every request py-pure-client sends."""
    from urllib.parse import unquote

    from pypureclient._transport import rest

    send = rest.RESTClientObject.request

    def request(self, method, url, *args, **kwargs):
        status = "no answer"
        try:
            response = send(self, method, url, *args, **kwargs)
            status = response.status
            return response
        except Exception as error:  # py-pure-client raises for 4xx/5xx
            status = getattr(error, "status", None) or type(error).__name__
            raise
        finally:
            print(f"  array: {method} /{unquote(url.split('/', 3)[-1])} -> {status}", flush=True)

    rest.RESTClientObject.request = request


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", default="site-a", help="the twin's site whose array to use")
    parser.add_argument("--print-conf", action="store_true",
                        help="print the cinder.conf used, then run")
    parser.add_argument("--traceback", action="store_true",
                        help="print a traceback for every failed step")
    parser.add_argument("--trace", action="store_true",
                        help="print every REST call made to the array, with its status")
    args = parser.parse_args()

    state_path = tempfile.mkdtemp(prefix="pure-driver-check.")
    os.makedirs(f"{state_path}/locks")
    conf_path = f"{state_path}/cinder.conf"
    with open(conf_path, "w") as conf:
        conf.write(cinder_conf(args.site, state_path))
    if args.print_conf:
        print(open(conf_path).read())

    # py-pure-client 1.96.0 stores the driver's `ssl_cert=` (driver_ssl_cert_path) but never
    # hands it to urllib3, which then verifies against the default trust store: OpenSSL reads
    # SSL_CERT_FILE for it. A real cinder-volume needs the same (or the CA in the system store).
    os.environ["SSL_CERT_FILE"] = env(args.site, "CA_CERT")

    from oslo_config import cfg
    from oslo_log import log as logging

    from cinder import objects

    objects.register_all()  # before the driver's module, which uses them at import
    if args.trace:
        trace_array_calls()

    from cinder import context, coordination
    from cinder.db import migration
    from cinder.volume import configuration, manager, volume_types
    from cinder.volume.drivers import pure
    from pypureclient import flasharray
    from pypureclient.configuration import Configuration as PureConfiguration

    logging.register_options(cfg.CONF)
    cfg.CONF(["--config-file", conf_path], project="cinder")
    logging.setup(cfg.CONF, "cinder")
    migration.db_sync()
    coordination.COORDINATOR.start()

    # The array, read independently of the driver.
    ca = env(args.site, "CA_CERT")
    array = flasharray.Client(
        target=san_ip(args.site),
        api_token=env(args.site, "API_TOKEN"),
        verify_ssl=True,
        configuration=PureConfiguration(ssl_ca_cert=ca),
    )

    def array_items(response, what):
        if response.status_code != 200:
            messages = "; ".join(e.message for e in (response.errors or []))
            raise AssertionError(f"{what}: {response.status_code} {messages}")
        return list(response.items)

    def array_volume(name):
        return array_items(array.get_volumes(names=[name]), f"GET volumes {name}")[0]

    def driver_tags(name):
        """The tags the driver keeps on an array volume, {key: value}."""
        tags = array_items(array.get_volumes_tags(resource_names=[name],
                                                  namespaces=[pure.TAG_NAMESPACE]),
                           f"GET volumes/tags {name}")
        return {tag.key: tag.value for tag in tags}

    ctxt = context.get_admin_context()
    project = uuid.uuid4().hex
    vtype = volume_types.create(ctxt, f"pure-{uuid.uuid4().hex[:8]}",
                                {"volume_backend_name": BACKEND})

    def new_volume(size):
        volume = objects.Volume(context=ctxt, size=size, project_id=project,
                                user_id=uuid.uuid4().hex, status="creating",
                                attach_status="detached",
                                host=f"check@{BACKEND}#{BACKEND}",
                                volume_type_id=vtype["id"])
        volume.create()
        return volume

    steps = Steps(args.traceback)
    driver = pure.PureISCSIDriver(
        # As cinder-volume's VolumeManager builds it.
        configuration=configuration.Configuration(manager.volume_backend_opts,
                                                  config_group=BACKEND),
        host=f"check@{BACKEND}")

    steps.run("do_setup", lambda: driver.do_setup(ctxt))
    steps.run("check_for_setup_error", driver.check_for_setup_error)

    def stats():
        got = driver.get_volume_stats(refresh=True)
        expect(got["volume_backend_name"] == BACKEND, f"backend name {got}")
        expect(got["storage_protocol"] == "iSCSI", f"protocol {got['storage_protocol']}")
        expect(got["total_capacity_gb"] >= got["free_capacity_gb"] >= 0,
               f"capacity {got['total_capacity_gb']} free {got['free_capacity_gb']}")
        return got

    steps.run("get_volume_stats(refresh=True)", stats)

    # ------------------------------------------------------------- create, attach, detach
    volume = new_volume(1)
    name = f"volume-{volume.id}-cinder"

    def create():
        update = driver.create_volume(volume)
        expect(update["provider_id"] == name, f"provider_id {update}")
        volume.update(update)
        volume.status = "available"
        volume.save()
        got = array_volume(name)
        expect(got.provisioned == GIB, f"provisioned {got.provisioned}")
        tags = driver_tags(name)
        expect(tags.get("ProjectId") == project and tags.get("VolType") == "Data",
               f"tags {tags}")

    created = steps.run("create_volume", create)

    def attach():
        attachment = objects.VolumeAttachment(
            context=ctxt, volume_id=volume.id, attach_status="attaching",
            attached_host=CONNECTOR["host"], instance_uuid=str(uuid.uuid4()))
        attachment.create()
        volume.refresh()
        info = driver.initialize_connection(volume, CONNECTOR)
        expect(info["driver_volume_type"] == "iscsi", f"type {info}")
        data = info["data"]
        expect(data.get("target_iqns") and data.get("target_portals")
               and data.get("target_luns"), f"no targets: {data}")
        expect(all(p.startswith("127.") for p in data["target_portals"]),
               f"portals {data['target_portals']}")
        expect(data["wwn"] == "3624a9370" + array_volume(name).serial.lower(),
               f"wwn {data['wwn']}")
        hosts = array_items(array.get_hosts(filter=f"iqns='{CONNECTOR['initiator']}'"),
                            "GET hosts")
        expect(len(hosts) == 1, f"hosts with the initiator: {hosts}")
        connections = array_items(array.get_connections(volume_names=[name]),
                                  "GET connections")
        expect([c.host.name for c in connections] == [hosts[0].name],
               f"connections {connections}")
        expect(connections[0].lun == data["target_luns"][0], f"lun {connections[0].lun}")
        tags = driver_tags(name)
        expect(tags.get("VmId") == attachment.instance_uuid, f"tags {tags}")
        print(f"       iSCSI: {data['target_iqns'][0]} at {', '.join(data['target_portals'])}"
              f" lun {data['target_luns'][0]}", flush=True)
        return info

    if created:
        steps.run("initialize_connection", attach)

    def detach():
        driver.terminate_connection(volume, CONNECTOR)
        connections = array_items(array.get_connections(volume_names=[name]),
                                  "GET connections")
        expect(not connections, f"still connected: {connections}")
        hosts = array_items(array.get_hosts(filter=f"iqns='{CONNECTOR['initiator']}'"),
                            "GET hosts")
        expect(not hosts, f"the driver's host is left: {hosts}")

    if created:
        steps.run("terminate_connection", detach)

    # ------------------------------------------------------------- snapshots
    snapshot = None
    if created:
        snapshot = objects.Snapshot(context=ctxt, volume_id=volume.id, volume_size=1,
                                    project_id=project, user_id=volume.user_id,
                                    status="creating", volume_type_id=vtype["id"])
        snapshot.create()
        snapshot.refresh()
    snap_name = f"{name}.snapshot-{snapshot.id}" if snapshot else None

    def snap_create():
        update = driver.create_snapshot(snapshot)
        expect(update["metadata"]["array_snapshot_name"] == snap_name, f"update {update}")
        got = array_items(array.get_volume_snapshots(names=[snap_name]), "GET snapshot")[0]
        expect(got.source.name == name, f"source {got.source}")

    snapped = snapshot and steps.run("create_snapshot", snap_create)

    def snap_delete():
        driver.delete_snapshot(snapshot)
        got = array_items(array.get_volume_snapshots(names=[snap_name]), "GET snapshot")[0]
        expect(got.destroyed, "snapshot not destroyed")

    if snapped:
        steps.run("delete_snapshot", snap_delete)

    def delete():
        driver.delete_volume(volume)
        expect(array_volume(name).destroyed, "volume not destroyed")

    if created:
        steps.run("delete_volume", delete)

    # ------------------------------------------------------------- manage, unmanage
    existing = f"check-driver-{uuid.uuid4().hex[:8]}"
    ref = {"source-name": existing}
    managed = new_volume(1)
    managed_name = f"volume-{managed.id}-cinder"

    def make_existing():
        array_items(array.post_volumes(names=[existing],
                                       volume=flasharray.VolumePost(provisioned=3 * GIB)),
                    "POST volumes")

    have_existing = steps.run("array: POST volumes (a volume Cinder does not know)",
                              make_existing)

    def get_size():
        size = driver.manage_existing_get_size(managed, ref)
        expect(size == 3, f"size {size}")

    if have_existing:
        steps.run("manage_existing_get_size", get_size)

    def manage():
        update = driver.manage_existing(managed, ref)
        expect(update["provider_id"] == managed_name, f"update {update}")
        managed.update(update)
        managed.size = 3
        managed.status = "available"
        managed.save()
        expect(array_volume(managed_name).provisioned == 3 * GIB, "renamed volume")
        gone = array.get_volumes(names=[existing])
        expect(gone.status_code == 400, f"{existing} still there")

    did_manage = have_existing and steps.run("manage_existing", manage)

    def unmanage():
        expect(driver_tags(managed_name).get("ProjectId") == project, "no tags to remove")
        driver.unmanage(managed)
        gone = driver_tags(f"{managed_name}-unmanaged")
        expect(not gone, f"the driver's tags are left: {gone}")

    if did_manage:
        steps.run("unmanage", unmanage)

    coordination.COORDINATOR.stop()
    if steps.failed:
        print(f"the driver's log: {state_path}/cinder.log")
    else:
        shutil.rmtree(state_path, ignore_errors=True)
    print(f"pure-driver: {steps.passed} passed, {steps.failed} failed")
    return 1 if steps.failed else 0


if __name__ == "__main__":
    sys.exit(main())
