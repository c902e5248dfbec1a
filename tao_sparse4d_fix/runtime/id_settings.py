"""The track-ID spec keys under ``model.head.instance_bank``: names, defaults, valid values.

One home for every rule about them: the schema patch adds them to TAO's
``Sparse4DInstanceBankConfig`` from ``KEYS``, the head patch reads a built
head's config through ``from_bank_config`` (refusing a bad value before the
model exists), and the bank's ID patch reads the ``Settings`` it hands over.

* ``id_continuity_gate`` (m): a detection TAO would give a fresh ID takes the ID
  of a carried query TAO does not show, within the gate (``runtime.continuity``).
* ``track_gate`` (m, 0 = off): a tracker's life cycle instead (``runtime.tracker``):
  every shown detection is associated with the last frames' tracks; with it on,
  ``id_continuity_gate`` is not used, and with it off the other ``track_*`` keys do nothing.
* ``track_max_age`` (frames): how long a track no detection took stays in memory.
* ``track_speed_gate``: the gate grows by this × the track's speed × the time since it was seen.
* ``track_assignment``: ``greedy`` (closest pair first) or ``hungarian`` (least total distance).
* ``track_nms_radius`` (m, 0 = off): of detections of one class closer than this,
  only one is shown: the one carrying the older ID, else the higher score.

Defaults follow the evidence's decision rule, written before its runs
(docs/evidence/tracking.md): of the settings it advised, association with
duplicate suppression had the highest median HOTA (0.191; every piece on: 0.190);
ID continuity was not advised, so it is off.
"""
import math
from dataclasses import dataclass, fields
from typing import Optional, Tuple

from tao_sparse4d_fix.errors import PluginError

NODE = "model.head.instance_bank"
BANK_ATTRIBUTE = "_tao_sparse4d_fix_id_settings"  # the Settings on an InstanceBank: set by the head patch
ASSIGNMENTS = ("greedy", "hungarian")
SUPPRESSED = -2  # the ID of a suppressed duplicate: never a real ID (those start at 0); the decoder's patch drops it


class InvalidSetting(PluginError, ValueError):
    """A spec or override asked for a track-ID value outside its valid range."""


@dataclass(frozen=True)
class Key:
    name: str
    kind: type  # float, int or str
    default: object
    low: Optional[float] = None
    high: Optional[float] = None
    options: Tuple[str, ...] = ()
    unit: str = ""
    description: str = ""

    @property
    def config_key(self):
        return f"{NODE}.{self.name}"

    def valid(self):
        if self.options:
            return f"one of {', '.join(self.options)}"
        whole = "whole numbers" if self.kind is int else "numbers"
        return f"{whole} from {self.low:g} to {self.high:g}{' ' + self.unit if self.unit else ''}"

    def validate(self, value):
        """``value`` as this key's type, or ``InvalidSetting`` naming it and the valid values."""
        if self.options:
            if isinstance(value, str) and value in self.options:
                return value
        elif not isinstance(value, bool):
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = math.nan
            if self.low <= number <= self.high and (self.kind is float or number == int(number)):
                return self.kind(number)
        raise InvalidSetting(
            f"tao-sparse4d-fix: {self.config_key}={value!r} is not a valid value; valid values are {self.valid()}; "
            f"the default is {self.default}."
        )


CONTINUITY = Key("id_continuity_gate", float, 0.0, 0.0, 10.0, unit="metres",
                 description="Metres within which a fresh detection takes an unshown carried query's ID; 0: TAO's own IDs")
GATE = Key("track_gate", float, 1.0, 0.0, 10.0, unit="metres",
           description="Metres within which a detection joins a track of the last frames; 0: off")
MAX_AGE = Key("track_max_age", int, 0, 0, 100, unit="frames", description="Frames a track with no detection stays in memory")
SPEED_GATE = Key("track_speed_gate", float, 0.0, 0.0, 5.0,
                 description="The gate grows by this x speed x time since the track was seen")
ASSIGNMENT = Key("track_assignment", str, "greedy", options=ASSIGNMENTS,
                 description="greedy (closest first) or hungarian (least total distance)")
NMS_RADIUS = Key("track_nms_radius", float, 1.0, 0.0, 10.0, unit="metres",
                 description="Metres within which same-class detections are duplicates, one shown; 0: off")
KEYS = (CONTINUITY, GATE, MAX_AGE, SPEED_GATE, ASSIGNMENT, NMS_RADIUS)


@dataclass(frozen=True)
class Settings:
    """What a bank does with track IDs; all defaults: ``KEYS``."""

    id_continuity_gate: float = CONTINUITY.default
    track_gate: float = GATE.default
    track_max_age: int = MAX_AGE.default
    track_speed_gate: float = SPEED_GATE.default
    track_assignment: str = ASSIGNMENT.default
    track_nms_radius: float = NMS_RADIUS.default

    @property
    def tracking(self):
        """True when the tracker assigns IDs (``track_gate`` > 0)."""
        return self.track_gate > 0

    @property
    def active(self):
        """False when TAO's own IDs are all there is (every key off)."""
        return self.tracking or self.id_continuity_gate > 0

    def changed(self):
        """The keys set away from their defaults, as ``key=value`` (for the run log)."""
        return [f"{f.name}={getattr(self, f.name)}" for f in fields(self) if getattr(self, f.name) != f.default]


TAO_IDS = Settings(id_continuity_gate=0.0, track_gate=0.0, track_max_age=0, track_speed_gate=0.0,
                   track_assignment="greedy", track_nms_radius=0.0)  # every key off: TAO's own IDs


def from_bank_config(bank_config):
    """The ``Settings`` a ``model.head.instance_bank`` node asks for; a bad value raises ``InvalidSetting``."""
    values = {}
    for key in KEYS:
        value = bank_config.get(key.name, None) if hasattr(bank_config, "get") else None
        values[key.name] = key.default if value is None else key.validate(value)
    return Settings(**values)
