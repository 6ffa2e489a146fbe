"""Stale-data policy of the Modbus server, stepped with a fake clock."""
import asyncio

import config
import modbus_frame as mf
import modbus_tcp
import sdm630
from failsafe import NOMINAL_V, failsafe_reading
from _modbus import close, f32_abcd, f32_cdab, reading_3phase, regs, request
from hub import Hub


class _Clock:
    def __init__(self):
        self.ms = 1000

    def __call__(self):
        return self.ms


def _server(**modbus):
    cfg = config.defaults()
    cfg["Modbus"].update(modbus)
    clock = _Clock()
    hub = Hub(cfg, {"serial": "P1GW-TEST"}, clock)
    return modbus_tcp.ModbusServer(hub), hub, clock


def test_auto_stale_time_is_three_intervals_at_least_five_seconds():
    assert modbus_tcp.stale_after_ms(0, 1000) == 5000
    assert modbus_tcp.stale_after_ms(0, 2500) == 7500
    assert modbus_tcp.stale_after_ms(0, None) == 30000
    assert modbus_tcp.stale_after_ms(0, 3600000) == 30000   # a gap is not the rhythm
    assert modbus_tcp.stale_after_ms(12, 1000) == 12000


def test_no_telegram_yet_is_stale():
    srv, hub, clock = _server()
    assert not srv.data_ok()
    assert hub.status["modbus"]["stale"]


def test_fresh_then_stale_after_configured_time():
    srv, hub, clock = _server(StaleAfterS=8)
    hub.publish(reading_3phase(), b"")
    clock.ms += 8000
    assert srv.data_ok()
    assert not hub.status["modbus"]["stale"]
    clock.ms += 1
    assert not srv.data_ok()
    assert hub.status["modbus"]["stale"]


def test_the_telegram_that_ends_an_outage_goes_stale_after_5_s_on_a_1_s_meter():
    srv, hub, clock = _server()  # StaleAfterS 0: three of the meter's intervals, at least 5 s
    for gap in (0, 1000, 1000, 15000):
        clock.ms += gap
        hub.publish(reading_3phase(), b"")
    clock.ms += 5000
    assert srv.data_ok()
    clock.ms += 1
    assert not srv.data_ok()


def test_request_after_telegram_sees_it_even_before_the_run_loop_rebuilds():
    srv, hub, clock = _server()
    r = reading_3phase()
    hub.publish(r, b"")
    assert srv.data_ok()
    assert close(f32_cdab(*regs(srv._img, 0x8006, 2)), r["voltage_l1_v"])


def test_failsafe_policy_serves_failsafe_current_on_every_phase():
    srv, hub, clock = _server(StalePolicy="failsafe", FailsafeCurrentA=25.0)
    r = reading_3phase()
    hub.publish(r, b"")
    clock.ms += 60000
    assert srv.data_ok()
    assert hub.status["modbus"]["failsafe"]
    for i in range(3):
        assert f32_cdab(*regs(srv._img, 0x800E + 2 * i, 2)) == 25.0
    assert f32_cdab(*regs(srv._img, 0x8016, 2)) > 0
    assert close(f32_cdab(*regs(srv._img, 0x8100, 2)), 12345678.0)  # Wh, the last count


def test_failsafe_current_changed_while_stale_is_served_at_once():
    # An installer raises it before the P1 cable is in: the charger must see the new value.
    srv, hub, clock = _server(StalePolicy="failsafe", FailsafeCurrentA=6.0)
    assert srv.data_ok()
    assert f32_cdab(*regs(srv._img, 0x800E, 2)) == 6.0
    hub.config["Modbus"]["FailsafeCurrentA"] = 25.0
    assert srv.data_ok()
    assert [f32_cdab(*regs(srv._img, 0x800E + 2 * i, 2)) for i in range(3)] == [25.0] * 3


def test_failsafe_before_the_first_telegram_has_no_energy_counters_to_serve():
    # 0 Wh would be a counter the meter never sent: that block answers exception 04.
    srv, hub, clock = _server(StalePolicy="failsafe", FailsafeCurrentA=16.0)
    assert srv.data_ok()
    out = bytearray(mf.MAX_ADU)
    n = mf.answer(request(3, 0x8100, 2), out, srv._img, True)
    assert bytes(out[7:n]) == bytes([0x83, 4])
    n = mf.answer(request(3, 0x800E, 6), out, srv._img, True)
    assert out[7] == 3 and f32_cdab(*regs(srv._img, 0x800E, 2)) == 16.0


class _Closed:
    """A client stream; the server gives up before reading from it here."""

    closed = False

    async def readinto(self, buf):
        return 0

    def close(self):
        self.closed = True

    async def wait_closed(self):
        pass


def test_no_heap_for_a_clients_buffers_frees_its_slot():
    srv, hub, clock = _server()
    size = mf.REQUEST
    mf.REQUEST = 1 << 28  # the buffer cannot be had (a 32-bit size, larger than any heap)
    try:
        streams = [_Closed() for _ in range(6)]
        for s in streams:
            asyncio.run(srv._serve(s, s))
    finally:
        mf.REQUEST = size
    st = hub.status["modbus"]
    assert st["clients"] == 0 and st["evicted"] == 0 and all(s.closed for s in streams)


