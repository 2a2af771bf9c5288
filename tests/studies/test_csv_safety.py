import io

import pytest

from moodlab.studies.csv_safety import safe_cell, write_safe_csv


@pytest.mark.parametrize("text", ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_a_cell_that_a_spreadsheet_would_run_gets_a_leading_apostrophe(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["triste", "a=b", "", -3, 2.5, None])
def test_ordinary_text_and_numbers_are_left_alone(value):
    assert safe_cell(value) == value


def test_written_csv_guards_every_text_cell():
    out = io.StringIO()
    count = write_safe_csv(
        [{"tag": "=HYPERLINK()", "rating": -1}], fieldnames=["tag", "rating"], out=out
    )
    assert count == 1
    assert out.getvalue().splitlines() == ["tag,rating", "'=HYPERLINK(),-1"]
