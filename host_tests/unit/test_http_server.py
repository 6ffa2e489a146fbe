"""The HTTP server's parser, limits, router and Basic auth, through the socket-free client."""
import asyncio
import json

from auth_throttle import FORGET_MS, MAX_DELAY_MS, TABLE_SIZE
from _http_client import ReadInto, TestClient, _Writer, parse_responses
from http_server import (App, BasicAuth, Server, error_response, file_response,
                         json_response, header_line, request_line, HttpError, MAX_BODY, MAX_HEAD)


def _app():
    app = App()

    @app.route("/hello")
    async def hello(req):
        return json_response({"hi": req.query})

    @app.route("/echo", methods=("POST", "PATCH"))
    async def echo(req):
        return json_response({"len": len(req.body), "type": req.headers.get("content-type")})

    @app.route("/written")
    async def written(req):
        def fill(write):
            write('{"count":')
            write("12345.678")
            write(',"name":"caf\u00e9"}')
        return json_response(fill)

    @app.route("/boom")
    async def boom(req):
        raise ValueError("bug")

    @app.route("/noheap", methods=("PATCH",))
    async def noheap(req):
        raise MemoryError("memory allocation failed, allocating 2048 bytes")

    @app.route("/oserror")
    async def oserror(req):
        raise OSError(12290)  # e.g. a Wi-Fi scan that fails: the handler's error, not the socket's

    return app


def _client(app=None):
    return TestClient(Server(app or _app()))


def test_get_routes_to_handler_with_query():
    r = _client().get("/hello?x=1")
    assert r.status == 200 and r.json() == {"hi": "x=1"}
    assert r.headers["content-type"] == "application/json"


class _ResetWriter(_Writer):
    """A client that hung up: the socket's write raises after ``ok`` writes."""

    def __init__(self, ok):
        super().__init__()
        self.ok = ok

    def write(self, data):
        if self.ok <= 0:
            raise OSError(104)  # ECONNRESET
        self.ok -= 1
        super().write(data)


def test_a_response_cut_by_a_reset_leaves_nothing_for_the_next_connection():
    from _http_client import _Reader
    app = App()

    @app.route("/big")
    async def big(req):
        return json_response(["s" * 100] * 9)  # in pieces, more than one 512-byte buffer

    server = Server(app)
    req = b"GET /big HTTP/1.1\r\nConnection: close\r\n\r\n"
    asyncio.run(server.handle(_Reader(req), _ResetWriter(1)))   # its second piece hits the reset
    client = TestClient(server)
    client.get("/nothing-here")
    assert bytes(client.writer.out).startswith(b"HTTP/1.1 404 ")


def test_json_written_in_pieces_is_one_body_with_its_length():
    r = _client().get("/written")
    assert r.status == 200 and r.headers["content-type"] == "application/json"
    assert r.body == '{"count":12345.678,"name":"caf\u00e9"}'.encode()
    assert int(r.headers["content-length"]) == len(r.body)


def test_unknown_path_is_404():
    assert _client().get("/nope").status == 404


def test_wrong_method_is_405_with_allow():
    r = _client().request("DELETE", "/echo")
    assert r.status == 405 and r.headers["allow"] == "PATCH, POST"


def test_body_read_by_content_length():
    body = '{"a": "%s"}' % ("b" * 100)
    r = _client().request("POST", "/echo", body=body, headers={"Content-Type": "application/json"})
    assert r.status == 200 and r.json() == {"len": len(body), "type": "application/json"}


def test_lines_ending_in_a_bare_lf_are_understood():
    r = _client().raw(b"POST /echo HTTP/1.1\nContent-Length: 2\n\nabGET /hello?x=1 HTTP/1.1\nHost: h\r\n\r\n")
    assert [x.status for x in r] == [200, 200]
    assert r[0].json()["len"] == 2 and r[1].json() == {"hi": "x=1"}


def test_body_arriving_in_small_pieces_is_reassembled():
    c = _client()
    body = b'{"k": "%s"}' % (b"v" * 300)
    raw = b"POST /echo HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    r = c.raw(raw, chunk=7)
    assert len(r) == 1 and r[0].json()["len"] == len(body)


def _small_server():
    # The 8 KB default is exercised against the real firmware (test_web_sim.py);
    # here a small limit keeps the unit test inside a 96 KB heap.
    s = Server(_app())
    s.max_body = 600
    s.max_head = 300
    return s


def test_body_over_limit_is_413_and_connection_closed():
    c = TestClient(_small_server())
    r = c.raw(b"POST /echo HTTP/1.1\r\nContent-Length: 601\r\n\r\n" + b"x" * 100)
    assert [x.status for x in r] == [413] and c.writer.closed


