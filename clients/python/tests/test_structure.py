"""The package's shape, read from its source with ast (no torch needed), sub-packages (_autohook/)
included: no import cycle between its modules; no module writes another object's private
attributes; and torch's private names are touched in one module only, the one that says why
(trainpilot/_autohook/_torch_private.py)."""
import ast
import os
import unittest
from typing import Dict, List, Optional, Set, Tuple

import trainpilot

PACKAGE = os.path.dirname(trainpilot.__file__)
CLIENT = os.path.dirname(PACKAGE)
# The one module allowed to write (and read) another object's private attributes: torch's.
TORCH_PRIVATE = "trainpilot._autohook._torch_private"
# Python's own private names the package uses, each with its reason.
PYTHON_PRIVATE = {
    "sys._getframe",  # _autohook/_torch.py: where the job built a loader (CPython's frame access)
}


def module_names() -> Dict[str, str]:
    """'trainpilot.x' -> path, for every module of the package and of its sub-packages ('trainpilot'
    is __init__.py, 'trainpilot._autohook' is _autohook/__init__.py)."""
    out = {}
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = sorted(d for d in dirs if os.path.isfile(os.path.join(folder, d, "__init__.py")))
        parts = ["trainpilot"] + os.path.relpath(folder, PACKAGE).split(os.sep)
        package = ".".join(p for p in parts if p != ".")
        for f in sorted(files):
            if f.endswith(".py"):
                out[package if f == "__init__.py" else f"{package}.{f[:-3]}"] = os.path.join(folder, f)
    return out


def is_package(path: str) -> bool:
    return os.path.basename(path) == "__init__.py"


def imports_of(name: str, source: str, modules: Set[str], package: Optional[bool] = None) -> Set[str]:
    """The package's modules that `name`'s source imports, anywhere in it: at the top, inside a
    function (a lazy import) or under `if TYPE_CHECKING:` — each of those closes a cycle too.
    package: name is a package's __init__ (relative imports start from it); default: only
    'trainpilot' is."""
    if package is None:
        package = name == "trainpilot"
    base_package = name if package else name.rsplit(".", 1)[0]
    found: Set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = base_package.split(".")[: len(base_package.split(".")) - (node.level - 1)]
                base_name = ".".join(base + ([node.module] if node.module else []))
            else:
                base_name = node.module or ""
            found.add(base_name)
            found.update(f"{base_name}.{a.name}" for a in node.names)  # `from . import run`
    return {m for m in found if m in modules and m != name}


def find_cycle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
    """One import cycle as [a, b, …, a], or None."""
    state: Dict[str, int] = {}  # 1: on the current path, 2: done
    path: List[str] = []

    def visit(m: str) -> Optional[List[str]]:
        state[m] = 1
        path.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state:
                cycle = visit(n)
                if cycle:
                    return cycle
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            cycle = visit(m)
            if cycle:
                return cycle
    return None


def import_graph() -> Dict[str, Set[str]]:
    modules = module_names()
    graph = {}
    for name, path in modules.items():
        with open(path, encoding="utf-8") as f:
            graph[name] = imports_of(name, f.read(), set(modules), is_package(path))
    return graph