def test_failsafe_ends_with_the_next_telegram():
    srv, hub, clock = _server(StalePolicy="failsafe", FailsafeCurrentA=25.0)
    hub.publish(reading_3phase(), b"")
    clock.ms += 60000
    srv.data_ok()
    hub.publish(reading_3phase(), b"")
    assert srv.data_ok()
    assert not hub.status["modbus"]["failsafe"]
    assert f32_cdab(*regs(srv._img, 0x800E, 2)) == 5.0


def test_failsafe_keeps_single_phase_meter_single_phase():
    r = reading_3phase()
    for k in ("current_l2_a", "current_l3_a", "voltage_l2_v", "voltage_l3_v"):
        r[k] = None
    fs = failsafe_reading(r, 16.0)
    assert fs["current_l1_a"] == 16.0 and fs["current_l2_a"] is None
    assert fs["power_w"] == 16.0 * NOMINAL_V


def test_failsafe_keeps_the_counters_and_the_step_they_count_in():
    r = reading_3phase()
    r["energy_import"], r["energy_export"], r["counter_decimals"] = 325495061662, 23455000000, 7  # 0.1 mWh steps
    fs = failsafe_reading(r, 16.0)
    assert (fs["energy_import"], fs["energy_export"], fs["counter_decimals"]) == (325495061662, 23455000000, 7)


def test_identification_answers_before_the_first_telegram():
    srv, hub, clock = _server()
    out = bytearray(mf.MAX_ADU)
    n = mf.answer(request(3, 316, 9), out, srv._img, srv.data_ok())
    assert n == 9 + 18
    text = bytes(out[9 + (i ^ 1)] for i in range(18))   # first char in the low byte
    assert text.rstrip(b"\0") == b"P1GW-TEST"


def test_meter_type_switch_takes_effect_on_next_request():
    srv, hub, clock = _server()
    r = reading_3phase()
    hub.publish(r, b"")
    hub.config["MeterType"] = "Eastron-SDM630"
    assert srv.data_ok()
    assert close(f32_abcd(*regs(srv._img, 0x0000, 2)), r["voltage_l1_v"])


class _NoHeapTemplate:
    """A register template whose image finds no heap, as on a full ESP32."""

    @staticmethod
    def new_image():
        raise MemoryError


class _NoHeapBuild:
    """A register template whose image is made but finds no heap to be filled."""
    new_image = staticmethod(sdm630.new_image)

    @staticmethod
    def build(img, reading, serial, firmware):
        raise MemoryError


def test_meter_type_switch_without_heap_keeps_serving_the_old_image_whole():
    for template in (_NoHeapTemplate, _NoHeapBuild):
        _switch_without_heap(template)


def _switch_without_heap(template):
    import sys
    sys.modules["_no_heap_template"] = template
    modbus_tcp.TEMPLATES["NoHeap"] = "_no_heap_template"
    try:
        srv, hub, clock = _server()
        r = reading_3phase()
        hub.publish(r, b"")
        hub.config["MeterType"] = "NoHeap"
        assert srv.data_ok()
        r2 = reading_3phase()
        r2["voltage_l1_v"] = 207.5
        hub.publish(r2, b"")  # built with the old template, into its own image
        assert srv.data_ok()
        assert f32_cdab(*regs(srv._img, 0x8006, 2)) == 207.5
    finally:
        del modbus_tcp.TEMPLATES["NoHeap"]
        del sys.modules["_no_heap_template"]


class _Feed(_Closed):
    """A client stream that sends ``data`` in ``chunk``-byte pieces and records the answers."""

    def __init__(self, data, chunk=5):
        self.data = data
        self.chunk = chunk
        self.out = bytearray()

    async def readinto(self, buf):
        n = min(len(buf), self.chunk, len(self.data))
        buf[:n] = self.data[:n]
        self.data = self.data[n:]
        return n

    def write(self, data):
        self.out.extend(data)

    async def drain(self):
        pass


def test_a_long_request_is_refused_and_the_next_one_answered():
    srv, hub, clock = _server()
    pdu = bytes([0x10, 0x80, 0x00, 0x00, 0x64, 200]) + bytes(200)  # FC16: write 100 registers
    write = bytes([0, 7, 0, 0, 0, len(pdu) + 1, 1]) + pdu
    s = _Feed(write + request(4, 0x012C, 8, tid=8))  # then the device name
    asyncio.run(srv._serve(s, s))
    assert s.out[:9] == bytes([0, 7, 0, 0, 0, 3, 1, 0x90, 1])  # illegal function
    assert s.out[9:11] == bytes([0, 8]) and s.out[16] == 0x04 and s.out[17] == 16
    assert hub.status["modbus"]["requests"] == 2 and s.closed
