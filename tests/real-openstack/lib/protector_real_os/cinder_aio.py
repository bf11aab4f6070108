"""cinder-api, cinder-scheduler and one cinder-volume per enabled backend in ONE process.

The services talk over oslo.messaging's `fake://` transport, which is an in-memory bus that only
works inside one process; Cinder's own functional tests run the same way
(cinder/tests/unit/conf_fixture.py). Upstream these are three programs and a message broker.

usage: python -m protector_real_os.cinder_aio --config-file cinder.conf"""
from cinder import monkey_patch

monkey_patch.patch()

import sys  # noqa: E402

from oslo_config import cfg  # noqa: E402
from oslo_log import log as logging  # noqa: E402
from oslo_service import service as os_service  # noqa: E402

from cinder import i18n  # noqa: E402

i18n.enable_lazy()

from cinder import coordination, objects, rpc, service, version  # noqa: E402
from cinder.cmd import volume as volume_cmd  # noqa: E402
from cinder.common import config  # noqa: E402

from protector_real_os import wire  # noqa: E402

CONF = cfg.CONF


def main():
    wire.install()
    objects.register_all()
    CONF(sys.argv[1:], project='cinder', version=version.version_string())
    config.set_middleware_defaults()
    logging.setup(CONF, 'cinder')
    rpc.init(CONF)
    coordination.COORDINATOR.start()
    launcher = os_service.ServiceLauncher(CONF)
    launcher.launch_service(service.Service.create(binary='cinder-scheduler'))
    for backend in CONF.enabled_backends:
        CONF.register_opt(volume_cmd.host_opt, group=backend)
        launcher.launch_service(service.Service.create(
            host='%s@%s' % (CONF.host, backend), service_name=backend,
            binary='cinder-volume', coordination=True))
    launcher.launch_service(service.WSGIService('osapi_volume'))
    print('cinder aio started', flush=True)
    launcher.wait()


if __name__ == '__main__':
    main()
