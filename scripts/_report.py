"""The text report of a script: lines printed as the script goes, kept for its .txt file."""

from __future__ import annotations


class TextLog:
    """``log(text)`` prints ``text`` at once and keeps it; ``log.write(path)`` saves every line."""

    def __init__(self):
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)

    def write(self, path: str) -> None:
        with open(path, "w") as fh:
            fh.write("\n".join(self.lines) + "\n")
