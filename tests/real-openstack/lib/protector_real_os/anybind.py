"""An ML2 mechanism driver that binds every port on every host as an OVS port, ACTIVE, without
agents: Nova's fake virt driver then boots with real Neutron ports. (None of Neutron's in-tree
test drivers binds arbitrary hosts; the `test` driver leaves `binding_failed`.)

Registered as `anybind` by ../protector_real_os-0.dist-info/entry_points.txt."""
from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api

# Every DB model must be imported before the mappers are configured, or relationships declared
# by service plugins that are not loaded (Port.port_forwardings) are missing and
# GET /v2.0/ports/{id} fails with "Port has no attribute 'port_forwardings'".
from neutron.db.migration.models import head  # noqa: F401
from neutron.db.models import port_forwarding  # noqa: F401


class AnyHostMechanismDriver(api.MechanismDriver):
    def initialize(self):
        from sqlalchemy import orm
        orm.configure_mappers()

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(segment[api.ID], portbindings.VIF_TYPE_OVS,
                                {portbindings.CAP_PORT_FILTER: False},
                                status=constants.PORT_STATUS_ACTIVE)
            return

    @property
    def connectivity(self):
        return portbindings.CONNECTIVITY_L2
