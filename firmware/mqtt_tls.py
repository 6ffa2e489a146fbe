"""The TLS context of an mqtts broker connection, built from the MQTT settings.

mqtt_publisher imports this module (and pem.py) for each mqtts connection
attempt and drops both again after: a gateway on plain mqtt, or none, never
holds this code in its heap.
"""
import ssl

import pem
from clock import SET_AFTER_S, epoch_s


def context(cfg):
    """An ``ssl.SSLContext`` that checks the broker against ``cfg["CaCert"]``
    and, with ``ClientCert`` and ``ClientKey``, shows the device's own certificate.

    Raises OSError before NTP (certificate dates cannot be checked) and
    ValueError for a missing or unusable certificate or key.
    """
    if epoch_s() < SET_AFTER_S:
        raise OSError("clock not set (no NTP yet): cannot check the broker's certificate")
    ca = cfg.get("CaCert")
    if not ca:
        raise ValueError("mqtts needs MQTT.CaCert, the PEM of the CA that signed the broker's certificate")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    for der in pem.blocks(ca, "CERTIFICATE"):
        ctx.load_verify_locations(cadata=der)
    cert, key = cfg.get("ClientCert"), cfg.get("ClientKey")
    if cert or key:
        if not (cert and key):
            raise ValueError("mTLS needs both MQTT.ClientCert and MQTT.ClientKey")
        # DER holds one certificate: the first (the device's own) is sent.
        ctx.load_cert_chain(pem.blocks(cert, "CERTIFICATE")[0], pem.blocks(key, "PRIVATE KEY")[0])
    return ctx
