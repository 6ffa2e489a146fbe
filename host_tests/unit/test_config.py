"""Config store: defaults, field-by-field validation, merge-patch, redaction, atomic save."""
import json
import os

import config
from _support import cleanup, tmpdir
from config import ConfigError




def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _error(changes, cfg=None):
    """The ConfigError a patch raises (None if it is accepted)."""
    try:
        config.patch(cfg or config.defaults(), changes)
    except ConfigError as e:
        return e
    return None


def _rejects(field, changes):
    e = _error(changes)
    return e is not None and e.field == field


# --- load / save ---

def test_missing_file_gives_defaults_and_says_so():
    d = tmpdir("cfg")
    cfg, err = config.load(config.path(d))
    cleanup(d)
    assert cfg == config.defaults()
    assert "missing" in err


def test_corrupt_json_gives_defaults_and_says_so():
    d = tmpdir("cfg")
    _write(config.path(d), '{"MeterType": "Eastron-SDM630", "MQTT": {')
    cfg, err = config.load(config.path(d))
    cleanup(d)
    assert cfg == config.defaults()
    assert "not valid JSON" in err


def test_file_that_is_not_an_object_gives_defaults():
    d = tmpdir("cfg")
    _write(config.path(d), "[1, 2]")
    cfg, err = config.load(config.path(d))
    cleanup(d)
    assert cfg == config.defaults()
    assert "must be an object" in err


def test_bad_field_in_file_gets_its_default_and_keeps_the_rest():
    d = tmpdir("cfg")
    _write(config.path(d), json.dumps({"Modbus": {"Port": 70000, "MaxClients": 2},
                                       "MQTT": {"Site": "garage"}}))
    cfg, err = config.load(config.path(d))
    cleanup(d)
    assert cfg["Modbus"]["Port"] == config.defaults()["Modbus"]["Port"]
    assert cfg["Modbus"]["MaxClients"] == 2
    assert cfg["MQTT"]["Site"] == "garage"
    assert "Modbus.Port" in err


def test_partial_file_is_completed_with_defaults():
    d = tmpdir("cfg")
    _write(config.path(d), json.dumps({"DefaultNetIf": "Ethernet"}))
    cfg, err = config.load(config.path(d))
    cleanup(d)
    assert err is None
    assert cfg["DefaultNetIf"] == "Ethernet"
    assert cfg["Http"] == config.defaults()["Http"]


def test_save_then_load_round_trips_and_leaves_no_temp_file():
    d = tmpdir("cfg")
    cfg, _ = config.patch(config.defaults(), {"WiFi": {"Ssid": "home", "Password": "secret123"},
                                            "Modbus": {"FailsafeCurrentA": 10}})
    config.save(config.path(d), cfg)
    back, err = config.load(config.path(d))
    names = os.listdir(d)
    cleanup(d)
    assert err is None
    assert back == cfg
    assert names == ["config.json"]


def test_save_replaces_an_existing_file_whole():
    d = tmpdir("cfg")
    _write(config.path(d), "x" * 5000)
    config.save(config.path(d), config.defaults())
    back, err = config.load(config.path(d))
    cleanup(d)
    assert err is None and back == config.defaults()


def _saved_with_overrides(change):
    """What config.json holds after the sim's port overrides and ``change(cfg)``."""
    d = tmpdir("cfg")
    cfg = config.defaults()
    try:
        config.override(cfg, {"Modbus.Port": 1502, "Http.Port": 8080})
        assert cfg["Modbus"]["Port"] == 1502
        config.save(config.path(d), change(cfg))
    finally:
        config._overrides.clear()
        config._stored.clear()
    back, _ = config.load(config.path(d))
    cleanup(d)
    return back


def test_overridden_fields_are_saved_with_the_files_values():
    def site(cfg):
        cfg["MQTT"]["Site"] = "shed"
        return cfg
    back = _saved_with_overrides(site)
    assert back["Modbus"]["Port"] == 502 and back["Http"]["Port"] == 80
    assert back["MQTT"]["Site"] == "shed"


