"""The command line's CSV files: reading a table with a header row, turning
its columns into examples (inputs and targets), and writing results. Every
problem with a file is a ValueError whose message names the file, and where it
can the column and line.
"""

import csv
import dataclasses
import math

import numpy as np

from .datasets import one_hot

__all__ = ["Table", "read_csv", "write_csv", "Examples", "read_examples"]

_SHOWN_COLUMNS = 12  # how many column names an error message lists


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


class Table:
    """A CSV file's contents.

    Attributes: ``path``; ``names``, the header's column names; ``rows``, one
    list of stripped strings per data row (all as long as ``names``);
    ``lines``, the file line on which each row ends (for messages).
    """

    def __init__(self, path, names, rows, lines):
        self.path, self.names, self.rows, self.lines = path, names, rows, lines

    def __len__(self):
        return len(self.rows)

    def index(self, name):
        """Position of column ``name``; ValueError listing the columns if there is none."""
        try:
            return self.names.index(name)
        except ValueError:
            shown = ", ".join(self.names[:_SHOWN_COLUMNS])
            more = f", … ({len(self.names)} in all)" if len(self.names) > _SHOWN_COLUMNS else ""
            raise ValueError(f"{self.path} has no column {name!r} (its columns: {shown}{more})") from None

    def strings(self, name):
        """The values of column ``name`` as strings (none may be empty)."""
        i = self.index(name)
        for row, line in zip(self.rows, self.lines):
            if not row[i]:
                raise ValueError(f"{self.path}, line {line}: column {name!r} has no value")
        return [row[i] for row in self.rows]

    def is_numeric(self, name):
        """Do all values of column ``name`` parse as numbers?"""
        i = self.index(name)
        return all(_is_number(row[i]) for row in self.rows)

    def floats(self, names):
        """Columns ``names`` as a float64 array of shape ``(len(self), len(names))``;
        ValueError naming the column and line of a value that is missing, not a
        number, or not finite."""
        columns = [self.index(name) for name in names]
        try:
            values = np.array([[row[i] for i in columns] for row in self.rows], dtype=np.float64)
        except ValueError:
            values = None  # find the offending cell below, for the message
        if values is None or not np.isfinite(values).all():
            raise ValueError(self._bad_value(names, columns))
        return values.reshape(len(self.rows), len(columns))

    def _bad_value(self, names, columns):
        """A message about the first value in ``columns`` that is missing, not a
        number or not finite."""
        for row, line in zip(self.rows, self.lines):
            for name, i in zip(names, columns):
                text = row[i]
                where = f"{self.path}, line {line}: column {name!r}"
                if not text:
                    return f"{where} has no value"
                if not _is_number(text):
                    return f"{where} is not numeric (value {text!r})"
                if not math.isfinite(float(text)):
                    return f"{where} is not a finite number (value {text!r})"
        return f"{self.path}: columns {names} hold values that are not finite numbers"


def read_csv(path):
    """Read ``path``: a UTF-8 CSV file whose first row names the columns.
    Blank lines are skipped and values stripped of spaces. Returns a :class:`Table`.

    ValueError for a file that is empty, not UTF-8 text, has no header or no
    data rows, repeated or empty column names, or rows whose number of fields
    differs from the header's; OSError when it cannot be opened."""
    where = str(path)
    rows, lines = [], []
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        try:
            header = next(reader, None)
            if header is None:
                raise ValueError(f"{where} is empty: it needs a header row of column names")
            names = [name.strip() for name in header]
            for row in reader:
                if not any(field.strip() for field in row):
                    continue
                if len(row) != len(names):
                    raise ValueError(
                        f"{where}, line {reader.line_num}: {len(row)} fields, but the header "
                        f"has {len(names)} columns"
                    )
                rows.append([field.strip() for field in row])
                lines.append(reader.line_num)
        except UnicodeDecodeError:
            raise ValueError(f"{where} is not a UTF-8 text (CSV) file") from None
        except csv.Error as e:
            raise ValueError(f"{where}, line {reader.line_num}: {e}") from None
    _check_header(where, names)
    if not rows:
        raise ValueError(f"{where} has a header but no data rows")
    return Table(where, names, rows, lines)


def _check_header(where, names):
    if all(_is_number(name) for name in names):
        raise ValueError(
            f"{where}: the first row looks like data ({', '.join(names[:4])}, …); the file "
            "needs a header row of column names"
        )
    for k, name in enumerate(names, start=1):
        if not name:
            raise ValueError(f"{where}: column {k} of the header has no name")
        if names.index(name) != k - 1:
            raise ValueError(f"{where}: the header names column {name!r} twice")


def write_csv(f, names, rows):
    """Write a header ``names`` and ``rows`` (sequences of str or float) to the
    text file ``f``; floats are written with all their digits (``repr``)."""
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([repr(float(v)) if isinstance(v, (float, np.floating)) else v for v in row])


# ------------------------------------------------------------------ examples
@dataclasses.dataclass
class Examples:
    """A CSV file's examples: ``X`` (n, n_inputs) and ``T`` (n, n_outputs)
    float64, the input and target column names, and for classification the
    class names (one per output, in output order), else None."""

    X: np.ndarray
    T: np.ndarray
    inputs: list
    targets: list
    classes: "list | None"


def _sorted_classes(labels):
    """Distinct labels, in numeric order when they are all numbers."""
    distinct = set(labels)
    try:
        return sorted(distinct, key=float)
    except ValueError:
        return sorted(distinct)


def read_examples(path, targets, classify):
    """Examples from the CSV file ``path``: the columns named in ``targets``
    are the targets, all other columns (which must be numeric) the inputs. A
    single non-numeric target column, or any target column with ``classify``,
    holds class labels and becomes one-hot targets."""
    table = read_csv(path)
    for name in targets:
        table.index(name)
    inputs = [name for name in table.names if name not in targets]
    if not inputs:
        raise ValueError(f"{path} has no input columns besides the target(s) {', '.join(targets)}")
    X = table.floats(inputs)
    if not classify and all(table.is_numeric(name) for name in targets):
        return Examples(X, table.floats(targets), inputs, targets, None)
    if len(targets) != 1:
        raise ValueError(
            f"classification takes one --target column of class labels; got {', '.join(targets)} "
            "(several target columns must all be numeric)"
        )
    labels = table.strings(targets[0])
    classes = _sorted_classes(labels)
    if len(classes) < 2:
        raise ValueError(f"{path}: the target column {targets[0]!r} holds a single class, {classes[0]!r}")
    index = {name: k for k, name in enumerate(classes)}
    T = one_hot(np.array([index[label] for label in labels]), len(classes))
    return Examples(X, T, inputs, targets, classes)
