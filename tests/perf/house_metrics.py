"""House-keeping numbers of a tree (issue 18's before/after table).

    python tests/perf/house_metrics.py [TREE] [--max-lines 450] [--no-duplicates] [--list]

TREE is a checkout (default: this one); it is only read. Prints:

1. library files (TREE/videossr/**/*.py) longer than --max-lines, with their line counts;
2. imports of the package's own modules (``import videossr...``, ``from videossr...``, relative imports),
   counted per import statement: inside a function body (function-local) versus elsewhere (module top,
   including module-level ``if``/``try`` blocks and class bodies);
3. ``getattr(`` / ``hasattr(`` calls in the library, with a rough guess of which probe a third-party object
   (the object's name or its class's base comes from an outside library, or it is named like one: model,
   config, processor, trainer, state, dataset ...); ``--list`` prints every call with its guess;
4. ``# fmt: skip`` comments and lines longer than 110 and 120 characters, in the library and in all the
   tree's Python files (the git-tracked ones when TREE is a git checkout);
5. the ``duplicates`` tool's pair count for TREE/videossr (skipped with --no-duplicates or when the tool is
   not on PATH).

Standard library only; parses files with ``ast`` (never imports them).
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE = "videossr"
# Names that, as the probed object or the start of its attribute chain, point to a third-party object.
THIRD_PARTY_HINTS = {
    "model",
    "config",
    "processor",
    "video_processor",
    "vp",
    "tokenizer",
    "processing_class",
    "trainer",
    "training_args",
    "args_",
    "state",
    "dataset",
    "ds",
    "rows",
    "table",
    "module",
    "result",
    "commit",
    "generation_config",
    "accelerator",
}
FMT_SKIP = re.compile(r"#\s*fmt:\s*skip")


def tree_py_files(tree: Path) -> list[Path]:
    """Every Python file of the tree: git's tracked ones in a checkout, else all but virtual envs."""
    try:
        out = subprocess.run(
            ["git", "-C", str(tree), "ls-files", "*.py"], capture_output=True, text=True, check=True
        ).stdout
        files = [tree / line for line in out.splitlines() if line]
        if files:
            return sorted(f for f in files if f.is_file())
    except (OSError, subprocess.CalledProcessError):
        pass
    skip = {".venv", "venv", ".git", "build", "dist", "node_modules", "__pycache__"}
    return sorted(p for p in tree.rglob("*.py") if not skip & set(p.relative_to(tree).parts))


def _stdlib_names() -> set[str]:
    return set(getattr(sys, "stdlib_module_names", ())) | {"os", "sys", "json", "re", "math"}


class _Walker(ast.NodeVisitor):
    """One library file: own imports by place, and the getattr/hasattr calls with a guess."""

    def __init__(self, rel: str, stdlib: set[str]):
        self.rel, self.stdlib = rel, stdlib
        self.func_depth = 0
        self.classes: list[ast.ClassDef] = []
        self.own_local = self.own_top = 0
        self.local_sites: list[str] = []
        self.imported_from: dict[str, str] = {}  # local name -> "own" / "stdlib" / "third"
        self.probes: list[tuple[str, str, str]] = []  # (where, call source, guess)
        self.source = ""

    # --- imports
    def _origin(self, module: str | None, level: int) -> str:
        if level or (module or "").split(".")[0] == PACKAGE:
            return "own"
        return "stdlib" if (module or "").split(".")[0] in self.stdlib else "third"

    def _count(self, node: ast.AST, origin: str) -> None:
        if origin != "own":
            return
        if self.func_depth:
            self.own_local += 1
            self.local_sites.append(f"{self.rel}:{node.lineno}")
        else:
            self.own_top += 1

    def visit_Import(self, node: ast.Import) -> None:
        origins = set()
        for alias in node.names:
            origin = self._origin(alias.name, 0)
            origins.add(origin)
            self.imported_from[(alias.asname or alias.name).split(".")[0]] = origin
        self._count(node, "own" if "own" in origins else "other")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        origin = self._origin(node.module, node.level)
        for alias in node.names:
            self.imported_from[alias.asname or alias.name] = origin
        self._count(node, origin)

    # --- scopes
    def _function(self, node: ast.AST) -> None:
        self.func_depth += 1
        self.generic_visit(node)
        self.func_depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.classes.append(node)
        self.generic_visit(node)
        self.classes.pop()

    # --- probes
    def _class_is_third_party(self) -> bool:
        if not self.classes:
            return False
        for base in self.classes[-1].bases:
            root = base
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Call):  # a base built by a function: a lazily imported library class
                return True
            if isinstance(root, ast.Name) and self.imported_from.get(root.id) == "third":
                return True
        return False

    def _guess(self, obj: ast.expr) -> str:
        chain: list[str] = []
        node = obj
        while isinstance(node, ast.Attribute):
            chain.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return "?"
        chain.append(node.id)
        root = node.id
        if root in ("self", "cls") and len(chain) == 1:
            return "third-party (self of a library subclass)" if self._class_is_third_party() else "own"
        origin = self.imported_from.get(root)
        if origin == "third":
            return "third-party (module)"
        if origin == "stdlib":
            return "stdlib"
        if any(name in THIRD_PARTY_HINTS for name in chain):
            return "third-party (by name)"
        return "own/plain"

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr") and node.args:
            text = ast.get_source_segment(self.source, node) or node.func.id
            self.probes.append(
                (f"{self.rel}:{node.lineno}", " ".join(text.split())[:100], self._guess(node.args[0]))
            )
        self.generic_visit(node)


