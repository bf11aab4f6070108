"""Makes oslo.messaging's in-memory `fake://` transport pass what a real broker passes: JSON.

The fake driver hands the caller's request and the server's reply over as the very Python
objects (it only checks that the request would serialize). Real drivers send JSON, so services
rely on getting plain copies: without this, Cinder's `GET /scheduler-stats/get_pools?detail=True`
fails with "'ReadOnlyDict' object has no attribute 'copy'" (the API gets the scheduler's own
read-only capabilities object), and a receiver could mutate the sender's data."""
from oslo_messaging._drivers import impl_fake
from oslo_serialization import jsonutils


def _wire(value):
    return jsonutils.loads(jsonutils.dumps(value))


def install():
    if getattr(impl_fake, '_protector_real_os_wire', False):
        return
    deliver = impl_fake.FakeExchange.deliver_message
    send_reply = impl_fake.FakeIncomingMessage.reply

    def deliver_message(self, topic, ctxt, message, server=None, fanout=False,
                        reply_q=None):
        return deliver(self, topic, _wire(ctxt), _wire(message), server=server,
                       fanout=fanout, reply_q=reply_q)

    def reply(self, reply=None, failure=None):
        return send_reply(self, reply=_wire(reply), failure=failure)

    impl_fake.FakeExchange.deliver_message = deliver_message
    impl_fake.FakeIncomingMessage.reply = reply
    impl_fake._protector_real_os_wire = True
