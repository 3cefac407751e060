"""The structural checks before Beam starts: each kind of bad file gets a DataError that
names the file, line and column; valid CSV variants (quotes, CRLF, a byte-order mark)
are accepted and handed to ExampleGen with a plain header."""
import csv
import hashlib

import pytest

from components.executors.preflight import DataError, check_data, check_data_in_background
from sluice_config import config as config_module
from tests.conftest import TAXI_CSV, head_csv

pytestmark = pytest.mark.unit

ROWS = 120


@pytest.fixture
def taxi():
    return config_module.load("taxi")


@pytest.fixture
def sample(tmp_path):
    return head_csv(TAXI_CSV, tmp_path / "d.csv", ROWS)


def rows_of(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def write_rows(path, rows, **kwargs):
    with open(path, "w", newline="") as f:
        csv.writer(f, **kwargs).writerows(rows)


def set_cell(rows, line, column, value):
    rows[line - 1][rows[0].index(column)] = value


def test_good_sample_passes(taxi, sample, tmp_path):
    checked = check_data(taxi.replace(data=sample), tmp_path / "stage")
    assert checked.rows == ROWS and checked.path == sample
    assert checked.sha256 == hashlib.sha256(sample.read_bytes()).hexdigest()  # hashed in the same pass
    assert checked.columns[:3] == tuple(sample.read_text().splitlines()[0].split(",")[:3])


def test_the_background_check_answers_as_the_check_does(taxi, sample, tmp_path):
    """A run checks in a child process: the same CheckedData, the same DataError."""
    assert check_data_in_background(taxi.replace(data=sample), tmp_path / "stage").result() == \
        check_data(taxi.replace(data=sample), tmp_path / "stage")
    rows = rows_of(sample)
    set_cell(rows, 7, "fare", "twelve")
    write_rows(sample, rows)
    with pytest.raises(DataError, match=r"column 'fare' must be numeric, but line 7 \(column \d+\) holds 'twelve'"):
        check_data_in_background(taxi.replace(data=sample)).result()


def test_missing_file(taxi, tmp_path):
    with pytest.raises(DataError, match=r"data file .*nope.csv not found"):
        check_data(taxi.replace(data=tmp_path / "nope.csv"))


def test_misspelled_column_suggests_the_match(taxi, sample):
    sample.write_text(sample.read_text().replace("trip_miles", "trip_mile", 1))
    with pytest.raises(DataError, match="column 'trip_miles'.*missing.*Did you mean 'trip_mile'"):
        check_data(taxi.replace(data=sample))


def _edit(edit):
    def apply(path):
        rows = rows_of(path)
        edit(rows)
        write_rows(path, rows)
    return apply


def _bytes(transform):
    def apply(path):
        path.write_bytes(transform(path.read_bytes()))
    return apply


BAD = {
    "empty file": (_bytes(lambda b: b""), r"is empty"),
    "header only": (_bytes(lambda b: b.split(b"\n")[0] + b"\n"), r"header but no rows"),
    "too few fields": (_edit(lambda r: r[6].pop()), r"csv: line 7 has 17 fields, the header has 18"),
    "too many fields": (_edit(lambda r: r[9].append("x")), r"line 10 has 19 fields, the header has 18"),
    "duplicate header": (_edit(lambda r: r[0].__setitem__(3, "fare")),
                         r"line 1: the header name 'fare' appears twice \(columns \d+ and 4\)"),
    "empty header name": (_edit(lambda r: r[0].__setitem__(2, "")), r"line 1, column 3: the header name is empty"),
    "binary": (_bytes(lambda b: b"\x89PNG\r\n\x1a\n\x00\x00" + b[:200]), r"binary file"),
    "latin-1": (_bytes(lambda b: b.replace(b"Credit Card", "Crédit Card".encode("latin-1"), 1)),
                r"line \d+, column \d+: byte 0xe9 is not UTF-8.*Latin-1"),
    "utf-16": (_bytes(lambda b: b.decode().encode("utf-16")), r"UTF-16"),
    "semicolons": (_bytes(lambda b: b.replace(b",", b";")), r"looks semicolon-delimited"),
    "tabs": (_bytes(lambda b: b.replace(b",", b"\t")), r"looks tab-delimited"),
    "text in numeric": (_edit(lambda r: set_cell(r, 6, "fare", "twelve")),
                        r"column 'fare' must be numeric, but line 6 \(column \d+\) holds 'twelve'"),
    "date in numeric": (_edit(lambda r: set_cell(r, 9, "trip_miles", "1970-01-01")),
                        r"column 'trip_miles' must be numeric, but line 9 \(column \d+\) holds "
                        r"'1970-01-01'"),
    "thousands separator": (_edit(lambda r: set_cell(r, 5, "fare", "1,122.5")),
                            r"column 'fare' must be numeric, but line 5 \(column \d+\) holds '1,122.5'"),
    "empty feature column": (_edit(lambda r: [row.__setitem__(r[0].index("trip_miles"), "") for row in r[1:]]),
                             r"feature column 'trip_miles' is empty in all [\d,]+ rows"),
    "single class": (_edit(lambda r: [set_cell(r, i, "tips", "0") for i in range(2, len(r) + 1)]),
                     r"single class \(False in all [\d,]+ labelled rows"),
    "all-null label": (_edit(lambda r: [set_cell(r, i, "tips", "") for i in range(2, len(r) + 1)]),
                       r"label \(tips > 0.2 \* fare\) has no value in any of the [\d,]+ rows"),
    "five rows": (_bytes(lambda b: b"".join(b.splitlines(keepends=True)[:6])),
                  r"5 rows; the eval split \(1 of 3 hash buckets\) would get about 2.*at least 60 rows"),
    "appended to itself": (_bytes(lambda b: b + b"".join(b.splitlines(keepends=True)[1:])),
                           r"the second half of the file \([\d,]+ rows\) repeats the first row for "
                           r"row; the file was appended to itself"),
    "huge field": (_edit(lambda r: set_cell(r, 4, "company", "x" * 200_000)), r"line 4: field larger than field limit"),
    "field spanning lines": (_edit(lambda r: set_cell(r, 3, "company", "Taxi\nCo")),
                             r"line 3: a quoted field spans several lines"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_file_is_refused_with_file_line_and_column(case, taxi, sample):
    damage, message = BAD[case]
    damage(sample)
    with pytest.raises(DataError, match=message) as err:
        check_data(taxi.replace(data=sample))
    assert str(sample) in str(err.value)


def test_label_outside_the_classes_is_named(tmp_path):
    penguin = config_module.load("penguin")
    rows = rows_of(penguin.data)
    set_cell(rows, 8, "species", "Emperor")
    write_rows(tmp_path / "p.csv", rows)
    with pytest.raises(DataError, match=r"line 8, column \d+ \('species'\): label value 'Emperor'"):
        check_data(penguin.replace(data=tmp_path / "p.csv"))


def test_quoted_crlf_bom_file_is_read_through_a_plain_header_copy(taxi, sample, tmp_path):
    rows = rows_of(sample)
    set_cell(rows, 2, "company", "Taxi, Inc.")  # a quoted comma
    quoted = tmp_path / "quoted.csv"
    with open(quoted, "w", newline="", encoding="utf-8-sig") as f:
        csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)
    checked = check_data(taxi.replace(data=quoted), tmp_path / "stage")
    assert checked.rows == ROWS and checked.path != quoted
    copy = checked.path.read_bytes()
    assert copy.startswith(",".join(rows[0]).encode() + b"\n")
    assert copy.split(b"\n", 1)[1] == quoted.read_bytes().split(b"\n", 1)[1]
    assert rows_of(checked.path) == rows
    # The same file again reuses the copy (ExampleGen's cache sees the same input).
    assert check_data(taxi.replace(data=quoted), tmp_path / "stage").path == checked.path


def test_a_column_the_config_calls_numeric_must_hold_numbers(taxi, sample):
    """The schema types `company` as text; the config's kind alone asks for numbers."""
    features = tuple(f if f.name != "company" else f.__class__("company", "numeric")
                     for f in taxi.features)
    with pytest.raises(DataError, match=r"column 'company' must be numeric, but line 2 .*holds "
                                        r"'.*' \(features.company is numeric in the config\)"):
        check_data(taxi.replace(features=features, data=sample))


def test_a_text_label_without_classes_names_the_values_and_the_fix(taxi, sample):
    rows = rows_of(sample)
    rows[0].append("answer")
    for i, row in enumerate(rows[1:]):
        row.append("yes" if i % 3 else "no")
    write_rows(sample, rows)
    label = taxi.label.__class__(name="answer", column="answer")
    with pytest.raises(DataError, match=r"line 2, column 19 \('answer'\): the label holds text "
                                        r"\('no'; values found: 'no', 'yes'\).*no label.classes.*"
                                        r"classes: \['no', 'yes'\]"):
        check_data(taxi.replace(label=label, data=sample))


def test_blank_lines_are_skipped_and_counted(taxi, sample):
    body = sample.read_bytes()
    sample.write_bytes(body.replace(b"\n", b"\n\n", 3) + b"\n")
    checked = check_data(taxi.replace(data=sample))
    assert checked.rows == ROWS
    assert any("4 blank line(s) skipped" in note for note in checked.notes), checked.notes


def test_repeated_rows_are_reported_not_refused(taxi, sample):
    """Survey and event data repeat rows by nature: counted, with their share."""
    lines = sample.read_bytes().splitlines(keepends=True)
    sample.write_bytes(b"".join(lines + lines[1:41] * 3))
    checked = check_data(taxi.replace(data=sample))
    assert checked.rows == ROWS + 120
    assert any("120 of 240 rows (50.0%) repeat earlier rows" in n for n in checked.notes), checked.notes