def test_a_patched_override_is_saved_with_the_new_value():
    back = _saved_with_overrides(lambda cfg: config.patch(cfg, {"Http": {"Port": 2001}})[0])
    assert back["Http"]["Port"] == 2001 and back["Modbus"]["Port"] == 502


def test_bad_override_is_refused_by_field_name():
    cfg = config.defaults()
    e = None
    try:
        config.override(cfg, {"Modbus.Port": 0})
    except ConfigError as err:
        e = err
    assert e is not None and e.field == "Modbus.Port"
    assert cfg["Modbus"]["Port"] == 502


# --- patch ---

def test_patch_changes_only_the_fields_given_and_leaves_the_input_alone():
    before = config.defaults()
    cfg, _ = config.patch(before, {"MQTT": {"Site": "farm"}})
    assert cfg["MQTT"]["Site"] == "farm"
    assert cfg["MQTT"]["Broker"] == before["MQTT"]["Broker"]
    assert before == config.defaults()


def test_failed_patch_changes_nothing_even_after_valid_fields():
    before = config.defaults()
    e = _error({"MQTT": {"Site": "farm", "Broker": "ftp://x"}}, before)
    assert e is not None and e.field == "MQTT.Broker"
    assert before == config.defaults()


def test_restart_needed_for_ports_but_not_for_live_fields_and_networks():
    _, r1 = config.patch(config.defaults(), {"Modbus": {"Port": 1502}})
    _, r2 = config.patch(config.defaults(), {"WiFi": {"Ssid": "x"}, "DefaultNetIf": "Ethernet"})
    _, r3 = config.patch(config.defaults(), {"MQTT": {"Site": "x"}, "Modbus": {"StalePolicy": "failsafe"}})
    _, r4 = config.patch(config.defaults(), {"Modbus": {"Port": 502}})  # unchanged value
    _, r5 = config.patch(config.defaults(), {"MQTT": {"Enabled": True, "Broker": "mqtt://h"}})
    assert (r1, r2, r3, r4, r5) == (True, False, False, False, False)


def test_null_resets_a_field_and_a_section_to_defaults():
    cfg, _ = config.patch(config.defaults(), {"MQTT": {"Site": "a", "Username": "u"}})
    one, _ = config.patch(cfg, {"MQTT": {"Site": None}})
    whole, _ = config.patch(cfg, {"MQTT": None})
    assert one["MQTT"]["Site"] == "unknown-site" and one["MQTT"]["Username"] == "u"
    assert whole["MQTT"] == config.defaults()["MQTT"]


def test_unknown_fields_are_refused_by_name():
    assert _rejects("Foo", {"Foo": 1})
    assert _rejects("MQTT.Brokr", {"MQTT": {"Brokr": "mqtt://h"}})
    assert _rejects("WiFi.StaticIPv4.Mask", {"WiFi": {"StaticIPv4": {"Mask": "24"}}})


def test_section_must_be_an_object():
    assert _rejects("MQTT", {"MQTT": "mqtt://h"})
    assert _rejects("config", [1])


def test_ports_must_be_integers_1_to_65535():
    for bad in (0, 65536, -1, "502", 502.0, True):
        assert _rejects("Modbus.Port", {"Modbus": {"Port": bad}}), bad
    assert _error({"Modbus": {"Port": 65535}, "Http": {"Port": 1}}) is None
    assert _rejects("Http.RawPort", {"Http": {"RawPort": 65536}})
    assert _rejects("Http.RawPort", {"Http": {"RawPort": 0}})  # 0 would listen on a random port