class _PrivateUses(ast.NodeVisitor):
    """Each use of an attribute `_x` (not a dunder) of anything but the `self` (or `cls`) of a
    method of a class defined in the source, and each `from <module> import _x` of a module
    outside the package: (line, text, is_write)."""

    def __init__(self) -> None:
        self.own: List[Set[str]] = [set()]  # names bound, in this scope, to the module's own objects
        self.in_class = [False]
        self.found: List[Tuple[int, str, bool]] = []

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.in_class.append(True)
        self.generic_visit(node)
        self.in_class.pop()

    def _scope(self, node: ast.AST, args: ast.arguments, method: bool) -> None:
        params = [a.arg for a in args.posonlyargs + args.args]
        every = params + [a.arg for a in args.kwonlyargs] + [a.arg for a in (args.vararg, args.kwarg) if a]
        own = self.own[-1] - set(every)  # a parameter of a nested function shadows the method's self
        if method and params:
            own.add(params[0])
        self.own.append(own)
        self.in_class.append(False)
        self.generic_visit(node)
        self.in_class.pop()
        self.own.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)
        self._scope(node, node.args, self.in_class[-1] and not static)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._scope(node, node.args, False)

    def visit_Assign(self, node: ast.Assign) -> None:
        # `run = cls(…)` in a classmethod: an instance its own class has just made is its own too.
        f = node.value.func if isinstance(node.value, ast.Call) else None
        if isinstance(f, ast.Name) and f.id in self.own[-1]:
            self.own[-1].update(t.id for t in node.targets if isinstance(t, ast.Name))
        self.generic_visit(node)

    def _foreign(self, value: ast.AST) -> bool:
        return not (isinstance(value, ast.Name) and value.id in self.own[-1])

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr.startswith("_") and not node.attr.startswith("__") and self._foreign(node.value):
            self.found.append((node.lineno, ast.unparse(node), not isinstance(node.ctx, ast.Load)))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        f = node.func
        if (isinstance(f, ast.Name) and f.id in ("setattr", "delattr") and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            attr = node.args[1].value
            if attr.startswith("_") and not attr.startswith("__") and self._foreign(node.args[0]):
                self.found.append((node.lineno, ast.unparse(node), True))
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if not node.level and not (node.module or "").startswith("trainpilot"):
            for a in node.names:
                if a.name.startswith("_") and not a.name.startswith("__"):
                    self.found.append((node.lineno, f"from {node.module} import {a.name}", False))


def private_uses(source: str) -> List[Tuple[int, str, bool]]:
    v = _PrivateUses()
    v.visit(ast.parse(source))
    return v.found


def private_writes(source: str) -> List[Tuple[int, str]]:
    """Writes (=, +=, annotated, del, setattr) of another object's private attribute."""
    return [(line, text) for line, text, write in private_uses(source) if write]


def job_sources() -> Dict[str, str]:
    """name -> source of everything that runs inside a job: the package and the hook's start-up."""
    out = {}
    paths = module_names()
    paths["hook.sitecustomize"] = os.path.join(CLIENT, "hook", "sitecustomize.py")
    for name, path in paths.items():
        with open(path, encoding="utf-8") as f:
            out[name] = f.read()
    return out


class ImportCycles(unittest.TestCase):
    def test_the_checker_sees_the_cycle_loader_and_run_used_to_have(self):
        # loader.py used to import run.py under TYPE_CHECKING while run.py imports loader.py
        # lazily in Run.data_loader: the checker has to count both.
        modules = {"trainpilot.run", "trainpilot.loader"}
        graph = {
            "trainpilot.run": imports_of("trainpilot.run", "def data_loader():\n    from .loader import TunedLoader\n", modules),
            "trainpilot.loader": imports_of("trainpilot.loader", "from typing import TYPE_CHECKING\n"
                                            "if TYPE_CHECKING:\n    from .run import Run\n", modules),
        }
        self.assertEqual(find_cycle(graph), ["trainpilot.loader", "trainpilot.run", "trainpilot.loader"])
        self.assertEqual(imports_of("trainpilot.loader", "from . import run\n", modules), {"trainpilot.run"})
        self.assertEqual(imports_of("trainpilot.loader", "import trainpilot.run\n", modules), {"trainpilot.run"})

    def test_sub_packages_are_read_and_their_relative_imports_resolved(self):
        graph = import_graph()
        self.assertIn("trainpilot._autohook._hook", graph["trainpilot._autohook"], "_autohook/__init__.py: from ._hook")
        self.assertIn("trainpilot._link", graph["trainpilot._autohook._hook"], "from .._link")
        self.assertIn("trainpilot._link", graph["trainpilot.run"])

    def test_the_package_has_no_import_cycle(self):
        graph = import_graph()
        self.assertIn("trainpilot.loader", graph["trainpilot.run"], "run.py makes the TunedLoader")
        self.assertIsNone(find_cycle(graph))

    def test_the_loader_imports_nothing_of_the_run(self):
        graph = import_graph()
        reached, todo = set(), ["trainpilot.loader"]
        while todo:
            for n in graph[todo.pop()] - reached:
                reached.add(n)
                todo.append(n)
        self.assertNotIn("trainpilot.run", reached)
        self.assertNotIn("trainpilot", reached)


class Privates(unittest.TestCase):
    def test_the_checker_sees_writes_to_another_objects_privates(self):
        source = (
            "class Mine:\n"
            "    def __init__(self, other):\n"
            "        self._own = 1\n"              # its own: fine
            "        self.x: int = 0\n"
            "        other._a = 1\n"               # another object's
            "        self.peer._b += 1\n"          # an attribute's object is not self
            "        def inner(self):\n"
            "            self._c = 1\n"            # a nested function's `self` is not the method's
            "        setattr(other, '_d', 1)\n"
            "        del other._e\n"
            "    @classmethod\n"
            "    def make(cls):\n"
            "        cls._count = 0\n"             # its own class: fine
            "        made = cls(None)\n"
            "        made._ready = True\n"         # an instance it has just made: fine
            "def helper(run):\n"
            "    run._t0 = 1\n"                    # how _Step used to write Run's privates
            "    run.__dict__, run.x = {}, 1\n")   # dunder and public: fine
        self.assertEqual([text for _, text in private_writes(source)],
                         ["other._a", "self.peer._b", "self._c", "setattr(other, '_d', 1)", "other._e", "run._t0"])

    def test_no_module_writes_another_objects_private_attributes(self):
        # _Step used to write 12 of Run's privates and start() eight more; the hook wrote a torch
        # loader's _iterator in _loaders.py. Only the module that names torch's privates may.
        offences = [f"{name}:{line} {text}" for name, source in job_sources().items() if name != TORCH_PRIVATE
                    for line, text in private_writes(source)]
        self.assertEqual(offences, [])

    def test_torch_privates_are_touched_in_one_module_which_says_why(self):
        uses = {name: private_uses(source) for name, source in job_sources().items()}
        elsewhere = [f"{name}:{line} {text}" for name, found in uses.items() if name != TORCH_PRIVATE
                     for line, text, _ in found if text not in PYTHON_PRIVATE]
        self.assertEqual(elsewhere, [])
        there = {text for _, text, _ in uses[TORCH_PRIVATE]}
        self.assertEqual(there, {"from torch.utils.data.dataloader import _BaseDataLoaderIter",
                                 "it._shutdown_workers", "loader._iterator", "lr_scheduler._LRScheduler"})
        doc = ast.get_docstring(ast.parse(job_sources()[TORCH_PRIVATE])) or ""
        for name in ("_BaseDataLoaderIter", "_iterator", "_shutdown_workers", "_LRScheduler"):
            self.assertIn(name, doc, "the module says where and why it touches each")


if __name__ == "__main__":
    unittest.main()
