"""The WSGI application of the WSGI-only services, for protector_real_os.serve;
PROTECTOR_REAL_OS_WSGI names the service: keystone, placement or neutron.

Their WSGI modules parse sys.argv with oslo.config at import time and fail on a server's own
arguments ("unrecognized arguments"), so the arguments are hidden first. Each service finds its
configuration through its own variables (OS_KEYSTONE_CONFIG_FILES, OS_PLACEMENT_CONFIG_DIR,
OS_NEUTRON_CONFIG_DIR + OS_NEUTRON_CONFIG_FILES)."""
import os
import sys

sys.argv = sys.argv[:1]
_service = os.environ.get('PROTECTOR_REAL_OS_WSGI')
if _service == 'keystone':
    from keystone.wsgi.api import application  # noqa: F401
elif _service == 'placement':
    from placement.wsgi.api import application  # noqa: F401
elif _service == 'neutron':
    from neutron.wsgi.api import application  # noqa: F401
else:
    raise SystemExit('PROTECTOR_REAL_OS_WSGI must be keystone, placement or neutron, not %r'
                     % _service)
