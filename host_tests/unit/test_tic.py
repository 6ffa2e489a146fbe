"""French meters' TIC: the framer's verdict on every frame, and what a frame reads as."""
import tic
from _support import raises, telegram


def _frames(data, size=None):
    """[(status, reading or None)] for every frame in ``data``, fed ``size`` bytes at a time."""
    found = []

    def on_frame(status, crc, buf, n):
        found.append((status, tic.parse(buf, n, crc != "ok") if status == "valid" else None))
    counters = {"valid": 0, "crc_mismatch": 0, "malformed": 0, "too_long": 0}
    f = tic.Framer(on_frame, bytearray(1024), counters)
    size = size or len(data)
    for i in range(0, len(data), size):
        f.feed(data[i:i + size])
    return found


def _one(data):
    found = _frames(data)
    assert [s for s, _ in found] == ["valid"], found
    return found[0][1]


def _cs(payload):
    return (sum(payload) & 0x3F) + 0x20


def _ds(label, data, sep=b" "):
    """A data set with its checksum (separator SP: historique, HT: standard)."""
    body = label + sep + data + sep
    return b"\n" + body + bytes((_cs(body),)) + b"\r"


def _replace_checksum(frame, label, value):
    """``frame`` with the checksum of data set ``label`` set to ``value``."""
    cr = frame.index(b"\r", frame.index(b"\n" + label))
    return frame[:cr - 1] + bytes((value,)) + frame[cr:]


def test_a_linky_standard_three_phase_frame():
    r = _one(telegram("tic-standard.tic"))
    assert r["protocol_version"] == "tic-standard" and r["meter_id"] == "812175123456"
    assert r["energy_import"] == 21910746 and r["energy_export"] == 4690890  # Wh, exact
    assert r["energy_import_t1"] == 12034512 and r["energy_import_t2"] == 9876234
    assert (r["power_import_w"], r["power_export_w"], r["power_w"]) == (0, 2215, -2215)
    assert (r["power_l1_w"], r["power_l2_w"], r["power_l3_w"]) == (0, 94, 125)
    assert (r["voltage_l1_v"], r["voltage_l2_v"], r["voltage_l3_v"]) == (231, 231, 230)
    assert (r["current_l1_a"], r["current_l2_a"], r["current_l3_a"]) == (10, 0, 1)
    assert r["tariff"] == 2 and r["tic"]["tariff_name"] == "HEURE PLEINE"
    assert r["timestamp"] == 1718190000  # DATE E240612130000: summer, UTC+2
    assert r["tic"]["subscribed_kva"] == 12 and r["tic"]["status_word"] == "003A4001"
    assert r["text_message"] == "PAS DE          MESSAGE"
    assert r["tic"]["indexes"]["EASF02"] == 9876234 and len(r["tic"]["indexes"]) == 10


def test_a_linky_standard_single_phase_frame_puts_its_power_on_l1():
    r = _one(telegram("tic-standard-1ph.tic"))
    assert r["current_l2_a"] is None and r["voltage_l2_v"] is None and r["power_l2_w"] is None
    assert r["power_l1_w"] == r["power_import_w"] >= 0
    assert r["power_w"] == r["power_import_w"] - r["power_export_w"]


def test_a_historique_three_phase_frame():
    r = _one(telegram("tic-historique.tic"))
    assert r["protocol_version"] == "tic-historique" and r["meter_id"] == "031762120163"
    assert r["power_import_w"] == 406 == r["power_w"] and r["power_export_w"] is None
    assert r["power_l1_w"] is None  # PAPP is the only power: none per phase
    assert (r["current_l1_a"], r["current_l2_a"], r["current_l3_a"]) == (1, 0, 1)
    assert r["voltage_l1_v"] is None and r["timestamp"] is None  # historique sends neither
    assert r["energy_import"] == 12034512 + 9876234
    assert r["tariff"] == 2 and r["tic"]["tariff_name"] == "HP.." and r["tic"]["subscribed_a"] == 30
    assert r["tic"]["indexes"] == {"HCHC": 12034512, "HCHP": 9876234}


def test_a_historique_single_phase_frame():
    r = _one(telegram("tic-historique-1ph.tic"))
    assert r["current_l1_a"] == 2 and r["power_l1_w"] == r["power_import_w"] == 406


def test_an_older_meters_checksum_is_accepted_in_historique():
    old = telegram("tic-cbe.tic")
    assert old != telegram("tic-historique-1ph.tic")
    assert _one(old) == _one(telegram("tic-historique-1ph.tic"))


def test_the_older_checksum_is_not_accepted_in_standard_mode():
    f = telegram("tic-standard.tic")
    assert _frames(_replace_checksum(f, b"EAST", _cs(b"EAST\t021910746")))[0][0] == "crc_mismatch"


def test_a_wrong_checksum_is_counted_and_the_frame_not_read():
    f = telegram("tic-historique.tic")
    assert _frames(_replace_checksum(f, b"PAPP", ord("L"))) == [("crc_mismatch", None)]


