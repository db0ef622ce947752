"""`hector serve` freezes its start-up heap and collects young objects less often."""

from __future__ import annotations

import gc

from apps.server.management.commands import serve


def test_tune_gc_freezes_what_exists_and_raises_the_young_threshold() -> None:
    before = gc.get_threshold()
    try:
        serve._tune_gc()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (serve.GC_YOUNG_THRESHOLD, *before[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
