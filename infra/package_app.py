"""Build the deployment zip of the function app: the repository minus what .funcignore excludes."""

from __future__ import annotations

import argparse
import fnmatch
import sys
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["ALWAYS_EXCLUDED", "VENDORED", "included_files", "is_ignored", "main", "read_patterns"]

# Never shipped even when .funcignore forgets them: virtual environments, VCS data, caches and local secrets.
ALWAYS_EXCLUDED = (".git/", ".venv*/", "__pycache__/", "*.pyc", "local.settings.json")

# Browser files the operator console and the shop page serve, from npm packages pinned in package.json: node_modules/
# is not deployed, so the file itself goes into the zip (path in the zip -> path in the checkout), whenever a page
# that serves them is shipped (web/console/, or the pages under shared/api/pages/).
VENDORED = {
    "web/vendor/chart.umd.min.js": "node_modules/chart.js/dist/chart.umd.min.js",
    "web/vendor/signalr.min.js": "node_modules/@microsoft/signalr/dist/browser/signalr.min.js",
}
_PAGES = ("web/console/", "shared/api/pages/")


def read_patterns(funcignore: Path) -> list[str]:
    """Return the patterns of a .funcignore file (gitignore syntax without negation); raises OSError if unreadable."""
    patterns = []
    for raw in funcignore.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            patterns.append(line)
    return patterns


def is_ignored(relative: str, is_dir: bool, patterns: Sequence[str]) -> bool:
    """Whether a POSIX path relative to the app root matches a pattern, the way .gitignore matches it."""
    name = relative.rsplit("/", 1)[-1]
    for pattern in patterns:
        dir_only = pattern.endswith("/")
        body = pattern.rstrip("/")
        if dir_only and not is_dir:
            continue
        if "/" in body:
            if fnmatch.fnmatchcase(relative, body.lstrip("/")):
                return True
        elif fnmatch.fnmatchcase(name, body):
            return True
    return False


def included_files(root: Path, patterns: Sequence[str]) -> Iterator[Path]:
    """Yield every file under root that no pattern excludes, in a stable order, skipping ignored folders whole."""
    for entry in sorted(root.iterdir()):
        relative = entry.relative_to(root).as_posix()
        yield from _walk(root, entry, relative, patterns)


def _walk(root: Path, entry: Path, relative: str, patterns: Sequence[str]) -> Iterator[Path]:
    if entry.is_symlink():
        return
    if entry.is_dir():
        if is_ignored(relative, True, patterns):
            return
        for child in sorted(entry.iterdir()):
            yield from _walk(root, child, f"{relative}/{child.name}", patterns)
    elif entry.is_file() and not is_ignored(relative, False, patterns):
        yield entry


def main(argv: Sequence[str] | None = None) -> int:
    """Write the zip; exit status 2 when host.json or requirements.txt is missing from the result."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    out: Path = args.out.resolve()
    funcignore = root / ".funcignore"
    patterns = [*ALWAYS_EXCLUDED, *(read_patterns(funcignore) if funcignore.exists() else [])]
    out.parent.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in included_files(root, patterns):
            if path.resolve() == out:
                continue
            name = path.relative_to(root).as_posix()
            archive.write(path, name)
            names.append(name)
        if any(name.startswith(_PAGES) for name in names):
            absent = [source for source in VENDORED.values() if not (root / source).is_file()]
            if absent:
                print(f"package_app: {', '.join(absent)} missing: run npm ci first", file=sys.stderr)
                return 2
            for name, source in VENDORED.items():
                archive.write(root / source, name)
                names.append(name)
    missing = [required for required in ("host.json", "requirements.txt") if required not in names]
    if missing:
        print(f"package_app: {', '.join(missing)} missing from the package", file=sys.stderr)
        return 2
    print(f"package_app: {len(names)} files -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