def test_a_frame_cut_by_eot_is_malformed_and_the_next_one_read():
    f = telegram("tic-historique.tic")
    found = _frames(f[:80] + b"\x04" + f)
    assert [s for s, _ in found] == ["malformed", "valid"]


def test_a_new_stx_cuts_the_frame_before_it():
    f = telegram("tic-standard.tic")
    assert [s for s, _ in _frames(f[:300] + f)] == ["malformed", "valid"]


def test_noise_between_frames_and_any_chunking_yield_exactly_the_frames():
    f = telegram("tic-standard.tic")
    noise = b"\x00\xff\r\n\x03ADCO 1234 X\r\x04"
    data = noise + f + noise + telegram("tic-standard-1ph.tic") + noise
    whole = _frames(data)
    assert [s for s, _ in whole] == ["valid", "valid"]
    for size in (1, 2, 7, 64, 333):
        assert _frames(data, size) == whole, size


def test_a_frame_longer_than_the_buffer_is_too_long():
    f = telegram("tic-standard.tic")
    long = f[:-1] + f[1:-1] + f[1:]
    assert [s for s, _ in _frames(long + f)] == ["too_long", "valid"]


def test_data_sets_must_start_with_lf_and_end_with_a_checksum():
    for bad in (b"\x02\x03", b"\x02ADCO 1 A\r\x03", b"\x02\nADCO1\r\x03"):
        assert _frames(bad)[0][0] == "malformed", bad


def test_tempo_indexes_are_summed_into_off_peak_and_peak():
    ds = _ds
    f = b"\x02" + ds(b"ADCO", b"031762120163") + ds(b"BBRHCJB", b"000001000") + ds(b"BBRHPJB", b"000002000") \
        + ds(b"BBRHCJW", b"000000300") + ds(b"BBRHPJW", b"000000400") + ds(b"BBRHCJR", b"000000050") \
        + ds(b"BBRHPJR", b"000000060") + ds(b"PTEC", b"HPJW") + ds(b"PAPP", b"01200") + b"\x03"
    r = _one(f)
    assert r["energy_import_t1"] == 1350 and r["energy_import_t2"] == 2460 and r["energy_import"] == 3810
    assert r["tariff"] == 4 and len(r["tic"]["indexes"]) == 6


def test_an_unreadable_power_is_an_error_even_with_matching_checksums():
    def ds(label, data):
        return _ds(label, data, b"\t")
    f = b"\x02" + ds(b"ADSC", b"812175123456") + ds(b"SINSTS", b"0x120") + b"\x03"
    assert raises(ValueError, tic.parse, f, len(f), False)
    g = b"\x02" + ds(b"ADSC", b"812175123456") + ds(b"PREF", b"1x") + ds(b"SINSTS", b"00120") + b"\x03"
    assert tic.parse(g, len(g), False)["power_w"] == 120  # a field no output needs is skipped
    assert raises(ValueError, tic.parse, g, len(g), True)


def test_the_horodate_season_letter_sets_the_offset():
    def frame(h):
        return b"\x02" + _ds(b"DATE\t" + h, b"", b"\t") + b"\x03"
    assert _one(frame(b"E240612130000"))["timestamp"] == 1718190000
    assert _one(frame(b"H240110190000"))["timestamp"] == 1704909600
    assert _one(frame(b"e240612130000"))["timestamp"] == 1718190000  # clock unsure: same offset


def test_every_label_the_spec_names_folds_to_a_key_of_its_own():
    labels = (b"ADCO OPTARIF ISOUSC BASE HCHC HCHP EJPHN EJPHPM BBRHCJB BBRHPJB BBRHCJW BBRHPJW BBRHCJR "
              b"BBRHPJR PEJP PTEC DEMAIN IINST IINST1 IINST2 IINST3 IMAX IMAX1 IMAX2 IMAX3 PMAX PAPP HHPHC "
              b"MOTDETAT PPOT ADPS ADIR1 ADIR2 ADIR3 ADSC VTIC DATE NGTF LTARF EAST EASF01 EASF02 EASF03 "
              b"EASF04 EASF05 EASF06 EASF07 EASF08 EASF09 EASF10 EASD01 EASD02 EASD03 EASD04 EAIT ERQ1 ERQ2 "
              b"ERQ3 ERQ4 IRMS1 IRMS2 IRMS3 URMS1 URMS2 URMS3 PREF PCOUP SINSTS SINSTS1 SINSTS2 SINSTS3 "
              b"SMAXSN SMAXSN1 SMAXSN2 SMAXSN3 SMAXSN-1 SMAXSN1-1 SMAXSN2-1 SMAXSN3-1 SINSTI SMAXIN "
              b"SMAXIN-1 CCASN CCASN-1 CCAIN CCAIN-1 UMOY1 UMOY2 UMOY3 STGE DPM1 FPM1 DPM2 FPM2 DPM3 FPM3 "
              b"MSG1 MSG2 PRM RELAIS NTARF NJOURF NJOURF+1 PJOURF+1 PPOINTE").split()
    keys = set(tic.fold(l, 0, len(l)) for l in labels)
    assert len(keys) == len(labels)
