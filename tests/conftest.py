"""Shared test set-up: hypothesis profiles and the repository root on sys.path."""

import os
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "core"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Runs recorded by the tests go to a store of their own, never the user's.
os.environ["MLSYS_RUN_STORE"] = os.path.join(tempfile.mkdtemp(prefix="mlsys-test-store-"),
                                             "runs.sqlite")

# CI runs derandomized so that a failure reproduces; locally, explore.
settings.register_profile("ci", derandomize=True, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
