"""DeepRacer-compatible racing on your own machine: the room's public Python API.

Tracks (DeepRacer route files), a vectorised kinematic simulator with DeepRacer's reward-function
contract, PPO training, evaluation with lap timing and penalties, and a league.
"""

from __future__ import annotations

from openmaker.rooms import lazy_exports

__all__ = ["RacerError", "list_tracks", "load_track"]

_EXPORTS = {
    "RacerError": "openmaker.racer.errors",
    "list_tracks": "openmaker.racer.tracks",
    "load_track": "openmaker.racer.tracks",
}

__getattr__ = lazy_exports("openmaker.racer", _EXPORTS)
