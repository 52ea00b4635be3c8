"""Numeric request parameters (form fields and query strings) get a 400 naming the parameter:
not a number, or out of its range. Checked on the live transcription socket's query string,
whose parsing is a plain function."""

from __future__ import annotations

import pytest
from starlette.datastructures import QueryParams

from core.api.audio_upload import number_in_range
from core.api.errors import ApiError
from core.api.routes.transcription_stream import parse_params


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("abc", "sample_rate must be a number"),
        ("nan", "sample_rate must be between 4000 and 192000"),
        ("3999", "sample_rate must be between 4000 and 192000"),
        ("1e9", "sample_rate must be between 4000 and 192000"),
        ("16000.5", "sample_rate must be a whole number"),
    ],
)
def test_a_bad_sample_rate_is_refused_by_name(raw: str, message: str) -> None:
    with pytest.raises(ApiError) as refused:
        parse_params(QueryParams({"sample_rate": raw}))
    assert refused.value.status == 400
    assert refused.value.param == "sample_rate"
    assert refused.value.message == message


def test_defaults_and_values_in_range() -> None:
    default = parse_params(QueryParams(""))
    assert default.session.input.sample_rate == 16000
    chosen = parse_params(QueryParams({"sample_rate": "8000", "threshold": "0.3"}))
    assert chosen.session.input.sample_rate == 8000
    assert chosen.session.endpointing.threshold == 0.3
    with pytest.raises(ApiError, match=r"threshold must be between 0\.05 and 0\.95"):
        parse_params(QueryParams({"threshold": "0.99"}))


def test_number_in_range_keeps_its_bounds() -> None:
    assert number_in_range("0", "speed", 0, 4) == 0
    assert number_in_range(" 4 ", "speed", 0, 4) == 4
    with pytest.raises(ApiError, match="speed must be between 0 and 4"):
        number_in_range("4.01", "speed", 0, 4)
