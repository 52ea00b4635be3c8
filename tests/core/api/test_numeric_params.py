"""Numeric request parameters (form fields and query strings) get a 400 naming the parameter:
not a number, or out of its range. Checked on the live transcription socket's query string,
whose parsing is a plain function."""

from __future__ import annotations

import pytest
from starlette.datastructures import FormData, QueryParams

from core.api.audio_upload import number_in_range, raw_format
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


@pytest.mark.parametrize("raw", ["abc", "\u00b9\u2076\u2070\u2070\u2070", "1" + "0" * 5000, ""])
def test_a_raw_upload_sample_rate_must_be_plain_digits(raw: str) -> None:
    form = FormData({"input_format": "pcm_s16le", "sample_rate": raw})
    with pytest.raises(ApiError) as refused:
        raw_format(form)
    assert refused.value.status == 400
    assert refused.value.param == "sample_rate"


def test_a_raw_upload_sample_rate_in_range_is_taken() -> None:
    declared = raw_format(FormData({"input_format": "pcm_s16le", "sample_rate": "16000"}))
    assert declared is not None
    assert declared.sample_rate == 16000