def test_two_services_on_one_port_are_refused_naming_the_patched_field():
    e = _error({"Modbus": {"Port": 80}})  # the web page's default
    assert e is not None and e.field == "Modbus.Port" and "Http.Port" in e.message
    e = _error({"Http": {"Port": 502}})
    assert e is not None and e.field == "Http.Port" and "Modbus.Port" in e.message
    assert _rejects("Http.RawPort", {"Http": {"RawPort": 80}})
    assert _error({"Http": {"Port": 8080, "RawPort": 80}}) is None  # a swap in one patch is fine


def test_booleans_must_be_true_or_false():
    assert _rejects("MQTT.Enabled", {"MQTT": {"Enabled": 1}})
    assert _rejects("P1.Passthrough", {"P1": {"Passthrough": "true"}})


def test_enums_accept_only_their_values():
    assert _rejects("MeterType", {"MeterType": "EMPro"})
    assert _rejects("DefaultNetIf", {"DefaultNetIf": "wifi"})
    assert _rejects("Modbus.StalePolicy", {"Modbus": {"StalePolicy": "zero"}})
    assert _rejects("P1.Baud", {"P1": {"Baud": 115200}})
    assert _error({"MeterType": "Eastron-SDM630", "P1": {"Baud": "9600"}}) is None


def test_ssid_is_at_most_32_bytes_counted_in_utf8():
    assert _error({"WiFi": {"Ssid": "a" * 32}}) is None
    assert _rejects("WiFi.Ssid", {"WiFi": {"Ssid": "a" * 33}})
    assert _rejects("WiFi.Ssid", {"WiFi": {"Ssid": "\u20ac" * 11}})  # 33 bytes, 11 characters


def test_wpa2_passphrase_is_empty_or_8_to_63_printable_characters():
    for ok in ("", "12345678", "x" * 63):
        assert _error({"WiFi": {"Password": ok}}) is None, ok
    for bad in ("1234567", "x" * 64, "tab\there12", 12345678):
        assert _rejects("WiFi.Password", {"WiFi": {"Password": bad}}), bad


