"""Padding/merging speech regions, gluing them, and mapping glued times back."""

from __future__ import annotations

import numpy as np
import pytest

from core.stt_stream.regions import Region, SpeechMap, glue, pad_and_merge

RATE = 16000


def test_pads_are_clamped_and_touching_regions_merge() -> None:
    regions = [Region(100, 1000), Region(1500, 2000), Region(5000, 5900)]
    assert pad_and_merge(regions, 300, 6000) == [Region(0, 2300), Region(4700, 6000)]


def test_glue_keeps_only_the_regions() -> None:
    samples = np.arange(10, dtype=np.float32)
    assert glue(samples, [Region(1, 3), Region(6, 8)]).tolist() == [1, 2, 6, 7]
    assert len(glue(samples, [])) == 0


def test_times_map_back_to_the_original_clip() -> None:
    # Speech at 1.0-2.0 s and 5.0-5.5 s, glued into 1.5 s.
    times = SpeechMap([Region(RATE, 2 * RATE), Region(5 * RATE, 5 * RATE + RATE // 2)], RATE)
    assert times.original_time(0.0) == pytest.approx(1.0)
    assert times.original_time(0.5) == pytest.approx(1.5)
    assert times.original_time(1.25) == pytest.approx(5.25)
    # On the seam: a start belongs to the later region, an end to the earlier one.
    assert times.original_time(1.0) == pytest.approx(5.0)
    assert times.original_time(1.0, is_end=True) == pytest.approx(2.0)
    # Past the end stays at the end of the last region.
    assert times.original_time(9.0, is_end=True) == pytest.approx(5.5)


def test_no_regions_maps_times_unchanged() -> None:
    assert SpeechMap([], RATE).original_time(3.25) == 3.25
