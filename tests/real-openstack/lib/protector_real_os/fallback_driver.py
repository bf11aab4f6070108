"""A small Cinder volume driver for a FlashArray's REST 2.x API: the harness's `fallback`
backend (PROTECTOR_REAL_OS_BACKEND=fallback), for when Cinder's own Pure driver
(cinder.volume.drivers.pure.PureISCSIDriver) cannot run against the twin's array.

It keeps the Pure driver's conventions wherever the project depends on them:
- the array volume of Cinder volume <id> is `volume-<id>-cinder`;
- manage renames the referenced array volume ({"source-name": NAME}) to `volume-<id>-cinder`
  and refuses one that is connected to hosts;
- unmanage renames it to `volume-<id>-cinder-unmanaged` and leaves it on the array;
- delete destroys the array volume (recoverable until eradicated, as the Pure driver does by
  default, pure_eradicate_on_delete=False);
- attach finds or creates the array host of the connector's iSCSI initiator and connects the
  volume to it; detach disconnects it;
- created and managed volumes get the volume metadata array_volume_name and array_name;
- the stats report no pools, so the pool is the backend name: `HOST@pure#fa-a` (lib/site-up).
It does not do snapshots, clones, extend, retype, replication or groups.

Configuration (the backend's section of cinder.conf, the Pure driver's option names):
  volume_driver = protector_real_os.fallback_driver.FlashArrayRestDriver
  san_ip = HOST:PORT                 # the array's management address
  pure_api_token = TOKEN
  driver_ssl_cert_verify = true
  driver_ssl_cert_path = CA.pem      # the CA that signed the array's certificate
"""
import math
import re

import requests
from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import units

from cinder import exception
from cinder.volume import driver
from cinder.volume import volume_utils
from cinder.volume.drivers.san import san

from protector_real_os import array

LOG = logging.getLogger(__name__)

# The Pure driver's own option (same name and help, so registering both is no conflict).
OPTS = [
    cfg.StrOpt('pure_api_token', help='REST API authorization token.'),
]
CONF = cfg.CONF
CONF.register_opts(OPTS, group='backend_defaults')

UNMANAGED_SUFFIX = '-unmanaged'


class _Array:
    """The array client, its errors as Cinder's VolumeBackendAPIException."""

    def __init__(self, address, token, verify):
        self._client = array.FlashArray(address, token, verify)

    @property
    def base(self):
        return self._client.base

    @property
    def version(self):
        return self._client.version

    def call(self, *args, **kwargs):
        try:
            return self._client.call(*args, **kwargs)
        except (array.ArrayError, requests.RequestException) as error:
            raise ArrayError(data=str(error))


class ArrayError(exception.VolumeBackendAPIException):
    pass


def _gib(size_bytes):
    return int(math.ceil(float(size_bytes) / units.Gi))


