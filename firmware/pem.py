"""PEM text to DER bytes: certificates and keys for MQTT over TLS.

MicroPython's mbedtls builds may leave out PEM parsing, while DER always
loads, so the publisher hands certificates and keys over as DER. The config
checks use the same code, so a PATCH with a file the publisher cannot use is
refused with the reason.
"""
import binascii


def blocks(text, kind=""):
    """DER bytes of each ``-----BEGIN ...<kind>-----`` block of ``text``, in order.

    Blocks of other kinds are skipped: ``openssl ecparam -genkey`` writes an
    ``EC PARAMETERS`` block before the ``EC PRIVATE KEY``. ValueError says why
    when there is no usable block.
    """
    out = []
    b64 = None  # outside a block; False inside one of another kind; else its lines
    for line in text.split("\n"):
        line = line.strip()
        if line.startswith("-----BEGIN "):
            label = line[11:].rstrip("-").strip()
            b64 = [] if label.endswith(kind) else False
            if b64 is not False and label.startswith("ENCRYPTED"):
                raise ValueError("PEM: encrypted keys are not supported; use an unencrypted key")
        elif line.startswith("-----END "):
            if b64 is None:
                raise ValueError("PEM: END line without BEGIN")
            if b64 is not False:
                try:
                    out.append(binascii.a2b_base64("".join(b64)))
                except ValueError:
                    raise ValueError("PEM: bad base64")
            b64 = None
        elif b64 is not None and b64 is not False and line:
            if ":" in line:  # "Proc-Type: 4,ENCRYPTED" (the older OpenSSL form)
                raise ValueError("PEM: encrypted keys are not supported; use an unencrypted key")
            b64.append(line)
    if b64 is not None:
        raise ValueError("PEM: BEGIN line without END")
    if not out:
        raise ValueError("PEM: no -----BEGIN %s----- block found" % (kind or "..."))
    return out
