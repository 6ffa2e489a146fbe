"""A simulated smart meter: DSMR 5 three-phase telegrams (or a French Linky's TIC frames) with values that move.

    python tools/meter_sim.py [--interval S] [--seed N] [--meter FILE|DIR] [--count N]
                              [--meter-type TYPE] [--listen PORT | --out FILE]

Each telegram carries a correct CRC and plausible numbers: per-phase power
drifting with household loads and a PV system exporting on L1 around midday,
voltages near 230 V, currents that fit power and voltage (whole amps, as Dutch
meters send them), energy counters that only grow, the tariff by time of day,
and a gas reading that moves every 5 minutes. ``--meter`` replays telegram
files instead (a file, or every *.p1 or *.tic in a folder, in a loop), byte for byte.
``--meter-type`` picks a French meter instead (``METER_TYPES``): a Linky in
standard mode (9600 7E1, with PV export) or historique mode (1200 7E1), three-
or single-phase, or an older electronic meter (historique, the pre-2013 checksum).
By default telegrams go to stdout; ``--listen`` serves them over TCP on
127.0.0.1 to every client, as a P1 port would (tools/sim.py uses this), on the
meter's serial line: a client that says which settings its UART uses (a line
``line 9600 7E1``, as firmware/hw_host.py sends) reads what a UART so set would
read (tools/uart_line.py): garbage when they are not the meter's.
"""
import argparse
import calendar
import math
import os
import random
import socket
import sys
import threading
import time

sys.path[:0] = [os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware"),
                os.path.dirname(os.path.abspath(__file__))]
from crc16 import crc16  # noqa: E402  (the firmware's own CRC, under CPython)
import tic_frames  # noqa: E402  (tools/)
import uart_line  # noqa: E402

METER_ID = "E0044007123456789"  # hex-encoded in the telegram, as meters do
GAS_ID = "G0059003456789012"


def _last_sunday(year, month):
    last = calendar.monthrange(year, month)[1]
    return last - (calendar.weekday(year, month, last) + 1) % 7


def dutch_time(epoch):
    """(time.struct_time in Dutch local time, "S" or "W") for UTC ``epoch``.

    EU rule: summer time from the last Sunday of March to the last Sunday of
    October, switching at 01:00 UTC.
    """
    y = time.gmtime(epoch).tm_year
    start = calendar.timegm((y, 3, _last_sunday(y, 3), 1, 0, 0))
    end = calendar.timegm((y, 10, _last_sunday(y, 10), 1, 0, 0))
    summer = start <= epoch < end
    return time.gmtime(epoch + (7200 if summer else 3600)), "S" if summer else "W"


def dsmr_time(epoch):
    t, x = dutch_time(epoch)
    return "%02d%02d%02d%02d%02d%02d%s" % (t.tm_year % 100, t.tm_mon, t.tm_mday,
                                           t.tm_hour, t.tm_min, t.tm_sec, x)


def with_crc(body):
    """Close a telegram body (from "/" up to and including "!") with CRC and CRLF."""
    return body + b"%04X\r\n" % crc16(body)


