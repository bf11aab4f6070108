"""clouds.yaml read by openstacksdk and by protector, side by side, against the twin.

    python differential.py --protector BIN --twin DIR [--only NAME]... [--keep] [--jobs N]

DIR holds the running twin's clouds.yaml and CA (`protector sim up --tls --clouds-out
DIR/clouds.yaml --ca-out DIR/ca.pem`). Each configuration below is written into a fresh
temporary machine (a working folder, a HOME, a system folder named by XDG_CONFIG_DIRS); then
`probe.py` (openstacksdk) and `protector cloud show -f json` run there with the same
environment, which holds nothing of this process's but PATH. Where both tools should agree, the
test asserts the same success or failure and, on success, the same region, interface, TLS
verification (and CA bundle), api_timeout and endpoints of compute, block storage, network and
identity. Where protector differs on purpose, the test asserts that it refuses, with the
message given, and what openstacksdk does instead; each such case says why (README.md lists
them). Exit status: 0 when every configuration passed, 1 otherwise, 2 when it cannot run.
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
PROBE = os.path.join(HERE, "probe.py")

# The files the real system folder could hold: both tools would read them, so the test does not
# run while one is there (it never reads or writes the real ~/.config: HOME is a temp folder).
SYSTEM_FILES = [
    f"/etc/openstack/{stem}.{ext}"
    for stem in ("clouds", "secure", "clouds-public")
    for ext in ("yaml", "yml", "json")
]


class Agree:
    """Both tools must end alike: the same success or failure, and on success the same result."""

    def __init__(self, outcome):
        self.outcome = outcome  # "ok" or "fails": what both should do


class Refuses:
    """protector differs on purpose: it refuses with `message`, where openstacksdk does `sdk`."""

    def __init__(self, message, sdk, why):
        self.message = message
        self.sdk = sdk  # "ok" or "fails"
        self.why = why


class Case:
    def __init__(self, name, title, expect, files=None, env=None, cloud="site-a", cwd="work"):
        self.name = name
        self.title = title
        self.expect = expect
        self.files = files or {}
        self.env = env or {}
        self.cloud = cloud
        self.cwd = cwd


# ------------------------------------------------------------------------------- the twin

class Twin:
    """What the configurations need of the running twin: URLs, credentials, the CA."""

    def __init__(self, folder):
        with open(os.path.join(folder, "clouds.yaml")) as f:
            clouds = yaml.safe_load(f)["clouds"]
        a = clouds["site-a"]
        self.auth_url = a["auth"]["auth_url"]
        self.a = self.auth_url.split("/identity")[0]
        self.b = clouds["site-b"]["auth"]["auth_url"].split("/identity")[0]
        self.username = a["auth"]["username"]
        self.password = a["auth"]["password"]
        self.project = a["auth"]["project_name"]
        credential = clouds["site-a-protector-dr"]["auth"]
        self.credential_id = credential["application_credential_id"]
        self.credential_secret = credential["application_credential_secret"]
        self.ca = os.path.join(folder, "ca.pem")
        self.token = self._token()

    def _token(self):
        """A project-scoped token of site-a's user, for the token configurations."""
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": self.username, "domain": {"name": "Default"},
                "password": self.password}}},
            "scope": {"project": {"name": self.project, "domain": {"name": "Default"}}},
        }}
        request = urllib.request.Request(
            self.auth_url + "/auth/tokens", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        context = ssl.create_default_context(cafile=self.ca)
        with urllib.request.urlopen(request, context=context, timeout=30) as answer:
            return answer.headers["X-Subject-Token"]


def client_certificate(folder):
    """A self-signed client certificate and its key (openstacksdk presents it; the twin does not
    ask for one, so openstacksdk connects all the same)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "protector-differential")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "client.pem"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(folder, "client.key"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


# ------------------------------------------------------------------------------- configurations

def configurations(twin):
    """Every configuration, as (files, environment, cloud) with placeholders: {ROOT} is the
    temporary machine, {CA} the twin's CA copied to {ROOT}/certs/ca.pem."""
    ca = "{ROOT}/certs/ca.pem"

    def auth(**changes):
        entry = {"auth_url": twin.auth_url, "username": twin.username,
                 "password": twin.password, "project_name": twin.project,
                 "user_domain_name": "Default", "project_domain_name": "Default"}
        for key, value in changes.items():
            if value is None:
                entry.pop(key, None)
            else:
                entry[key] = value
        return entry

    def site(auth_changes=None, **top):
        entry = {"auth": auth(**(auth_changes or {})), "region_name": "RegionOne",
                 "cacert": ca}
        for key, value in top.items():
            if value is None:
                entry.pop(key, None)
            else:
                entry[key] = value
        return entry

    def clouds(**entries):
        return yaml.safe_dump({"clouds": {name.replace("_", "-"): entry
                                          for name, entry in entries.items()}},
                              sort_keys=False)

    def credential(**top):
        entry = {"auth_type": "v3applicationcredential",
                 "auth": {"auth_url": twin.auth_url,
                          "application_credential_id": twin.credential_id,
                          "application_credential_secret": twin.credential_secret},
                 "cacert": ca}
        entry.update(top)
        return entry

    good = clouds(site_a=site())
    bad = clouds(site_a=site({"password": "wrong"}))
    env_auth = {
        "OS_AUTH_URL": twin.auth_url, "OS_USERNAME": twin.username,
        "OS_PASSWORD": twin.password, "OS_PROJECT_NAME": twin.project,
        "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_REGION_NAME": "RegionOne", "OS_CACERT": ca,
    }
    token_auth = {"auth_url": twin.auth_url, "token": twin.token,
                  "project_name": twin.project, "project_domain_name": "Default"}
    ok, fails = Agree("ok"), Agree("fails")
    return [
        # --- authentication
        Case("password", "password auth, ./clouds.yaml", ok, {"work/clouds.yaml": good}),
        Case("application-credential", "auth_type: v3applicationcredential, by id", ok,
             {"work/clouds.yaml": clouds(site_a=credential())}),
        Case("application-credential-by-name", "application credential by name and owner", ok,
             {"work/clouds.yaml": clouds(site_a=credential(auth={
                 "auth_url": twin.auth_url, "application_credential_name": "protector-dr",
                 "application_credential_secret": twin.credential_secret,
                 "username": twin.username, "user_domain_name": "Default"}))}),
        Case("application-credential-without-auth-type",
             "application credential without auth_type (openstacksdk tries a password)", fails,
             {"work/clouds.yaml": clouds(site_a={k: v for k, v in credential().items()
                                                 if k != "auth_type"})}),
        Case("auth-plugin", "auth_plugin, which openstacksdk 4 reads no more", fails,
             {"work/clouds.yaml": clouds(site_a=dict(
                 {k: v for k, v in credential().items() if k != "auth_type"},
                 auth_plugin="v3applicationcredential"))}),
        Case("wrong-password", "a wrong password", fails, {"work/clouds.yaml": bad}),
        Case("no-domains", "username and project_name without their domains", fails,
             {"work/clouds.yaml": clouds(site_a=site(
                 {"user_domain_name": None, "project_domain_name": None}))}),
        Case("v3token", "auth_type: v3token with a token", ok,
             {"work/clouds.yaml": clouds(site_a={"auth_type": "v3token", "auth": token_auth,
                                                 "cacert": ca})}),
        Case("token", "auth_type: token (generic) with auth_token at the top", ok,
             {"work/clouds.yaml": clouds(site_a={
                 "auth_type": "token", "auth_token": twin.token, "cacert": ca,
                 "auth": {k: v for k, v in token_auth.items() if k != "token"}})}),
        Case("unsupported-auth-type", "auth_type: v3oidcpassword", fails,
             {"work/clouds.yaml": clouds(site_a=site(auth_type="v3oidcpassword"))}),
        # --- TLS
        Case("verify-false", "verify: false, no CA", ok,
             {"work/clouds.yaml": clouds(site_a=site(cacert=None, verify=False))}),
        Case("insecure-true", "insecure: true, no CA", ok,
             {"work/clouds.yaml": clouds(site_a=site(cacert=None, insecure=True))}),
        Case("insecure-beats-cacert", "insecure: true next to a cacert", ok,
             {"work/clouds.yaml": clouds(site_a=site(insecure=True))}),
        Case("insecure-false", "insecure: false with a cacert", ok,
             {"work/clouds.yaml": clouds(site_a=site(insecure=False))}),
        Case("no-ca", "no cacert: the system's CAs do not trust the twin", fails,
             {"work/clouds.yaml": clouds(site_a=site(cacert=None))}),
        Case("cacert-absolute", "cacert: an absolute path, clouds.yaml in ~/.config", ok,
             {"home/.config/openstack/clouds.yaml": good}),
        Case("cacert-relative", "cacert: ca.pem beside ./clouds.yaml", ok,
             {"work/clouds.yaml": clouds(site_a=site(cacert="ca.pem")),
              "work/ca.pem": "{CA_PEM}"}),
        Case("cacert-tilde", "cacert: ~/certs/ca.pem", ok,
             {"work/clouds.yaml": clouds(site_a=site(cacert="~/certs/ca.pem")),
              "home/certs/ca.pem": "{CA_PEM}"}),
        Case("verify-path", "verify: the path of the CA", ok,
             {"work/clouds.yaml": clouds(site_a=site(cacert=None, verify=ca))}),
        Case("cacert-relative-elsewhere",
             "cacert: ca.pem in ~/.config/openstack/clouds.yaml, run from another folder",
             Refuses("is a relative path, which openstacksdk reads from the working folder",
                     "ok", "openstacksdk reads a relative cacert from the working folder, "
                     "protector from the folder of the file that sets it; where these are two "
                     "files, protector refuses rather than pick one"),
             {"home/.config/openstack/clouds.yaml": clouds(site_a=site(cacert="ca.pem")),
              "home/.config/openstack/ca.pem": "{CA_PEM}", "work/ca.pem": "{CA_PEM}"}),
        Case("cert-and-key", "cert and key: a TLS client certificate",
             Refuses("a TLS client certificate, which protector does not present", "ok",
                     "protector does not present a client certificate; a cloud that asks for "
                     "one would fail its handshakes unexplained"),
             {"work/clouds.yaml": clouds(site_a=site(cert="{ROOT}/client/client.pem",
                                                     key="{ROOT}/client/client.key"))}),
        # --- files and search order
        Case("secure-yaml", "the password in ~/.config/openstack/secure.yaml", ok,
             {"work/clouds.yaml": clouds(site_a=site({"password": None})),
              "home/.config/openstack/secure.yaml":
                  clouds(site_a={"auth": {"password": twin.password}})}),
        Case("secure-yaml-wins", "secure.yaml's password over a wrong one", ok,
             {"work/clouds.yaml": bad,
              "work/secure.yaml": clouds(site_a={"auth": {"password": twin.password}})}),
        Case("os-client-secure-file", "OS_CLIENT_SECURE_FILE names the secure file", ok,
             {"work/clouds.yaml": clouds(site_a=site({"password": None})),
              "vault/secrets.yaml": clouds(site_a={"auth": {"password": twin.password}})},
             {"OS_CLIENT_SECURE_FILE": "{ROOT}/vault/secrets.yaml"}),
        Case("clouds-json", "./clouds.json", ok,
             {"work/clouds.json": json.dumps(yaml.safe_load(good))}),
        Case("clouds-yml", "~/.config/openstack/clouds.yml", ok,
             {"home/.config/openstack/clouds.yml": good}),
        Case("search-cwd-first", "./clouds.yaml before ~/.config/openstack", ok,
             {"work/clouds.yaml": good, "home/.config/openstack/clouds.yaml": bad}),
        Case("search-user-before-system", "~/.config/openstack before the system folder", ok,
             {"home/.config/openstack/clouds.yaml": good, "xdg/openstack/clouds.yaml": bad}),
        Case("search-system", "only the system folder ($XDG_CONFIG_DIRS/openstack)", ok,
             {"xdg/openstack/clouds.yaml": good}),
        Case("xdg-config-home", "$XDG_CONFIG_HOME/openstack before ~/.config/openstack", ok,
             {"xch/openstack/clouds.yaml": good, "home/.config/openstack/clouds.yaml": bad},
             {"XDG_CONFIG_HOME": "{ROOT}/xch"}),
        Case("os-client-config-file", "OS_CLIENT_CONFIG_FILE before ./clouds.yaml", ok,
             {"elsewhere/my-clouds.yaml": good, "work/clouds.yaml": bad},
             {"OS_CLIENT_CONFIG_FILE": "{ROOT}/elsewhere/my-clouds.yaml"}),
        Case("os-client-config-file-missing", "OS_CLIENT_CONFIG_FILE pointing nowhere",
             Refuses("OS_CLIENT_CONFIG_FILE is set to", "ok",
                     "openstacksdk searches on without a word when the variable points "
                     "nowhere; a runbook's variable that names no file is a mistake to fix"),
             {"work/clouds.yaml": good}, {"OS_CLIENT_CONFIG_FILE": "{ROOT}/nowhere.yaml"}),
        Case("broken-yaml", "./clouds.yaml that is not YAML, a good one in ~/.config",
             Refuses("clouds.yaml:", "ok",
                     "openstacksdk logs a broken file and reads the next one found; protector "
                     "names the line to fix"),
             {"work/clouds.yaml": "clouds:\n  site-a: [\n",
              "home/.config/openstack/clouds.yaml": good}),
        # --- legacy spellings
        Case("dashed-keys", "dashed keys (auth-url, user-domain-name, region-name...)", ok,
             {"work/clouds.yaml": yaml.safe_dump({"clouds": {"site-a": {
                 "auth": {k.replace("_", "-"): v for k, v in auth().items()},
                 "region-name": "RegionOne", "cacert": ca}}})}),
        Case("tenant-name", "tenant_name for project_name", ok,
             {"work/clouds.yaml": clouds(site_a=site({"project_name": None,
                                                      "tenant_name": twin.project}))}),
        Case("top-level-auth-keys", "username, password, project_name at the top", ok,
             {"work/clouds.yaml": clouds(site_a=site(
                 {"username": None, "password": None, "project_name": None},
                 username=twin.username, password=twin.password,
                 project_name=twin.project))}),
        Case("domain-name-shared", "domain_name for the user's and the project's", ok,
             {"work/clouds.yaml": clouds(site_a=site(
                 {"user_domain_name": None, "project_domain_name": None,
                  "domain_name": "Default"}))}),
        Case("domain-id-shared", "domain_id for the user's and the project's", ok,
             {"work/clouds.yaml": clouds(site_a=site(
                 {"user_domain_name": None, "project_domain_name": None,
                  "domain_id": "default"}))}),
        Case("regions-list", "regions: a list of names", ok,
             {"work/clouds.yaml": clouds(site_a=site(region_name=None,
                                                     regions=["RegionOne", "RegionTwo"]))}),
        Case("regions-values", "regions: a mapping with values", ok,
             {"work/clouds.yaml": clouds(site_a=site(region_name=None, regions=[
                 {"name": "RegionOne", "values": {"interface": "internal"}}]))}),
        Case("region-unknown", "region_name the catalog lacks", fails,
             {"work/clouds.yaml": clouds(site_a=site(region_name="Atlantis"))}),
        Case("endpoint-type", "endpoint_type: internalURL over interface: public", ok,
             {"work/clouds.yaml": clouds(site_a=site(interface="public",
                                                     endpoint_type="internalURL"))}),
        Case("interface-internal", "interface: internal", ok,
             {"work/clouds.yaml": clouds(site_a=site(interface="internal"))}),
        Case("interface-admin", "interface: admin (compute has no admin endpoint)", fails,
             {"work/clouds.yaml": clouds(site_a=site(interface="admin"))}),
        # --- per service
        Case("compute-endpoint-override", "compute_endpoint_override", ok,
             {"work/clouds.yaml": clouds(site_a=site(
                 compute_endpoint_override=twin.b + "/compute"))}),
        Case("block-storage-endpoint-override", "block_storage_endpoint_override", ok,
             {"work/clouds.yaml": clouds(site_a=site(
                 block_storage_endpoint_override=twin.b + "/volume"))}),
        Case("volumev3-endpoint-override", "volumev3_endpoint_override (an alias)", ok,
             {"work/clouds.yaml": clouds(site_a=site(
                 volumev3_endpoint_override=twin.b + "/volume/v3"))}),
        Case("network-endpoint-override", "network_endpoint_override", ok,
             {"work/clouds.yaml": clouds(site_a=site(
                 network_endpoint_override=twin.b + "/network"))}),
        Case("identity-endpoint-override", "identity_endpoint_override", ok,
             {"work/clouds.yaml": clouds(site_a=site(
                 identity_endpoint_override=twin.b + "/identity"))}),
        Case("compute-interface-admin", "compute_interface: admin (no such endpoint)", fails,
             {"work/clouds.yaml": clouds(site_a=site(compute_interface="admin"))}),
        Case("identity-interface-admin", "identity_interface: admin", ok,
             {"work/clouds.yaml": clouds(site_a=site(identity_interface="admin"))}),
        Case("block-storage-region", "block_storage_region_name the catalog lacks", fails,
             {"work/clouds.yaml": clouds(site_a=site(block_storage_region_name="Atlantis"))}),
        Case("compute-service-name", "compute_service_name: nova",
             Refuses("which protector does not honour", "ok",
                     "protector finds each service by its catalog type alone"),
             {"work/clouds.yaml": clouds(site_a=site(compute_service_name="nova"))}),
        Case("identity-api-version-3", "identity_api_version: 3", ok,
             {"work/clouds.yaml": clouds(site_a=site(identity_api_version=3))}),
        Case("volume-api-version-2", "volume_api_version: 2 (Cinder's v2 API)",
             Refuses("speaks Cinder's API v3, not version 2", "fails",
                     "protector speaks Cinder v3 only; openstacksdk looks for a v2 endpoint the "
                     "twin (like Cinder since Xena) does not have"),
             {"work/clouds.yaml": clouds(site_a=site(volume_api_version="2"))}),
        # --- timeouts and other keys
        Case("api-timeout", "api_timeout: 42", ok,
             {"work/clouds.yaml": clouds(site_a=site(api_timeout=42))}),
        Case("api-timeout-legacy", "compute_timeout: 17 (any *_timeout) over api_timeout", ok,
             {"work/clouds.yaml": clouds(site_a=site(api_timeout=5, compute_timeout=17))}),
        Case("unused-keys", "keys for what protector never uses (image, floating IPs)", ok,
             {"work/clouds.yaml": clouds(site_a=site(image_api_version="2",
                                                     floating_ip_source="neutron"))}),
        # --- environment variables and the default cloud
        Case("env-only", "OS_* variables, no clouds.yaml, no cloud named", ok,
             env=env_auth, cloud=""),
        Case("env-named", "OS_* variables, the cloud named envvars", ok,
             env=env_auth, cloud="envvars"),
        Case("env-application-credential", "OS_AUTH_TYPE=v3applicationcredential", ok,
             env={"OS_AUTH_URL": twin.auth_url, "OS_AUTH_TYPE": "v3applicationcredential",
                  "OS_APPLICATION_CREDENTIAL_ID": twin.credential_id,
                  "OS_APPLICATION_CREDENTIAL_SECRET": twin.credential_secret,
                  "OS_CACERT": ca}, cloud="envvars"),
        Case("env-insecure", "OS_INSECURE=true, no CA", ok,
             env=dict({k: v for k, v in env_auth.items() if k != "OS_CACERT"},
                      OS_INSECURE="true"), cloud="envvars"),
        Case("env-token", "OS_AUTH_TYPE=v3token, OS_TOKEN", ok,
             env={"OS_AUTH_URL": twin.auth_url, "OS_AUTH_TYPE": "v3token",
                  "OS_TOKEN": twin.token, "OS_PROJECT_NAME": twin.project,
                  "OS_PROJECT_DOMAIN_NAME": "Default", "OS_CACERT": ca}, cloud="envvars"),
        Case("env-cloud-name", "OS_CLOUD_NAME names the cloud of OS_* variables", ok,
             env=dict(env_auth, OS_CLOUD_NAME="from-env"), cloud="from-env"),
        Case("env-beside-clouds-yaml", "OS_* variables and a clouds.yaml, envvars asked for",
             ok, {"work/clouds.yaml": bad}, env_auth, cloud="envvars"),
        Case("env-name-taken", "clouds.yaml defines a cloud named envvars", fails,
             {"work/clouds.yaml": clouds(envvars=site())}, env_auth, cloud="envvars"),
        Case("os-cloud", "OS_CLOUD picks one of two clouds", ok,
             {"work/clouds.yaml": clouds(site_b=site({"password": "wrong"}), site_a=site())},
             {"OS_CLOUD": "site-a"}, cloud=""),
        Case("default-single", "no cloud named, clouds.yaml defines one", ok,
             {"work/clouds.yaml": good}, cloud=""),
        Case("default-ambiguous", "no cloud named, two clouds, no OS_CLOUD", fails,
             {"work/clouds.yaml": clouds(site_a=site(), site_b=site())}, cloud=""),
        # --- vendor profiles
        Case("profile", "profile: from ~/.config/openstack/clouds-public.yaml", ok,
             {"work/clouds.yaml": clouds(site_a={
                 "profile": "twin", "cacert": ca,
                 "auth": {k: v for k, v in auth().items() if k != "auth_url"}}),
              "home/.config/openstack/clouds-public.yaml": yaml.safe_dump({"public-clouds": {
                  "twin": {"auth": {"auth_url": twin.auth_url},
                           "region_name": "RegionOne"}}})}),
        Case("profile-unknown", "profile: a name no clouds-public.yaml defines",
             Refuses("names the vendor profile", "ok",
                     "openstacksdk carries on without a profile it cannot find (or uses its "
                     "built-in copy for the vendors it knows); protector ships none and says so"),
             {"work/clouds.yaml": clouds(site_a=site(profile="no-such-vendor"))}),
    ]


# ------------------------------------------------------------------------------- running

def fill(text, values):
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def run_case(case, args, twin):
    root = tempfile.mkdtemp(prefix=f"clouds-{case.name}-")
    try:
        return compare(case, args, twin, root)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def compare(case, args, twin, root):
    with open(twin.ca) as f:
        ca_pem = f.read()
    values = {"ROOT": root, "CA_PEM": ca_pem}
    for folder in ("work", "home", "xdg"):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    os.makedirs(os.path.join(root, "certs"))
    shutil.copy(twin.ca, os.path.join(root, "certs", "ca.pem"))
    client_certificate(os.path.join(root, "client"))
    for path, text in case.files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(fill(text, values))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.path.join(root, "home"),
        "XDG_CONFIG_DIRS": os.path.join(root, "xdg"),
        "LANG": "C.UTF-8",
    }
    env.update({key: fill(value, values) for key, value in case.env.items()})
    cwd = os.path.join(root, case.cwd)

    started = time.monotonic()
    sdk_run = run([args.python, PROBE, case.cloud], cwd, env)
    try:
        sdk = json.loads(sdk_run.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        sdk = {"ok": False, "error": f"probe crashed: {sdk_run.stderr.strip()[-300:]}"}
    command = [args.protector, "--no-color", "cloud", "show", "-f", "json"]
    if case.cloud:
        command.append(case.cloud)
    ours_run = run(command, cwd, env)
    if ours_run.returncode == 0:
        ours = normalize_protector(json.loads(ours_run.stdout))
    else:
        ours = {"ok": False, "error": " ".join(ours_run.stderr.split())}
    secrets = [twin.password, twin.credential_secret, twin.token]
    leaked = [s for s in secrets if s in ours_run.stdout or s in ours_run.stderr]

    problems = []
    if leaked:
        problems.append("protector printed a secret")
    expect = case.expect
    if isinstance(expect, Agree):
        sdk_outcome = "ok" if sdk["ok"] else "fails"
        ours_outcome = "ok" if ours["ok"] else "fails"
        if sdk_outcome != expect.outcome:
            problems.append(f"openstacksdk {sdk_outcome}, expected {expect.outcome}")
        if ours_outcome != sdk_outcome:
            problems.append(f"protector {ours_outcome}, openstacksdk {sdk_outcome}")
        elif sdk["ok"]:
            theirs = normalize_sdk(sdk, cwd)
            for field in ("region_name", "interface", "verify", "ca_bundle", "api_timeout",
                          "endpoints"):
                if theirs[field] != ours[field]:
                    problems.append(f"{field}: openstacksdk {theirs[field]!r}, "
                                    f"protector {ours[field]!r}")
    else:
        sdk_outcome = "ok" if sdk["ok"] else "fails"
        if sdk_outcome != expect.sdk:
            problems.append(f"openstacksdk {sdk_outcome}, expected {expect.sdk}")
        if ours["ok"]:
            problems.append("protector did not refuse")
        elif expect.message not in ours["error"]:
            problems.append(f"protector's refusal lacks {expect.message!r}")
    return {
        "case": case, "sdk": sdk, "ours": ours, "problems": problems,
        "seconds": time.monotonic() - started,
    }


def run(command, cwd, env):
    """A command of one configuration: no stdin (nothing may prompt), at most a minute."""
    try:
        return subprocess.run(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(command, 124, "", "timed out after 60 s")


def normalize_protector(record):
    api_timeout = record["timeout_secs"] if record["timeout_source"] == "api_timeout" else None
    return {
        "ok": True,
        "region_name": record["region_name"],
        "interface": record["interface"],
        "verify": record["verify"],
        "ca_bundle": real(record["ca_bundle"], None),
        "api_timeout": api_timeout,
        "endpoints": {name: endpoint["url"].rstrip("/")
                      for name, endpoint in record["endpoints"].items()},
    }


def normalize_sdk(result, cwd):
    interface = result["interface"]
    if isinstance(interface, str) and interface.endswith("URL"):
        interface = interface[:-3]
    return {
        "region_name": result["region_name"],
        "interface": interface,
        "verify": result["verify"],
        "ca_bundle": real(result["ca_bundle"], cwd),
        "api_timeout": result["api_timeout"],
        "endpoints": {name: (url or "").rstrip("/")
                      for name, url in result["endpoints"].items()},
    }


def real(path, cwd):
    if path is None:
        return None
    return os.path.realpath(os.path.join(cwd or "/", os.path.expanduser(path)))


def cell(result, tool):
    outcome = result[tool]
    if outcome["ok"]:
        return "ok"
    error = outcome["error"].split(" hint: ")[0].removeprefix("error: ")
    error = re.sub(r"/tmp/[^ :]*clouds-[^/ ]+", "…", error)
    error = re.sub(r"https://127\.0\.0\.1:\d+", "https://twin", error)
    verb = "refuses" if tool == "ours" and isinstance(result["case"].expect, Refuses) else "fails"
    return f"{verb}: {error[:150]}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protector", required=True)
    parser.add_argument("--twin", required=True, help="the running twin's folder")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep each temporary machine")
    parser.add_argument("--summary", help="write the results table (Markdown) here")
    args = parser.parse_args()

    present = [path for path in SYSTEM_FILES if os.path.exists(path)]
    if present:
        print("clouds-differential: both tools would read " + ", ".join(present) +
              "; run on a machine without them", file=sys.stderr)
        return 2
    twin = Twin(args.twin)
    cases = configurations(twin)
    if args.only:
        cases = [case for case in cases if case.name in args.only]
    names = [case.name for case in cases]
    assert len(names) == len(set(names)), "configuration names must be unique"

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda case: run_case(case, args, twin), cases))

    lines = ["| # | configuration | openstacksdk | protector | verdict |",
             "| --- | --- | --- | --- | --- |"]
    failed = 0
    for number, result in enumerate(results, 1):
        case = result["case"]
        if result["problems"]:
            failed += 1
            verdict = "FAIL: " + "; ".join(result["problems"])
        elif isinstance(case.expect, Agree):
            verdict = "agree"
        else:
            verdict = "deliberate: " + case.expect.why
        status = "FAIL" if result["problems"] else "PASS"
        print(f"{status} {case.name} ({result['seconds']:.1f}s): {verdict}", flush=True)
        if result["problems"]:
            for tool, label in (("sdk", "openstacksdk"), ("ours", "protector")):
                print(f"    {label}: {json.dumps(result[tool], sort_keys=True)}")
        lines.append(f"| {number} | `{case.name}`: {case.title} | {cell(result, 'sdk')} | "
                     f"{cell(result, 'ours')} | {verdict} |")
    agree = sum(1 for r in results if not r["problems"] and isinstance(r["case"].expect, Agree))
    deliberate = len(results) - failed - agree
    if args.summary:
        with open(args.summary, "w") as f:
            f.write("\n".join(lines) + "\n")
    print(f"clouds-differential: {len(results)} configurations in "
          f"{time.monotonic() - started:.0f}s: {agree} agree, {deliberate} deliberate "
          f"differences (protector refuses), {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