class FlashArrayRestDriver(driver.VolumeDriver):
    VERSION = '0.1.0'

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.configuration:
            self.configuration.append_config_values(OPTS)
            self.configuration.append_config_values(san.san_opts)
        self._array = None
        self._array_name = None
        self._array_id = None
        self._backend_name = None

    # ------------------------------------------------------------------ setup
    def do_setup(self, context):
        conf = self.configuration
        verify = bool(conf.safe_get('driver_ssl_cert_verify'))
        if verify and conf.safe_get('driver_ssl_cert_path'):
            verify = conf.safe_get('driver_ssl_cert_path')
        self._array = _Array(conf.safe_get('san_ip'), conf.safe_get('pure_api_token'), verify)
        info = self._array.call('GET', 'arrays')[0]
        self._array_name, self._array_id = info['name'], info['id']
        self._backend_name = conf.safe_get('volume_backend_name') or 'pure'
        LOG.info('FlashArray %s (%s) at %s, REST %s', self._array_name, self._array_id,
                 self._array.base, self._array.version)

    def check_for_setup_error(self):
        pass

    def _update_volume_stats(self):
        volumes = self._array.call('GET', 'volumes', params={'destroyed': 'false'})
        self._stats = {
            'volume_backend_name': self._backend_name,
            'vendor_name': 'Pure Storage',
            'driver_version': self.VERSION,
            'storage_protocol': 'iSCSI',
            'total_capacity_gb': 'infinite',
            'free_capacity_gb': 'infinite',
            'reserved_percentage': 0,
            'thin_provisioning_support': True,
            'multiattach': False,
            'replication_enabled': False,
            # a lock per target is for targets shared between volumes; these are not, and a
            # shared target needs the volume's service_uuid, which manage leaves empty
            'shared_targets': False,
            'total_volumes': len(volumes),
        }

    # ------------------------------------------------------------------ volumes
    @staticmethod
    def _name(volume):
        return '%s-cinder' % volume.name

    def _model(self, volume, name):
        """The model update of a created or managed volume: as the Pure driver's, including its
        volume metadata `array_volume_name` and `array_name` (protector reads them)."""
        return {
            'provider_id': name,
            'shared_targets': False,
            'metadata': {**(volume.metadata or {}), 'array_volume_name': name,
                         'array_name': self._array_name},
        }

    def create_volume(self, volume):
        name = self._name(volume)
        self._array.call('POST', 'volumes', params={'names': name},
                         body={'provisioned': volume.size * units.Gi})
        return self._model(volume, name)

    def delete_volume(self, volume):
        name = self._name(volume)
        try:
            self._array.call('PATCH', 'volumes', params={'names': name},
                             body={'destroyed': True})
        except ArrayError as error:
            if 'does not exist' in str(error):
                LOG.warning('array volume %s is already gone', name)
                return
            raise

    def _get(self, name):
        """The array volume of that name (not destroyed), or None."""
        try:
            items = self._array.call('GET', 'volumes', params={'names': name})
        except ArrayError as error:
            if 'does not exist' in str(error):
                return None
            raise
        items = [v for v in items if not v.get('destroyed')]
        return items[0] if items else None

    def _referenced(self, existing_ref):
        name = existing_ref.get('source-name')
        if not name:
            raise exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason="manage_existing requires a 'source-name' key to identify an "
                       "existing volume.")
        found = self._get(name)
        if not found:
            raise exception.ManageExistingInvalidReference(
                existing_ref=existing_ref, reason='Unable to find Purity ref with name=%s'
                % name)
        return found

    def manage_existing_get_size(self, volume, existing_ref):
        return _gib(self._referenced(existing_ref)['provisioned'])

    def manage_existing(self, volume, existing_ref):
        found = self._referenced(existing_ref)
        if found.get('connection_count'):
            raise exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason='%s manage_existing cannot manage a volume connected to hosts. Please '
                       'disconnect this volume from existing hosts before importing'
                       % type(self).__name__)
        name = self._name(volume)
        if found['name'] != name:
            LOG.info('Renaming existing volume %s to %s', found['name'], name)
            self._array.call('PATCH', 'volumes', params={'names': found['name']},
                             body={'name': name})
        return self._model(volume, name)

    def unmanage(self, volume):
        name = self._name(volume)
        LOG.info('Renaming existing volume %s to %s', name, name + UNMANAGED_SUFFIX)
        self._array.call('PATCH', 'volumes', params={'names': name},
                         body={'name': name + UNMANAGED_SUFFIX})

    def get_manageable_volumes(self, cinder_volumes, marker, limit, offset, sort_keys,
                               sort_dirs):
        by_name = {self._name(v): v for v in cinder_volumes}
        entries = []
        for item in self._array.call('GET', 'volumes', params={'destroyed': 'false'}):
            managed = by_name.get(item['name'])
            reason = None
            if managed:
                reason = 'Volume already managed.'
            elif item.get('connection_count'):
                reason = 'Volume connected to host(s).'
            entries.append({
                'reference': {'source-name': item['name']},
                'size': _gib(item['provisioned']),
                'safe_to_manage': reason is None,
                'reason_not_safe': reason,
                'cinder_id': managed['id'] if managed else None,
                'extra_info': None,
            })
        return volume_utils.paginate_entries_list(entries, marker, limit, offset, sort_keys,
                                                  sort_dirs)

    # ------------------------------------------------------------------ exports (none)
    def create_export(self, context, volume, connector):
        pass

    def ensure_export(self, context, volume):
        pass

    def remove_export(self, context, volume):
        pass

    # ------------------------------------------------------------------ attachments
    def _host_for(self, connector):
        """The array host holding the connector's initiator, created when there is none."""
        initiator = connector.get('initiator')
        if not initiator:
            raise exception.InvalidConnectorException(missing='initiator')
        for host in self._array.call('GET', 'hosts'):
            if initiator in (host.get('iqns') or []):
                return host['name']
        name = re.sub(r'[^A-Za-z0-9-]', '-', connector.get('host') or 'host')[:50]
        name = '%s-cinder' % name.strip('-')
        self._array.call('POST', 'hosts', params={'names': name}, body={'iqns': [initiator]})
        return name

    def initialize_connection(self, volume, connector):
        name = self._name(volume)
        host = self._host_for(connector)
        params = {'host_names': host, 'volume_names': name}
        try:
            self._array.call('POST', 'connections', params=params)
        except ArrayError as error:
            if 'already' not in str(error):
                raise
        lun = self._array.call('GET', 'connections', params=params)[0].get('lun', 1)
        return {
            'driver_volume_type': 'iscsi',
            'data': {
                'target_discovered': False,
                'discard': True,
                'target_iqn': 'iqn.2010-06.com.purestorage:flasharray.%s'
                % self._array_id.replace('-', '')[:16],
                'target_portal': '127.0.0.1:3260',
                'target_lun': lun,
                'volume_id': volume.id,
            },
        }

    def terminate_connection(self, volume, connector, **kwargs):
        name = self._name(volume)
        hosts = []
        if connector and connector.get('initiator'):
            hosts = [h['name'] for h in self._array.call('GET', 'hosts')
                     if connector['initiator'] in (h.get('iqns') or [])]
        else:  # force detach: every host the volume is connected to
            hosts = [c['host']['name'] for c in self._array.call(
                'GET', 'connections', params={'volume_names': name}) if c.get('host')]
        for host in hosts:
            try:
                self._array.call('DELETE', 'connections',
                                 params={'host_names': host, 'volume_names': name})
            except ArrayError as error:
                if 'does not exist' not in str(error) and 'not connected' not in str(error):
                    raise