class Meter:
    """The state of a simulated three-phase DSMR 5 meter, stepped in time."""

    def __init__(self, seed=None, start=None):
        self.rng = random.Random(seed)
        self.t = time.time() if start is None else start
        self.base = [180.0, 90.0, 120.0]           # W per phase, slow random walk
        self.appliance = [0.0, 0.0, 0.0]            # W per phase: kettle, oven, EV...
        self.appliance_left = [0, 0, 0]             # seconds each keeps running
        self.volt = [230.0, 231.0, 229.5]
        self.import_kwh = [12034.512, 9876.234]     # tariff 1 (low), 2 (normal)
        self.export_kwh = [1234.101, 3456.789]
        self.gas_m3 = 4321.123
        self.gas_time = None
        self.gas_reading = None
        self.failures = 4
        self.pv = 0.0
        self.tariff = 1

    def pv_w(self):
        """PV output on L1: a sine over the day, peaking ~2.8 kW at 13:00 local."""
        lt, _ = dutch_time(self.t)
        hour = lt.tm_hour + lt.tm_min / 60
        if not 7 <= hour <= 19:
            return 0.0
        return 2800 * math.sin(math.pi * (hour - 7) / 12) * (0.85 + 0.15 * self.rng.random())

    def step(self, dt):
        """Advance ``dt`` seconds: loads drift, counters integrate power."""
        self.t += dt
        self.pv = self.pv_w()
        rng = self.rng
        for i in range(3):
            self.base[i] = min(600.0, max(40.0, self.base[i] + rng.gauss(0, 8) * math.sqrt(dt)))
            if self.appliance_left[i] > 0:
                self.appliance_left[i] -= dt
                if self.appliance_left[i] <= 0:
                    self.appliance[i] = 0.0
            elif rng.random() < 0.01 * dt:
                self.appliance[i] = rng.choice((800.0, 1500.0, 2200.0, 3600.0))
                self.appliance_left[i] = rng.randint(20, 300)
            self.volt[i] = min(240.0, max(221.0, 230 + 0.7 * (self.volt[i] - 230) + rng.gauss(0, 0.6)))
        lt, _ = dutch_time(self.t)
        tariff = 0 if lt.tm_hour >= 23 or lt.tm_hour < 7 or lt.tm_wday >= 5 else 1
        net = self.phase_net()
        imp = sum(p for p in net if p > 0)
        exp = -sum(p for p in net if p < 0)
        self.import_kwh[tariff] += imp * dt / 3.6e6
        self.export_kwh[tariff] += exp * dt / 3.6e6
        # Gas flows while the heating runs (more in winter); read every 5 minutes.
        self.gas_m3 += dt * (0.00012 if lt.tm_mon in (11, 12, 1, 2, 3) else 0.00002) * rng.random()
        slot = int(self.t) // 300 * 300
        if self.gas_time != slot:
            self.gas_time = slot
            self.gas_reading = self.gas_m3
        self.tariff = tariff + 1

    def phase_net(self):
        """Net power per phase in W: positive import, negative export."""
        net = [self.base[i] + self.appliance[i] for i in range(3)]
        net[0] -= self.pv
        return net

    def telegram(self):
        """The current state as one DSMR 5 telegram (bytes, CRLF, with CRC)."""
        net = self.phase_net()
        lines = ["/ISK5\\2M550T-1012", "", "1-3:0.2.8(50)", "0-0:1.0.0(%s)" % dsmr_time(self.t),
                 "0-0:96.1.1(%s)" % METER_ID.encode().hex().upper()]
        for name, vals in (("1", self.import_kwh), ("2", self.export_kwh)):
            for tariff, v in enumerate(vals, 1):
                lines.append("1-0:%s.8.%d(%010.3f*kWh)" % (name, tariff, v))
        imp = sum(p for p in net if p > 0)
        exp = -sum(p for p in net if p < 0)
        lines += ["0-0:96.14.0(%04d)" % self.tariff,
                  "1-0:1.7.0(%06.3f*kW)" % (imp / 1000), "1-0:2.7.0(%06.3f*kW)" % (exp / 1000),
                  "0-0:96.7.21(%05d)" % self.failures, "0-0:96.7.9(00002)",
                  "1-0:99.97.0(1)(0-0:96.7.19)(190802101010S)(0000000432*s)"]
        for c in (32, 52, 72):
            lines.append("1-0:%d.32.0(00003)" % c)
        for c in (32, 52, 72):
            lines.append("1-0:%d.36.0(00001)" % c)
        lines.append("0-0:96.13.0()")
        for c, v in zip((32, 52, 72), self.volt):
            lines.append("1-0:%d.7.0(%05.1f*V)" % (c, v))
        for c, p, v in zip((31, 51, 71), net, self.volt):
            lines.append("1-0:%d.7.0(%03d*A)" % (c, round(abs(p) / v)))
        for c, p in zip((21, 41, 61), net):
            lines.append("1-0:%d.7.0(%06.3f*kW)" % (c, max(p, 0) / 1000))
        for c, p in zip((22, 42, 62), net):
            lines.append("1-0:%d.7.0(%06.3f*kW)" % (c, max(-p, 0) / 1000))
        lines += ["0-1:24.1.0(003)", "0-1:96.1.0(%s)" % GAS_ID.encode().hex().upper(),
                  "0-1:24.2.1(%s)(%09.3f*m3)" % (dsmr_time(self.gas_time), self.gas_reading), "!"]
        return with_crc("\r\n".join(lines).encode())