def test_body_of_exactly_the_limit_is_accepted():
    c = TestClient(_small_server())
    r = c.raw(b"POST /echo HTTP/1.1\r\nContent-Length: 600\r\n\r\n" + b"x" * 600, chunk=64)
    assert r[0].json()["len"] == 600


def test_default_limits_are_8k_body_2k_head():
    assert (Server.max_body, Server.max_head) == (MAX_BODY, MAX_HEAD) == (8192, 2048)


def test_huge_head_is_431():
    c = TestClient(_small_server())
    assert [x.status for x in c.raw(b"GET /hello HTTP/1.1\r\nX-Big: " + b"a" * 400 + b"\r\n\r\n")] == [431]


def test_head_just_under_limit_is_served():
    c = TestClient(_small_server())
    raw = b"GET /hello HTTP/1.1\r\nX-Big: "
    raw += b"a" * (300 - len(raw) - 4) + b"\r\n\r\n"
    assert len(raw) == 300 and c.raw(raw)[0].status == 200


def test_too_many_headers_is_431():
    raw = b"GET /hello HTTP/1.1\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(40)) + b"\r\n"
    assert _client().raw(raw)[0].status == 431


def test_garbage_request_line_is_400():
    for raw in (b"\x00\xff\xfe garbage\r\n\r\n", b"GET\r\n\r\n", b"GET nopath HTTP/1.1\r\n\r\n",
                b"GET / SPDY/3\r\n\r\n", b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
                b"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n"):
        r = _client().raw(raw)
        assert [x.status for x in r] == [400], raw


