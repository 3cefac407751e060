"""What a step runs from a user's files, by content: the digests its cache key sees.

TFX keys a step by its parameters as given: a schema by its path, a preprocessing_fn or
a trainer's run_fn by its dotted name. An in-place edit of the file or the module then
leaves the key unchanged and the step is served from the cache with the old contents
(TFX's own `module_file` is keyed by the packaged module's hash,
tfx/components/util/udf_utils.py). Here the digest of the file, or of the module's
source and the local modules it imports (those beside it in the same folder tree, not
installed packages), becomes a parameter of the step, so an edit re-runs exactly the
steps that read it, and the record can name the contents a model came from.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import sys
import sysconfig
from pathlib import Path

INSTALLED = tuple(Path(p).resolve() for p in {sysconfig.get_paths()["purelib"],
                                               sysconfig.get_paths()["platlib"],
                                               sysconfig.get_paths()["stdlib"]})


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in blocks (data files may be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _origin(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError, AttributeError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin).resolve()


def _root(module: str, origin: Path) -> Path:
    """The sys.path folder a module was found under: its top-level package's parent."""
    depth = module.count(".") + (origin.name == "__init__.py")
    return origin.parents[depth]


def _imported(module: str, origin: Path) -> set[str]:
    """Every module name the file imports, absolute or relative ('from a import b' names
    both a and a.b: b may be a submodule)."""
    package = module if origin.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    try:
        tree = ast.parse(origin.read_bytes(), str(origin))
    except SyntaxError:  # its digest still counts; the module contract reports the error
        return names
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            if base:
                names.add(base)
                names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _is_local(top_level: str, root: Path) -> bool:
    if top_level in sys.builtin_module_names:
        return False
    module = sys.modules.get(top_level)
    found = getattr(module, "__file__", None) if module else None
    if found is None:
        found = _origin(top_level)  # a top-level name imports nothing to be found
    return found is not None and _under(Path(found).resolve(), root)


def _under(path: Path, root: Path) -> bool:
    """In the user's folder tree and not an installed package (a venv may live inside
    the project folder)."""
    return path.is_relative_to(root) and not any(path.is_relative_to(p) for p in INSTALLED)


def module_sources(module: str) -> dict[str, str]:
    """path -> sha256 of the module's file and of every local module it imports,
    transitively: those under the same sys.path folder, not installed packages."""
    origin = _origin(module)
    if origin is None:
        return {}
    root = _root(module, origin)
    local = not any(root.is_relative_to(p) for p in INSTALLED)
    found: dict[str, str] = {}
    pending = [(module, origin)]
    while pending:
        name, path = pending.pop()
        if str(path) in found:
            continue
        found[str(path)] = file_sha256(path)
        if not local:
            continue
        for imported in sorted(_imported(name, path)):
            # A dotted name's spec imports its parents: only for local packages.
            if not _is_local(imported.split(".")[0], root):
                continue
            child = _origin(imported)
            if child is not None and _under(child, root) and str(child) not in found:
                pending.append((imported, child))
    return dict(sorted(found.items()))


def function_digest(dotted: str) -> str:
    """One digest over the sources behind a dotted function name (module.function)."""
    return module_digest(dotted.rpartition(".")[0], salt=dotted)


def module_digest(*modules: str, salt: str = "") -> str:
    """One digest over the sources behind modules (each with its local imports)."""
    digest = hashlib.sha256(salt.encode())
    for module in modules:
        for path, sha in module_sources(module).items():
            digest.update(f"{path}\0{sha}\0".encode())
    return digest.hexdigest()


def on_import_path(folder: Path) -> None:
    """Makes the modules beside a user's config importable (as its relative paths
    resolve against it), after what is already on the path."""
    folder = str(Path(folder).resolve())
    if folder not in sys.path:
        sys.path.append(folder)


def local_files(module: str) -> dict[str, Path]:
    """The files behind a module and its local imports, by their path relative to the
    sys.path folder they import from (my_features/prep.py): put that tree on the path
    and the module imports the same."""
    origin = _origin(module)
    if origin is None:
        return {}
    root = _root(module, origin)
    files = [Path(path) for path in module_sources(module)]
    parts = module.split(".")[:-1] if origin.name != "__init__.py" else module.split(".")
    files += [init for i in range(1, len(parts) + 1)
              if (init := root.joinpath(*parts[:i], "__init__.py")).is_file()]  # its packages
    return {path.relative_to(root).as_posix(): path for path in files if path.is_relative_to(root)}
