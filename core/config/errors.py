"""Configuration errors that name the YAML path (and line) of each bad field."""

from __future__ import annotations

from dataclasses import dataclass

#: The exit status (sysexits' EX_CONFIG) of ``voxgate serve`` refusing its configuration; service
#: units name it in RestartPreventExitStatus= because restarting cannot fix a file.
EXIT_CONFIG = 78


@dataclass(frozen=True)
class ConfigIssue:
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.path or '<root>'}: {self.message}"


class ConfigError(Exception):
    """One or more problems in a configuration file; the old configuration keeps serving."""

    def __init__(self, issues: list[ConfigIssue], source: str | None = None) -> None:
        self.issues = issues
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        head = f"invalid configuration {self.source}" if self.source else "invalid configuration"
        return head + "\n" + "\n".join(f"  - {issue}" for issue in self.issues)

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "issues": [{"path": i.path, "line": i.line, "message": i.message} for i in self.issues],
        }