class Linky(Meter):
    """A French meter's state as TIC frames (PRODUCT.md section 9), stepped in time.

    ``mode`` "standard" (a Linky's 9600-baud frames, with PV export on L1 and
    SINSTI) or "historique" (1200 baud: every French meter; no export, so no PV);
    ``phases`` 3 or 1 (every load on the one phase); ``old`` sends the checksum
    as electronic meters from before ~2013 did. The meter's counters are Wh,
    indexes HC (off-peak) and HP (peak) from the DSMR meter's tariff 1 and 2.
    """

    PF = 0.96  # TIC counts apparent power: VA = W / power factor

    def __init__(self, mode="standard", phases=3, old=False, seed=None, start=None):
        super().__init__(seed, start)
        self.mode = mode
        self.phases = phases
        self.old = old

    def pv_w(self):
        return super().pv_w() if self.mode == "standard" else 0.0

    def phase_net(self):
        net = super().phase_net()
        return net if self.phases == 3 else [sum(net), 0.0, 0.0]

    def _va(self, w):
        return round(max(w, 0) / self.PF)

    def telegram(self):
        """The current state as one TIC frame (STX ... ETX)."""
        net = self.phase_net()[:self.phases]
        amps = [round(abs(p) / v) for p, v in zip(net, self.volt)]
        hc, hp = (round(kwh * 1000) for kwh in self.import_kwh)
        peak = self.tariff == 2
        if self.mode == "historique":
            return tic_frames.frame([tic_frames.data_set(k, v, old=self.old) for k, v in self._historique(net, amps, hc, hp, peak)])
        lt, season = dutch_time(self.t)  # France keeps the same time as the Netherlands
        date = tic_frames.horodate(lt, season == "S")
        return tic_frames.frame([tic_frames.data_set(k, v, standard=True, horodate=h)
                                 for k, h, v in self._standard(net, amps, hc, hp, peak, date)])

    def _historique(self, net, amps, hc, hp, peak):
        rows = [("ADCO", "031762120163"), ("OPTARIF", "HC.."), ("ISOUSC", "45" if self.phases == 1 else "30"),
                ("HCHC", "%09d" % hc), ("HCHP", "%09d" % hp), ("PTEC", "HP.." if peak else "HC..")]
        if self.phases == 1:
            rows += [("IINST", "%03d" % amps[0]), ("IMAX", "090")]
        else:
            rows += [("IINST%d" % (i + 1), "%03d" % a) for i, a in enumerate(amps)]
            rows += [("IMAX%d" % (i + 1), "060") for i in range(3)] + [("PMAX", "12500")]
        rows += [("PAPP", "%05d" % self._va(sum(net))), ("HHPHC", "A"), ("MOTDETAT", "000000")]
        if self.phases == 3:
            rows.append(("PPOT", "00"))
        return rows

    def _standard(self, net, amps, hc, hp, peak, date):
        exp = round(sum(self.export_kwh) * 1000)
        rows = [("ADSC", None, "812175123456"), ("VTIC", None, "02"), ("DATE", date, ""),
                ("NGTF", None, "H PLEINE/CREUSE "), ("LTARF", None, "HEURE PLEINE    " if peak else "HEURE CREUSE    "),
                ("EAST", None, "%09d" % (hc + hp)), ("EASF01", None, "%09d" % hc), ("EASF02", None, "%09d" % hp)]
        rows += [("EASF%02d" % i, None, "000000000") for i in range(3, 11)]
        rows += [("EASD%02d" % i, None, "%09d" % v) for i, v in ((1, hc), (2, hp), (3, 0), (4, 0))]
        rows += [("EAIT", None, "%09d" % exp), ("ERQ1", None, "000123456")]
        rows += [("IRMS%d" % (i + 1), None, "%03d" % a) for i, a in enumerate(amps)]
        rows += [("URMS%d" % (i + 1), None, "%03d" % round(v)) for i, v in enumerate(self.volt[:self.phases])]
        rows += [("PREF", None, "12"), ("PCOUP", None, "12"), ("SINSTS", None, "%05d" % self._va(sum(net)))]
        if self.phases == 3:
            rows += [("SINSTS%d" % (i + 1), None, "%05d" % self._va(p)) for i, p in enumerate(net)]
        rows += [("SMAXSN", date, "05120"), ("SINSTI", None, "%05d" % self._va(-sum(net))),
                 ("SMAXIN", date, "02210"), ("CCASN", date, "00420"), ("UMOY1", date, "231"),
                 ("STGE", None, "003A4001"), ("MSG1", None, "PAS DE          MESSAGE         "),
                 ("PRM", None, "21499302261405"), ("RELAIS", None, "000"),
                 ("NTARF", None, "02" if peak else "01"), ("NJOURF", None, "00"), ("NJOURF+1", None, "00"),
                 ("PJOURF+1", None, "00008001 NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE NONUTILE")]
        return rows


# --meter-type: (the meter, its serial line settings, what sim.py calls it).
METER_TYPES = {
    "dsmr5": (lambda seed, start=None: Meter(seed, start), "115200 8N1", "simulated DSMR 5 three-phase meter"),
    "tic-standard": (lambda seed, start=None: Linky("standard", 3, seed=seed, start=start), "9600 7E1",
                     "simulated Linky, TIC standard mode, three-phase, PV export"),
    "tic-standard-1ph": (lambda seed, start=None: Linky("standard", 1, seed=seed, start=start), "9600 7E1",
                         "simulated Linky, TIC standard mode, single-phase, PV export"),
    "tic-historique": (lambda seed, start=None: Linky("historique", 3, seed=seed, start=start), "1200 7E1",
                       "simulated Linky, TIC historique mode, three-phase"),
    "tic-historique-1ph": (lambda seed, start=None: Linky("historique", 1, seed=seed, start=start), "1200 7E1",
                           "simulated Linky, TIC historique mode, single-phase"),
    "tic-cbe": (lambda seed, start=None: Linky("historique", 1, old=True, seed=seed, start=start), "1200 7E1",
                "simulated older electronic meter (CBE), TIC historique, pre-2013 checksum"),
}


