"""ondemand.call: a module imported for one call is dropped after, one loaded before stays."""
import sys

import ondemand


def test_a_module_imported_for_the_call_is_dropped_after():
    sys.modules.pop("failsafe", None)
    r = ondemand.call("failsafe", "failsafe_reading", None, 10.0)
    assert r["current_l1_a"] == 10.0 and "failsafe" not in sys.modules


def test_a_module_loaded_before_the_call_stays_loaded():
    import failsafe
    ondemand.call("failsafe", "failsafe_reading", None, 6.0)
    assert sys.modules.get("failsafe") is failsafe