def test_bad_content_length_is_400_and_chunked_is_411():
    assert _client().raw(b"POST /echo HTTP/1.1\r\nContent-Length: -5\r\n\r\n")[0].status == 400
    assert _client().raw(b"POST /echo HTTP/1.1\r\nContent-Length: zz\r\n\r\n")[0].status == 400
    r = _client().raw(b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    assert r[0].status == 411


def test_truncated_body_closes_without_answer():
    c = _client()
    assert c.raw(b"POST /echo HTTP/1.1\r\nContent-Length: 50\r\n\r\nshort") == [] and c.writer.closed


def test_client_closing_mid_head_gets_nothing():
    c = _client()
    assert c.raw(b"GET /hel") == [] and c.writer.closed


def test_handler_exception_is_500_and_counted():
    s = Server(_app())
    r = TestClient(s).get("/boom")
    assert r.status == 500 and s.counters["errors"] == 1


def test_a_handler_that_finds_no_heap_is_503_try_again_not_500():
    s = Server(_app())
    r = TestClient(s).request("PATCH", "/noheap", b"{}")
    assert r.status == 503 and b"out of memory" in r.body and s.counters["errors"] == 1


def test_keep_alive_serves_pipelined_requests_in_order():
    raw = (b"GET /hello?a HTTP/1.1\r\n\r\nGET /hello?b HTTP/1.1\r\n\r\n"
           b"GET /hello?c HTTP/1.1\r\nConnection: close\r\n\r\nGET /hello?d HTTP/1.1\r\n\r\n")
    r = _client().raw(raw)
    assert [x.json()["hi"] for x in r] == ["a", "b", "c"]
    assert r[0].headers["connection"] == "keep-alive" and r[2].headers["connection"] == "close"


def test_http10_closes_by_default():
    r = _client().raw(b"GET /hello HTTP/1.0\r\n\r\nGET /hello HTTP/1.0\r\n\r\n")
    assert len(r) == 1 and r[0].headers["connection"] == "close"


def test_over_connection_limit_gets_503():
    s = Server(_app())
    s.active = s.max_conns
    r = TestClient(s).get("/hello")
    assert r.status == 503 and s.counters["refused"] == 1 and s.active == s.max_conns


def test_active_count_returns_to_zero_after_errors():
    s = Server(_app())
    c = TestClient(s)
    c.raw(b"junk\r\n\r\n")
    c.get("/boom")
    c.raw(b"POST /echo HTTP/1.1\r\nContent-Length: 9\r\n\r\nab")
    assert s.active == 0


def test_before_hook_can_answer_first():
    app = _app()

    async def before(req):
        return error_response(401, "no") if req.path != "/hello" else None
    app.before = before
    c = _client(app)
    assert c.get("/echo").status == 401 and c.get("/hello").status == 200


def test_refused_request_body_is_never_read_and_the_connection_closes():
    app = _app()
    seen = []

    async def before(req):
        seen.append(len(req.body))
        return error_response(401, "no")
    app.before = before
    c = _client(app)
    head = b"PATCH /echo HTTP/1.1\r\nContent-Length: 4000\r\n\r\n"
    resps = c.raw(head + b"x" * 4000 + b"GET /hello HTTP/1.1\r\n\r\n")
    assert [r.status for r in resps] == [401] and seen == [0]
    assert resps[0].headers["connection"] == "close"


def test_body_on_a_route_without_one_is_never_read():
    # Open GET routes must not let anyone make the server allocate 8 KB.
    c = _client()
    r = c.raw(b"GET /hello HTTP/1.1\r\nContent-Length: 8000\r\n\r\n" + b"x" * 8000)
    assert [x.status for x in r] == [400] and c.writer.closed
    # A body for a method the route does not take: 405, the body drained unread.
    r = c.raw(b"POST /hello HTTP/1.1\r\nContent-Length: 5\r\n\r\nGET /hello HTTP/1.1\r\n\r\n")
    assert [x.status for x in r] == [405]


def test_two_different_content_lengths_are_400():
    r = _client().raw(b"POST /echo HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\nabcde")
    assert [x.status for x in r] == [400]
    r = _client().raw(b"POST /echo HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nab")
    assert r[0].json()["len"] == 2


def test_handler_oserror_is_a_500_not_a_dropped_connection():
    s = Server(_app())
    r = TestClient(s).get("/oserror")
    assert r.status == 500 and s.counters["errors"] == 1


class _Trickle(ReadInto):
    """A client that sends a bad request, then one byte at a time for ever."""

    def __init__(self):
        self.sent = 0
        self._head = b"BAD\r\n\r\n"

    async def read(self, n):
        if self._head:
            head, self._head = self._head, b""
            return head
        await asyncio.sleep(0.01)
        self.sent += 1
        return b"x"


def test_a_trickling_client_is_cut_off_after_the_discard_deadline():
    s = Server(_app())
    s.discard_s = 0.2
    reader, writer = _Trickle(), _Writer()

    async def run():
        await asyncio.wait_for(s.handle(reader, writer), 5)
    asyncio.run(run())
    assert [r.status for r in parse_responses(writer.out)] == [400] and writer.closed
    assert reader.sent < 100  # 0.2 s of bytes, not the 10 KB the drain would take


class _SlowBody(ReadInto):
    """A PATCH whose body arrives in two halves with a pause between them."""

    def __init__(self, log, name, pause):
        self._parts = [b"PATCH /echo HTTP/1.1\r\nContent-Length: 4\r\nConnection: close\r\n\r\nab", b"cd"]
        self._log = log
        self._name = name
        self._pause = pause

    async def read(self, n):
        if not self._parts:
            return b""
        if len(self._parts) == 1:
            self._log.append(self._name + " body")
            await asyncio.sleep(self._pause)
        return self._parts.pop(0)


def test_one_request_body_in_memory_at_a_time():
    app = App()
    log = []

    @app.route("/echo", methods=("PATCH",))
    async def echo(req):
        log.append("handled %d" % len(req.body))
        return json_response({})
    s = Server(app)

    async def run():
        w1, w2 = _Writer(), _Writer()
        await asyncio.gather(s.handle(_SlowBody(log, "a", 0.1), w1), s.handle(_SlowBody(log, "b", 0), w2))
        return w1, w2
    w1, w2 = asyncio.run(run())
    # b's body is only read once a's request is done with.
    assert log == ["a body", "handled 4", "b body", "handled 4"], log
    assert [r.status for r in parse_responses(w1.out) + parse_responses(w2.out)] == [200, 200]


def test_file_response_streams_whole_file():
    import os
    path = "_http_test_file.bin"
    data = bytes(range(256)) * 9
    with open(path, "wb") as f:
        f.write(data)
    try:
        app = App()

        @app.route("/f")
        async def f(req):
            return file_response(path, "application/octet-stream", len(data), gzip=True)
        r = _client(app).get("/f")
        assert r.body == data and r.headers["content-encoding"] == "gzip"
        # Pipelined: the file is sent while the next request waits in the connection's buffer.
        rs = _client(app).raw(b"GET /f HTTP/1.1\r\n\r\nGET /f HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert [x.body == data for x in rs] == [True, True]
    finally:
        os.remove(path)


def parse_head(head):
    """A head (no blank line) parsed line by line, as Server._read_request does."""
    lines = head.split(b"\r\n")
    req = request_line(lines[0], 0, len(lines[0]))
    for line in lines[1:]:
        header_line(req, line, 0, len(line))
    return req


def test_parse_head_lowercases_header_names():
    req = parse_head(b"GET /a?b=c HTTP/1.1\r\nHost: x\r\nContent-Type: Application/JSON; charset=utf-8")
    assert req.headers["host"] == "x" and req.headers["content-type"] == "Application/JSON; charset=utf-8"
    assert (req.path, req.query) == ("/a", "b=c")


def test_parse_head_rejects_non_utf8():
    try:
        parse_head(b"GET /\xff HTTP/1.1")
        ok = False
    except HttpError as e:
        ok = e.args[0] == 400
    assert ok


def _basic(user, pw):
    import binascii
    return "Basic " + binascii.b2a_base64(("%s:%s" % (user, pw)).encode()).decode().strip()


def test_basic_auth_accepts_right_password_only():
    a = BasicAuth("user", "s3cret")
    assert a.check(_basic("user", "s3cret")) == "ok"
    assert a.check(_basic("user", "s3cre")) == "bad"
    assert a.check(_basic("admin", "s3cret")) == "bad"
    assert a.check("Basic !!!notbase64") == "bad"


def test_basic_auth_missing_credentials_are_not_failures():
    a = BasicAuth("user", "pw")
    assert a.check(None) == "missing" and a.check("Bearer x") == "missing" and a.failures == 0


def test_basic_auth_locks_after_free_failures_longer_each_time_and_unlocks():
    now = [0]
    a = BasicAuth("user", "pw", clock=lambda: now[0])
    waits = []
    for _ in range(6):
        assert a.check(_basic("user", "wrong")) == "bad"
        waits.append(a.retry_after_s())
        now[0] += waits[-1] * 1000  # the guesser waits out each lock
    assert waits[:3] == [0, 0, 0] and waits[3] > 0
    assert all(waits[i] <= waits[i + 1] for i in range(5)) and waits[-1] <= MAX_DELAY_MS // 1000


def test_basic_auth_while_locked_answers_locked_without_checking():
    now = [0]
    a = BasicAuth("user", "pw", clock=lambda: now[0])
    for _ in range(4):
        a.check(_basic("user", "wrong"))
    failures = a.failures
    assert a.check(_basic("user", "pw")) == "locked" and a.failures == failures
    now[0] += a.retry_after_s() * 1000
    assert a.check(_basic("user", "pw")) == "ok"
    assert [a.check(_basic("user", "wrong")) for _ in range(4)] == ["bad"] * 4  # the count starts over
    assert a.failures == failures + 4  # the status counts every wrong password


def test_a_typo_then_the_right_password_leaves_no_table_behind():
    a = BasicAuth("user", "pw")
    assert a.check(_basic("user", "pq"), b"\x7f\0\0\x01") == "bad" and len(a._fails) == TABLE_SIZE
    assert a.check(_basic("user", "pw"), b"\x7f\0\0\x01") == "ok"
    assert len(a._fails) == 0 and a.retry_after_s(b"\x7f\0\0\x01") == 0 and a.failures == 1


def _guess_for(a, now, addr, seconds):
    """A guesser at ``addr`` trying as fast as it is let for ``seconds``: the times it was checked."""
    checked = []
    while now[0] <= seconds * 1000:
        if a.check(_basic("user", "wrong"), addr) == "bad":
            checked.append(now[0])
        now[0] += 100
    return checked


def test_guessing_gets_10_checks_in_the_first_minute_then_one_per_16_s():
    now = [0]
    a = BasicAuth("user", "pw", clock=lambda: now[0])
    checked = _guess_for(a, now, b"\x7f\0\0\x02", 124)
    assert len([t for t in checked if t <= 60000]) == 10
    late = [t for t in checked if t > 60000]
    assert len(late) == 4 and all(b - a_ >= 16000 for a_, b in zip(late, late[1:]))


def test_a_guesser_locks_out_only_its_own_address():
    now = [0]
    a = BasicAuth("user", "pw", clock=lambda: now[0])
    _guess_for(a, now, b"\x7f\0\0\x02", 30)
    assert a.check(_basic("user", "pw"), b"\x7f\0\0\x02") == "locked"
    assert a.retry_after_s(b"\x7f\0\0\x01") == 0
    assert a.check(_basic("user", "pw"), b"\x7f\0\0\x01") == "ok"


def test_a_full_table_makes_further_guessers_share_one_lock_and_forgets_in_time():
    now = [0]
    a = BasicAuth("user", "pw", clock=lambda: now[0])
    for i in range(TABLE_SIZE + 3):  # more addresses than rows, each guessing 5 times
        for _ in range(5):
            a.check(_basic("user", "wrong"), bytes((10, 0, 0, i)))
    assert len(a._fails) == TABLE_SIZE  # the table did not grow
    # The first rows' owners are locked each alone; the later ones share the last row's lock.
    assert a.check(_basic("user", "pw"), bytes((10, 0, 0, 0))) == "locked"
    assert a.check(_basic("user", "pw"), bytes((10, 0, 0, 99))) == "locked"
    now[0] += FORGET_MS + 1
    assert a.check(_basic("user", "pw"), bytes((10, 0, 0, 99))) == "ok"
    assert a.check(_basic("user", "pw"), bytes((10, 0, 0, 0))) == "ok"

def test_a_large_body_is_spooled_to_the_file_and_parsed_from_it():
    import os
    from _support import cleanup, tmpdir
    folder = tmpdir("spool")
    app = App()
    seen = []

    @app.route("/cfg", methods=("PATCH",))
    async def cfg(req):
        seen.append(req.body)
        with open(req.body) as f:
            return json_response({"n": len(json.load(f)["pem"])})

    s = Server(app)
    s.spool = folder + "/upload.tmp"
    body = b'{"pem": "' + b"A" * 3000 + b'"}'
    try:
        r = TestClient(s).request("PATCH", "/cfg", body, headers={"Content-Type": "application/json"})
        assert r.status == 200 and r.json() == {"n": 3000}
        assert seen == [s.spool] and "upload.tmp" not in os.listdir(folder)
    finally:
        cleanup(folder)


def test_a_small_body_stays_in_ram_when_spooling():
    s = Server(_app())
    s.spool = "/nonexistent/dir/upload.tmp"  # never opened for a body this small
    r = TestClient(s).request("PATCH", "/echo", b"{}", headers={"Content-Type": "application/json"})
    assert r.status == 200 and r.json()["len"] == 2


def test_json_is_streamed_in_pieces_with_its_exact_length():
    app = App()
    doc = {"text": "caf\u00e9 " * 300, "n": list(range(100))}  # larger than the send buffer

    @app.route("/big")
    async def big(req):
        return json_response(doc)

    c = TestClient(Server(app))
    r = c.get("/big")
    assert r.status == 200 and r.json() == doc
    assert int(r.headers["content-length"]) == len(r.body) > 1500


# --- streamed bodies (App.route(stream=True)): the firmware upload --------------------

def _stream_app():
    app = App()

    @app.route("/up", methods=("POST",), stream=True)
    async def up(req):
        buf = bytearray(100)
        mv = memoryview(buf)
        total = 0
        ones = 0
        while True:
            n = await req.body.readinto(mv)
            if not n:
                break
            total += n
            ones += bytes(mv[:n]).count(b"1")
            if req.query == "stop" and total >= 1000:
                return error_response(400, "enough", "body")
        return json_response({"len": total, "ones": ones})

    return app


def _upload(path, body, extra=""):
    return ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n" % (path, len(body), extra)).encode() + body


def test_streamed_body_may_exceed_max_body_and_is_read_in_pieces():
    body = b"01" * (MAX_BODY + 1000)
    c = TestClient(Server(_stream_app()))
    rs = c.raw(_upload("/up", body) + b"GET /up HTTP/1.1\r\nHost: x\r\n\r\n", chunk=333)
    assert rs[0].status == 200 and rs[0].json() == {"len": len(body), "ones": MAX_BODY + 1000}
    assert rs[1].status == 405  # keep-alive: the next request is read after the body


def test_streamed_body_refused_midway_is_answered_and_the_rest_swallowed():
    c = TestClient(Server(_stream_app()))
    rs = c.raw(_upload("/up?stop", b"1" * 50000) + b"GET /up HTTP/1.1\r\nHost: x\r\n\r\n")
    assert [r.status for r in rs] == [400]  # then closed: the GET after the body is not served
    assert rs[0].headers["connection"] == "close" and c.writer.closed


def test_streamed_body_cut_short_gets_no_answer():
    c = TestClient(Server(_stream_app()))
    assert c.raw(_upload("/up", b"1" * 50000)[:-100]) == []
    assert c.writer.closed


def test_streamed_body_gets_100_continue_when_asked():
    c = TestClient(Server(_stream_app()))
    c.raw(_upload("/up", b"11", "Expect: 100-continue\r\n"))
    assert bytes(c.writer.out).startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK")


def test_a_body_over_max_body_is_still_413_on_other_routes():
    c = TestClient(Server(_stream_app()))
    assert c.raw(_upload("/other", b"1" * (MAX_BODY + 1)))[0].status == 413
