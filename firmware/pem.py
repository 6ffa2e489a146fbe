"""PEM text to DER bytes: certificates and keys for MQTT over TLS.

MicroPython's mbedtls builds may leave out PEM parsing, while DER always
loads, so the publisher hands certificates and keys over as DER. The config
checks use the same code, so a PATCH with a file the publisher cannot use is
refused with the reason.
"""
import binascii


def blocks(text, kind="", keep=True):
    """DER bytes of each ``-----BEGIN ...<kind>-----`` block of ``text``, in order.

    Blocks of other kinds are skipped: ``openssl ecparam -genkey`` writes an
    ``EC PARAMETERS`` block before the ``EC PRIVATE KEY``. ValueError says why
    when there is no usable block. A block's base64 is decoded in one call on
    its slice of the text (a2b_base64 skips the line breaks): no list of lines
    and no joined copy, which a 64 KB heap cannot always find room for beside
    a 2 KB certificate. ``keep=False`` (the config checks) only checks that
    each block decodes, a few lines at a time, and gives None for it.
    """
    out = []
    pos = 0
    while True:
        begin = text.find("-----BEGIN ", pos)
        end = text.find("-----END ", pos)
        if begin < 0 <= end or 0 <= end < begin:
            raise ValueError("PEM: END line without BEGIN")
        if begin < 0:
            break
        eol = text.find("\n", begin)
        if eol < 0 or end < 0 or 0 <= text.find("-----BEGIN ", eol, end):
            raise ValueError("PEM: BEGIN line without END")
        label = text[begin + 11:eol].strip().rstrip("-").strip()
        if label.endswith(kind):
            # "ENCRYPTED PRIVATE KEY", or "Proc-Type: 4,ENCRYPTED" (the older OpenSSL form)
            if label.startswith("ENCRYPTED") or text.find(":", eol, end) >= 0:
                raise ValueError("PEM: encrypted keys are not supported; use an unencrypted key")
            try:
                out.append(binascii.a2b_base64(text[eol + 1:end]) if keep else _check(text, eol + 1, end))
            except ValueError:
                raise ValueError("PEM: bad base64")
        pos = text.find("\n", end)
        if pos < 0:
            break
    if not out:
        raise ValueError("PEM: no -----BEGIN %s----- block found" % (kind or "..."))
    return out


def _check(text, start, end):
    """ValueError unless ``text[start:end]`` is base64: decoded line by line (or
    as many lines as make whole 4-character groups) and dropped, so checking a
    certificate never needs its DER size in one piece of the heap."""
    i = start
    while i < end:
        j = text.find("\n", i, end)
        i = end if j < 0 else j + 1
        part = text[start:i]
        if i == end or (len(part) - part.count("\n") - part.count("\r")) % 4 == 0:
            binascii.a2b_base64(part)
            start = i
