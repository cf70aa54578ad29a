"""Every script's command line: --help prints the whole docstring, every option says what it does."""

import argparse
from pathlib import Path

import pytest

from scripts_loader import SCRIPTS, load

NAMES = sorted(p.stem for p in SCRIPTS.glob("*.py") if not p.stem.startswith("_"))


def _parser(name, monkeypatch) -> tuple[argparse.ArgumentParser, object]:
    """The parser ``main`` builds, caught when it parses (nothing runs)."""
    caught = {}

    def catch(self, args=None, namespace=None):
        caught["parser"] = self
        raise SystemExit(0)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", catch)
    module = load(name)
    with pytest.raises(SystemExit):
        module.main([])
    return caught["parser"], module


@pytest.mark.parametrize("name", NAMES)
def test_help_is_the_whole_docstring_and_every_option_has_help(name, monkeypatch):
    """Oracle: the script's own docstring, line by line."""
    parser, module = _parser(name, monkeypatch)
    text = parser.format_help()
    for line in module.__doc__.strip().splitlines():
        assert line.rstrip() in text, line
    for action in parser._actions:
        assert action.help, f"{name}: option {action.option_strings} has no help"


@pytest.mark.parametrize("name", [n for n in NAMES if not n.startswith("bench_engine")])
def test_out_is_a_path(name, monkeypatch):
    parser, _ = _parser(name, monkeypatch)
    outs = [a for a in parser._actions if "--out" in a.option_strings]
    assert not outs or (outs[0].type is Path and isinstance(outs[0].default, Path))