def line_stats(files: list[Path]) -> dict[str, int]:
    skip = over110 = over120 = 0
    for path in files:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            skip += bool(FMT_SKIP.search(line))
            over110 += len(line) > 110
            over120 += len(line) > 120
    return {"fmt_skip": skip, "over_110": over110, "over_120": over120}


def duplicates_pairs(lib: Path, seconds: int) -> str:
    tool = shutil.which("duplicates")
    if tool is None:
        return "duplicates: not on PATH"
    run = subprocess.run(
        [tool, "--repo", str(lib), "--most", "200", "--seconds", str(seconds)],
        capture_output=True,
        text=True,
        cwd=lib,
    )
    lines = run.stdout.splitlines()
    head = lines[0] if lines else "(no output)"
    extra = [line for line in lines if line.startswith(("incomplete:", "left out:"))]
    return "\n".join([f"duplicates: {head}", *(f"  {line}" for line in extra)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tree", nargs="?", default=str(Path(__file__).resolve().parents[2]))
    ap.add_argument("--max-lines", type=int, default=450)
    ap.add_argument("--no-duplicates", action="store_true")
    ap.add_argument("--duplicates-seconds", type=int, default=120)
    ap.add_argument("--list", action="store_true", help="list every local import and getattr/hasattr call")
    args = ap.parse_args(argv)
    tree = Path(args.tree).resolve()
    lib = tree / PACKAGE
    if not lib.is_dir():
        ap.error(f"{lib} is not a folder")
    lib_files = sorted(lib.rglob("*.py"))
    stdlib = _stdlib_names()

    head = ""
    try:
        head = subprocess.run(
            ["git", "-C", str(tree), "log", "-1", "--format=%h %s"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        pass
    print(f"tree: {tree}" + (f"  ({head[:90]})" if head else ""))
    total = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in lib_files)
    print(f"library: {len(lib_files)} files, {total} lines")

    # 1. long files
    long_files = []
    for path in lib_files:
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > args.max_lines:
            long_files.append((n, path.relative_to(tree).as_posix()))
    print(f"\n1. library files over {args.max_lines} lines: {len(long_files)}")
    for n, rel in sorted(long_files, reverse=True):
        print(f"   {n:5d}  {rel}")

    # 2 + 3. imports and probes
    local = top = 0
    sites: list[str] = []
    probes: list[tuple[str, str, str]] = []
    for path in lib_files:
        source = path.read_text(encoding="utf-8")
        walker = _Walker(path.relative_to(tree).as_posix(), stdlib)
        walker.source = source
        walker.visit(ast.parse(source, filename=str(path)))
        local += walker.own_local
        top += walker.own_top
        sites += walker.local_sites
        probes += walker.probes
    print(f"\n2. imports of the package's own modules (statements): {local} function-local, {top} module-top")
    if args.list:
        for site in sites:
            print(f"   local  {site}")

    n_get = sum(p[1].startswith("getattr") for p in probes)
    third = [p for p in probes if p[2].startswith("third-party")]
    print(
        f"\n3. getattr/hasattr calls in the library: {len(probes)}"
        f" ({n_get} getattr, {len(probes) - n_get} hasattr);"
        f" on third-party objects (rough guess): {len(third)}"
    )
    for where, text, guess in probes if args.list else third:
        print(f"   {where:42s} {text}  [{guess}]")

    # 4. formatting
    all_files = tree_py_files(tree)
    lib_stats, all_stats = line_stats(lib_files), line_stats(all_files)
    print("\n4. formatting                 library  all .py files")
    print(f"   files                      {len(lib_files):7d}  {len(all_files):7d}")
    for key, label in (
        ("fmt_skip", "# fmt: skip"),
        ("over_110", "lines > 110 chars"),
        ("over_120", "lines > 120 chars"),
    ):
        print(f"   {label:26s} {lib_stats[key]:7d}  {all_stats[key]:7d}")

    # 5. duplicates
    if not args.no_duplicates:
        print(f"\n5. {duplicates_pairs(lib, args.duplicates_seconds)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