def live(interval, seed=None, meter_type="dsmr5", start=None):
    """Endless simulated telegrams, one per ``interval`` seconds of meter time from ``start`` (default now)."""
    m = METER_TYPES[meter_type][0](seed, start)
    m.step(0)
    while True:
        yield m.telegram()
        m.step(interval)


def telegram_files(path):
    """The telegram files ``--meter`` names: one file, or every *.p1 (or *.tic) in a folder."""
    if os.path.isdir(path):
        files = sorted(os.path.join(path, n) for n in os.listdir(path) if n.endswith((".p1", ".tic")))
        if not files:
            raise SystemExit("meter_sim: no .p1 or .tic files in %s" % path)
        return files
    return [path]


def replay(path):
    """The files' bytes, unchanged, in a loop."""
    data = []
    for f in telegram_files(path):
        with open(f, "rb") as fh:
            data.append(fh.read())
    while True:
        yield from data


def source(args):
    return replay(args.meter) if args.meter else live(args.interval, args.seed, args.meter_type, args.start)


class Server:
    """Serves telegrams over TCP on 127.0.0.1: every client gets every telegram.

    ``line``: the meter's serial settings. A client that names its own (a line
    ``line 1200 7E1``) gets the bytes its UART would read; one that names none
    gets them as sent.
    """

    def __init__(self, telegrams, interval, port=0, count=None, line="115200 8N1"):
        self.telegrams = telegrams
        self.interval = interval
        self.count = count
        self.line = line
        self.rx = {}  # client -> the settings it said its UART uses
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.clients = []
        self.lock = threading.Lock()
        self.sent = 0

    def start(self):
        threading.Thread(target=self._accept, daemon=True).start()
        threading.Thread(target=self._send, daemon=True).start()
        return self

    def close(self):
        self.sock.close()
        with self.lock:
            for c in self.clients:
                c.close()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.clients.append(c)
            threading.Thread(target=uart_line.follow, args=(c, lambda rx, c=c: self.rx.__setitem__(c, rx)),
                             daemon=True).start()

    def _send(self):
        next_t = time.monotonic()
        for tg in self.telegrams:
            if self.count is not None and self.sent >= self.count:
                return
            with self.lock:
                for c in list(self.clients):
                    try:
                        c.sendall(uart_line.transfer(tg, self.line, self.rx.get(c)))
                    except OSError:
                        self.clients.remove(c)
                        c.close()
            self.sent += 1
            next_t += self.interval
            time.sleep(max(0.0, next_t - time.monotonic()))


def line_of(args):
    """The serial settings the meter sends with: ``--line``, else its type's."""
    return args.line or METER_TYPES[args.meter_type][1]


def options(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between telegrams (default 1)")
    ap.add_argument("--meter", metavar="FILE|DIR", help="replay these telegram files in a loop")
    ap.add_argument("--meter-type", choices=sorted(METER_TYPES), default="dsmr5",
                    help="the simulated meter (default dsmr5)")
    ap.add_argument("--line", help="the meter's serial settings, e.g. '1200 7E1' (default: the meter type's)")
    ap.add_argument("--seed", type=int, help="random seed, for a repeatable meter")
    ap.add_argument("--start", type=float, metavar="EPOCH", help="the meter's clock at the first telegram (default now)")
    ap.add_argument("--count", type=int, help="stop after this many telegrams")
    ap.add_argument("--listen", type=int, metavar="PORT", help="serve over TCP on 127.0.0.1:PORT")
    ap.add_argument("--out", metavar="FILE", help="write telegrams to FILE (default stdout)")
    return ap.parse_args(argv)


def main(argv=None):
    args = options(argv)
    tgs = source(args)
    if args.listen is not None:
        srv = Server(tgs, args.interval, args.listen, args.count, line_of(args)).start()
        print("meter_sim: serving telegrams on 127.0.0.1:%d every %g s, line %s" % (srv.port, args.interval, srv.line),
              file=sys.stderr)
        while args.count is None or srv.sent < args.count:
            time.sleep(0.2)
        return
    out = open(args.out, "wb") if args.out else sys.stdout.buffer
    n = 0
    for tg in tgs:
        out.write(tg)
        out.flush()
        n += 1
        if args.count is not None and n >= args.count:
            break
        time.sleep(args.interval)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
