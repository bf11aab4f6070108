"""What openstacksdk resolves for one cloud, as one line of JSON on stdout.

    python probe.py [CLOUD]

Run in the environment, working folder and HOME of the configuration under test (the cloud is
openstacksdk's default one when CLOUD is empty). It authenticates, as `protector cloud show`
does, and reports the region, interface, TLS verification, `api_timeout` and the endpoint of
compute, block storage, network and identity; or `{"ok": false, "error": ...}`. No credential is
printed: only the class and message of an error.
"""

import json
import sys
import warnings


def probe(name):
    import openstack
    from openstack import proxy as proxy_mod

    conn = openstack.connect(cloud=name or None)
    region = conn.config
    conn.authorize()
    verify, cert = region.get_requests_verify_args()
    endpoints = {}
    for key, proxy in (
        ("compute", conn.compute),
        ("block_storage", conn.block_storage),
        ("network", conn.network),
        ("identity", conn.identity),
    ):
        # The identity proxy has a get_endpoint of its own (the endpoint API): call the
        # adapter's, as openstacksdk's service descriptions do.
        endpoints[key] = proxy_mod.Proxy.get_endpoint(proxy)
    timeout = region.config.get("api_timeout")
    return {
        "ok": True,
        "cloud": region.name,
        "region_name": region.get_region_name() or None,
        "interface": region.get_interface(),
        "verify": bool(verify),
        "ca_bundle": verify if isinstance(verify, str) else None,
        "client_cert": cert is not None,
        "api_timeout": float(timeout) if timeout is not None else None,
        "endpoints": endpoints,
    }


def main():
    warnings.simplefilter("ignore")
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    try:
        out = probe(name)
    except Exception as error:  # every failure is a result to compare, not a crash
        out = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
