"""Settings records of resumable output folders: results made with other settings are
never mixed.

A ``fenchel reproduce ...`` folder keeps one result file per finished run, and a re-run
skips the runs it finds. Each run file records the settings that made it (everything
besides its coordinates that changes its result), and the folder records them in
``OUT/settings.json``. Before anything is trained, :func:`check_records` compares the
stored records with the settings of the new call and raises
:class:`SettingsMismatchError`, naming every differing setting, stored value and new
value, when they differ.
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterable, Mapping

from fenchel.infra._io import Refusal, write_json_atomic

SETTINGS_FILE = "settings.json"

_ABSENT = "(not recorded)"


class SettingsMismatchError(Refusal, ValueError):
    """An output folder holds results made with other settings than the current call's."""


def normalized(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` as JSON would store it (tuples become lists, keys strings).

    Example:
      >>> from fenchel.infra._settings import normalized
      >>> normalized({"hidden": (0, 512)})
      {'hidden': [0, 512]}
    """
    return json.loads(json.dumps(settings, sort_keys=True))


def differences(stored: Mapping[str, Any], current: Mapping[str, Any],
                prefix: str = "") -> list[tuple[str, Any, Any]]:
    """``(name, stored value, current value)`` of every setting that differs; nested
    dicts are compared key by key (``"train_config.steps"``), and a key on one side
    only differs (its missing value shows as ``"(not recorded)"``).

    Example:
      >>> from fenchel.infra._settings import differences
      >>> differences({"lr": 0.1, "opt": {"steps": 2}}, {"lr": 0.1, "opt": {"steps": 3}})
      [('opt.steps', 2, 3)]
    """
    found = []
    for key in sorted(set(stored) | set(current)):
        name = f"{prefix}{key}"
        old, new = stored.get(key, _ABSENT), current.get(key, _ABSENT)
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            found += differences(old, new, f"{name}.")
        elif old != new:
            found.append((name, old, new))
    return found


def read_settings_file(out: str | os.PathLike) -> dict[str, Any] | None:
    """The record ``OUT/settings.json``, or None if there is none (or it is unreadable)."""
    try:
        with open(os.path.join(out, SETTINGS_FILE)) as file:
            data = json.load(file)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_settings_file(out: str | os.PathLike, settings: Mapping[str, Any]) -> None:
    """Write the folder's record ``OUT/settings.json`` (atomically)."""
    write_json_atomic(os.path.join(out, SETTINGS_FILE), normalized(settings))


def _show(value: Any) -> str:
    return value if value == _ABSENT else json.dumps(value)


def check_records(out: str | os.PathLike, records: Iterable[tuple[str, Mapping, Mapping]],
                  flags: Mapping[str, str] | None = None) -> None:
    """Raise :class:`SettingsMismatchError` if a stored record differs from its current
    settings.

    Args:
      out: the output folder (named in the message).
      records: ``(source, stored, current)``: where the record was read (a path
        relative to ``out``), what it records, and the settings of this call.
      flags: setting name -> command-line flag, named in the message.

    Raises:
      SettingsMismatchError: naming each differing setting once, with its stored value
        (and the first file recording it) and its new value.
    """
    flags = flags or {}
    seen: dict[str, str] = {}
    for source, stored, current in records:
        for name, old, new in differences(normalized(stored), normalized(current)):
            if name not in seen:
                flag = f" ({flags[name]})" if name in flags else ""
                seen[name] = (f"  {name}{flag}: stored {_show(old)} (in {source}), "
                              f"now {_show(new)}")
    if seen:
        raise SettingsMismatchError(
            f"{os.fspath(out)} holds results made with other settings; refusing to mix "
            "them:\n" + "\n".join(seen[name] for name in sorted(seen)) + "\nRe-run with "
            "the stored settings to resume, or write to a fresh output folder (--out).")


__all__ = ["SETTINGS_FILE", "SettingsMismatchError", "normalized", "differences",
           "read_settings_file", "write_settings_file", "check_records"]