def test_ipv4_addresses_must_be_dotted_decimal():
    for ok in ("192.168.1.10", "10.0.0.1", "0.0.0.0", "255.255.255.255", ""):
        assert _error({"Ethernet": {"StaticIPv4": {"DNS": ok}}}) is None, ok
    for bad in ("256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "a.b.c.d", "1..2.3", " 1.2.3.4", 1234):
        assert _rejects("Ethernet.StaticIPv4.DNS", {"Ethernet": {"StaticIPv4": {"DNS": bad}}}), bad


def test_netmask_is_a_prefix_length_or_a_contiguous_mask():
    for ok in ("24", "0", "32", "255.255.255.0", "255.255.0.0"):
        assert _error({"WiFi": {"StaticIPv4": {"Netmask": ok}}}) is None, ok
    for bad in ("33", "255.0.255.0", "24.0", "", 24):
        assert _rejects("WiFi.StaticIPv4.Netmask", {"WiFi": {"StaticIPv4": {"Netmask": bad}}}), bad


def test_static_mode_needs_address_and_gateway():
    assert _rejects("WiFi.StaticIPv4.IpAddress", {"WiFi": {"IpMode": "Static"}})
    assert _rejects("Ethernet.StaticIPv4.Gateway",
                    {"Ethernet": {"IpMode": "Static", "StaticIPv4": {"IpAddress": "192.168.1.5"}}})
    assert _error({"Ethernet": {"IpMode": "Static", "StaticIPv4": {
        "IpAddress": "192.168.1.5", "Gateway": "192.168.1.1"}}}) is None


def test_broker_url_needs_mqtt_or_mqtts_and_a_valid_port():
    for ok in ("mqtt://broker.local", "mqtts://broker.example.com:8883", "mqtt://10.0.0.2:1883", ""):
        assert _error({"MQTT": {"Broker": ok}}) is None, ok
    for bad in ("http://broker", "broker:1883", "mqtt://", "mqtt://h:0", "mqtt://h:65536",
                "mqtt://h:x", "mqtt://u:p@h", "mqtt://h/path", 1883):
        assert _rejects("MQTT.Broker", {"MQTT": {"Broker": bad}}), bad


def test_enabling_mqtt_needs_a_broker():
    assert _rejects("MQTT.Broker", {"MQTT": {"Enabled": True}})
    assert _error({"MQTT": {"Enabled": True, "Broker": "mqtt://h"}}) is None


def test_numbers_have_ranges():
    assert _rejects("Modbus.FailsafeCurrentA", {"Modbus": {"FailsafeCurrentA": -1}})
    # 0 A tells a charger the house is idle; 1e-400 arrives as 0.0.
    assert _rejects("Modbus.FailsafeCurrentA", {"Modbus": {"FailsafeCurrentA": 0}})
    assert _rejects("Modbus.FailsafeCurrentA", {"Modbus": {"FailsafeCurrentA": json.loads("1e-400")}})
    assert _rejects("Modbus.FailsafeCurrentA", {"Modbus": {"FailsafeCurrentA": "6"}})
    cfg, _ = config.patch(config.defaults(), {"Modbus": {"FailsafeCurrentA": 10}})
    assert cfg["Modbus"]["FailsafeCurrentA"] == 10.0
    assert _rejects("Modbus.MaxClients", {"Modbus": {"MaxClients": 0}})
    assert _rejects("MQTT.MinIntervalS", {"MQTT": {"MinIntervalS": 1.5}})


def test_smarty_key_is_32_hex_digits_and_aad_34():
    assert _error({"P1": {"SmartyKey": "00112233445566778899aabbccddeeff"}}) is None
    assert _rejects("P1.SmartyKey", {"P1": {"SmartyKey": "0011223344556677"}})
    assert _rejects("P1.SmartyKey", {"P1": {"SmartyKey": "g" * 32}})
    assert _rejects("P1.SmartyAad", {"P1": {"SmartyAad": ""}})


def test_certificates_must_be_pem_and_a_client_cert_needs_its_key():
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    assert _error({"MQTT": {"CaCert": pem}}) is None
    assert _rejects("MQTT.CaCert", {"MQTT": {"CaCert": "MIIB"}})
    assert _rejects("MQTT.ClientKey", {"MQTT": {"ClientCert": pem}})
    # The key field needs a private key, the certificate fields certificates.
    assert _rejects("MQTT.ClientKey", {"MQTT": {"ClientCert": pem, "ClientKey": pem}})
    assert _rejects("MQTT.CaCert", {"MQTT": {"CaCert": pem.replace("CERTIFICATE", "EC PRIVATE KEY")}})


def test_text_fields_refuse_control_characters():
    assert _rejects("MQTT.Site", {"MQTT": {"Site": "a\nb"}})
    for c in ("\x7f", "\x85", "\x9f", "\u2028", "\u2029"):  # DEL, C1 (NEL), line/paragraph separators
        assert _rejects("MQTT.Site", {"MQTT": {"Site": "ho" + c + "me"}}), repr(c)
        assert _rejects("MQTT.Username", {"MQTT": {"Username": "ho" + c + "me"}}), repr(c)
    assert _error({"MQTT": {"Site": "h\u00f6me \u20ac"}}) is None


def test_an_escaped_surrogate_pair_is_stored_as_the_character_it_encodes():
    # json.dumps("\U0001F600") as Python clients send it; MicroPython's json keeps the halves apart.
    cfg, _ = config.patch(config.defaults(), json.loads('{"MQTT": {"Site": "farm \\ud83d\\ude00"}}'))
    assert cfg["MQTT"]["Site"].encode() == b"farm \xf0\x9f\x98\x80"


def test_half_a_surrogate_pair_is_refused():
    for half in ('"\\ud83d"', '"\\ude00x"', '"\\ud83dx"'):
        assert _rejects("WiFi.Ssid", json.loads('{"WiFi": {"Ssid": %s}}' % half)), half


def test_mqtt_site_is_one_topic_level_without_wildcards():
    # Consumers subscribe to devices/+/smart-connect/+/data: a "/" would hide the gateway.
    for bad in ("home+", "#", "a/#", "home/shed"):
        assert _rejects("MQTT.Site", {"MQTT": {"Site": bad}}), bad
    assert _error({"MQTT": {"Site": "home-shed"}}) is None


def test_a_smarty_key_does_not_go_with_9600_baud():
    key = "0123456789ABCDEF0123456789ABCDEF"
    e = _error({"P1": {"SmartyKey": key, "Baud": "9600"}})
    assert e is not None and e.field == "P1.SmartyKey"
    cfg, _ = config.patch(config.defaults(), {"P1": {"SmartyKey": key}})
    e = _error({"P1": {"Baud": "9600"}}, cfg)
    assert e is not None and e.field == "P1.Baud"


def test_an_mqtt_password_needs_a_user_name():
    assert _rejects("MQTT.Username", {"MQTT": {"Password": "pw"}})
    assert _error({"MQTT": {"Username": "u", "Password": "pw"}}) is None


def test_a_stored_password_without_user_name_does_not_block_other_changes():
    stored = config.defaults()
    stored["MQTT"]["Password"] = "pw"  # saved before the rule existed
    assert _error({"WiFi": {"Ssid": "home"}}, stored) is None


def test_error_message_names_the_field():
    e = _error({"Modbus": {"Port": 0}})
    assert str(e).startswith("Modbus.Port: ")


# --- secrets ---

def test_redact_masks_secrets_that_are_set_only():
    cfg, _ = config.patch(config.defaults(), {"WiFi": {"Password": "secret123"}, "MQTT": {"Username": "u"}})
    shown = config.redact(cfg)
    assert shown["WiFi"]["Password"] == config.MASK
    assert shown["MQTT"]["Password"] == ""
    assert shown["MQTT"]["Username"] == "u"
    assert cfg["WiFi"]["Password"] == "secret123"


def test_sending_the_mask_back_keeps_the_stored_secret():
    cfg, _ = config.patch(config.defaults(), {"MQTT": {"Broker": "mqtt://h", "Username": "u", "Password": "pw"}})
    again, restart = config.patch(cfg, config.redact(cfg))
    assert again["MQTT"]["Password"] == "pw"
    assert not restart


def test_a_patch_leaves_none_of_the_check_modules_loaded():
    import sys
    checks = ("config_check", "config_defaults", "broker_url", "pem")
    loaded = {m: sys.modules.pop(m) for m in checks if m in sys.modules}  # as after boot
    try:
        config.patch(config.defaults(), {"MQTT": {"Broker": "mqtts://broker:8883", "Site": None}})
        assert [m for m in checks if m in sys.modules] == []
    finally:
        sys.modules.update(loaded)


def test_p1_protocol_is_auto_dsmr_or_tic_and_fits_the_baud():
    assert config.defaults()["P1"]["Protocol"] == "auto"
    assert _rejects("P1.Protocol", {"P1": {"Protocol": "linky"}})
    assert _error({"P1": {"Protocol": "tic", "Baud": "1200"}}) is None
    assert _error({"P1": {"Protocol": "auto", "Baud": "1200"}}) is None
    e = _error({"P1": {"Protocol": "tic", "Baud": "115200"}})
    assert e is not None and e.field == "P1.Protocol" and "115200" in e.message
    cfg, _ = config.patch(config.defaults(), {"P1": {"Protocol": "dsmr"}})
    e = _error({"P1": {"Baud": "1200"}}, cfg)
    assert e is not None and e.field == "P1.Baud"
    e = _error({"P1": {"SmartyKey": "0123456789ABCDEF0123456789ABCDEF", "Protocol": "tic"}})
    assert e is not None and e.field == "P1.SmartyKey"
