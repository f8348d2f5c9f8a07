"""Received vs expected keypoint frames from their stamps: hand-counted periods, duplicates, a restarted source."""

from __future__ import annotations

from visual_irl.input_rate import InputRate


def test_lost_frames_show_as_expected_minus_received():
    rate = InputRate(expected_hz=10.0, restart_s=0.5)
    for k in (0, 1, 2, 4, 5):  # frame 3 never arrived
        rate.frame(100.0 + 0.1 * k)
    first = rate.report()
    assert (first["received_last_period"], first["expected_last_period"], first["received_ratio"]) == (5, 6, 0.833)
    for k in (9, 10):  # 6, 7, 8 lost between two periods: counted in the second
        rate.frame(100.0 + 0.1 * k)
    second = rate.report()
    assert (second["received_last_period"], second["expected_last_period"]) == (2, 5)
    assert (second["received_total"], second["expected_total"]) == (7, 11)
    assert rate.report()["expected_last_period"] == 0  # nothing arrived, nothing was expected: ratio 1
    assert rate.report()["received_ratio"] == 1.0


def test_duplicates_late_frames_and_a_restarted_source():
    rate = InputRate(expected_hz=10.0, restart_s=0.5)
    for stamp in (1.0, 1.1, 1.1, 1.05, 1.2, float("nan")):  # a repeat, a late one, no stamp: not new frames
        rate.frame(stamp)
    assert rate.report()["received_last_period"] == 3
    for stamp in (1.3, 0.0, 0.1):  # a bag played again from the start
        rate.frame(stamp)
    period = rate.report()
    assert (period["received_last_period"], period["expected_last_period"]) == (3, 3)
    assert (period["received_total"], period["expected_total"]) == (6, 6)


def test_a_burst_that_loses_nine_in_ten_reads_one_in_ten():
    rate = InputRate(expected_hz=30.0, restart_s=0.5)
    for k in range(0, 500, 10):
        rate.frame(100.0 + k / 30)
    rate.frame(100.0 + 499 / 30)
    period = rate.report()
    assert (period["received_last_period"], period["expected_last_period"]) == (51, 500)
