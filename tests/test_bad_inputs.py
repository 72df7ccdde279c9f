"""Every case of the bad-input corpus (``tests/bad_inputs.py``) behaves: its exit status, one
line on stderr that names the bad file, no traceback, and no file left behind but the expected
outputs."""

from __future__ import annotations

import warnings

import pytest

from bad_inputs import BUILDERS, build, problems
from deblurkit.cli import main


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    return root, build(root)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_bad_input_case(corpus, name, capsys):
    root, cases = corpus
    item = cases[name]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = main(list(item.argv))
    stderr = capsys.readouterr().err
    warned = [f"{w.category.__name__}: {w.message}" for w in caught]
    assert problems(item, status, stderr, root, warned) == [], stderr
