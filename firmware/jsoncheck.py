"""Strict JSON syntax (RFC 8259) for request bodies, before MicroPython's lenient parser sees them.

MicroPython's json module accepts ``{"a": 1,}``, ``[1,,2]``, ``{"a": 1 "b": 2}``
and ``01``: a typo in a hand-written PATCH would be taken for what it is not.
``check`` walks the bytes once, a piece at a time (a spooled body is a file),
keeping only a small nesting stack. Loaded for a config change only
(webconfig) and dropped after.
"""
from micropython import const

_MAX_DEPTH = const(32)

# What may come next.
_VALUE = const(0)        # any value (the document, an array element, after ":")
_VALUE_OR_END = const(1)  # just after "[": a value or "]"
_KEY = const(2)          # after "," in an object: a string
_KEY_OR_END = const(3)   # just after "{": a string or "}"
_COLON = const(4)
_NEXT = const(5)         # after a value: "," or the closing bracket (or the end)
_STRING = const(6)
_ESCAPE = const(7)
_HEX = const(8)          # inside \uXXXX
_NUMBER = const(9)
_LITERAL = const(10)     # inside true / false / null

# Number sub-states: which characters may follow.
_N_SIGN = const(0)       # "-": a digit
_N_ZERO = const(1)       # a leading 0: ".", "e" or the end, never another digit
_N_INT = const(2)
_N_DOT = const(3)        # a digit
_N_FRAC = const(4)
_N_E = const(5)          # a sign or a digit
_N_ESIGN = const(6)      # a digit
_N_EXP = const(7)
_N_DONE = (_N_ZERO, _N_INT, _N_FRAC, _N_EXP)

_WS = b" \t\r\n"
_ESCAPES = b'"\\/bfnrt'
_LITERALS = (b"true", b"false", b"null")


def check(pieces):
    """Raise ValueError unless the bytes of ``pieces`` (an iterable of bytes) are one JSON value."""
    stack = bytearray(_MAX_DEPTH)  # "{" or "[" per open level
    depth = 0
    state = _VALUE
    sub = 0           # number sub-state, hex digits left, or the literal's index
    lit = b""         # the literal being matched
    after_key = False  # the string being read is an object key
    for piece in pieces:
        for c in piece:
            if state == _STRING:
                if c == 0x22:
                    state = _COLON if after_key else _NEXT
                elif c == 0x5C:
                    state = _ESCAPE
                elif c < 0x20:
                    raise ValueError("control character in a string")
                continue
            if state == _ESCAPE:
                if c == 0x75:  # "u"
                    state, sub = _HEX, 4
                elif c in _ESCAPES:
                    state = _STRING
                else:
                    raise ValueError("bad escape in a string")
                continue
            if state == _HEX:
                if not (0x30 <= c <= 0x39 or 0x41 <= c <= 0x46 or 0x61 <= c <= 0x66):
                    raise ValueError("bad \\u escape")
                sub -= 1
                if not sub:
                    state = _STRING
                continue
            if state == _LITERAL:
                if c != lit[sub]:
                    raise ValueError("not a JSON value")
                sub += 1
                if sub == len(lit):
                    state = _NEXT
                continue
            if state == _NUMBER:
                sub = _number(sub, c)
                if sub >= 0:
                    continue
                if -sub - 1 not in _N_DONE:
                    raise ValueError("bad number")
                state = _NEXT  # the number ended at c: c is read as what follows it
            if c in _WS:
                continue
            if state == _NEXT:
                if depth and c == 0x2C:  # ","
                    state = _KEY if stack[depth - 1] == 0x7B else _VALUE
                elif depth and c == stack[depth - 1] + 2:  # "{" + 2 = "}", "[" + 2 = "]"
                    depth -= 1
                else:
                    raise ValueError("expected , or a closing bracket")
            elif state == _COLON:
                if c != 0x3A:
                    raise ValueError("expected :")
                state = _VALUE
            elif state == _KEY or state == _KEY_OR_END:
                if c == 0x22:
                    state, after_key = _STRING, True
                elif c == 0x7D and state == _KEY_OR_END:
                    depth -= 1
                    state = _NEXT
                else:
                    raise ValueError("expected a string key")
            else:  # a value
                if c == 0x5D and state == _VALUE_OR_END:
                    depth -= 1
                    state = _NEXT
                elif c == 0x7B or c == 0x5B:
                    if depth == _MAX_DEPTH:
                        raise ValueError("nested too deep")
                    stack[depth] = c
                    depth += 1
                    state = _KEY_OR_END if c == 0x7B else _VALUE_OR_END
                elif c == 0x22:
                    state, after_key = _STRING, False
                elif c == 0x2D or 0x30 <= c <= 0x39:
                    state, sub = _NUMBER, _N_SIGN if c == 0x2D else _N_ZERO if c == 0x30 else _N_INT
                else:
                    for lit in _LITERALS:
                        if c == lit[0]:
                            break
                    else:
                        raise ValueError("not a JSON value")
                    state, sub = _LITERAL, 1
    if state == _NUMBER and sub in _N_DONE:
        state = _NEXT
    if state != _NEXT or depth:
        raise ValueError("incomplete JSON")


def _number(sub, c):
    """The number sub-state after ``c``; -(sub + 1) when ``c`` cannot continue the number."""
    digit = 0x30 <= c <= 0x39
    if sub == _N_SIGN:
        if digit:
            return _N_ZERO if c == 0x30 else _N_INT
        raise ValueError("bad number")
    if sub == _N_ZERO or sub == _N_INT:
        if digit:
            if sub == _N_ZERO:
                raise ValueError("leading zero in a number")
            return _N_INT
        if c == 0x2E:
            return _N_DOT
        if c == 0x65 or c == 0x45:
            return _N_E
    elif sub == _N_DOT or sub == _N_ESIGN:
        if digit:
            return _N_FRAC if sub == _N_DOT else _N_EXP
        raise ValueError("bad number")
    elif sub == _N_FRAC:
        if digit:
            return _N_FRAC
        if c == 0x65 or c == 0x45:
            return _N_E
    elif sub == _N_E:
        if digit:
            return _N_EXP
        if c == 0x2B or c == 0x2D:
            return _N_ESIGN
        raise ValueError("bad number")
    elif digit:  # _N_EXP
        return _N_EXP
    return -sub - 1
