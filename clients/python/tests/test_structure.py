"""The package's shape, read from its source with ast (no torch needed): no import cycle
between its modules, and Run's private state written only by run.py."""
import ast
import os
import unittest
from typing import Dict, List, Optional, Set

import trainpilot

PACKAGE = os.path.dirname(trainpilot.__file__)


def module_names() -> Dict[str, str]:
    """'trainpilot.x' -> path, for every module of the package ('trainpilot' is __init__.py)."""
    out = {}
    for f in sorted(os.listdir(PACKAGE)):
        if f.endswith(".py"):
            out["trainpilot" if f == "__init__.py" else "trainpilot." + f[:-3]] = os.path.join(PACKAGE, f)
    return out


def imports_of(name: str, source: str, modules: Set[str]) -> Set[str]:
    """The package's modules that `name`'s source imports, anywhere in it: at the top, inside a
    function (a lazy import) or under `if TYPE_CHECKING:` — each of those closes a cycle too."""
    package = name if name == "trainpilot" else name.rsplit(".", 1)[0]
    found: Set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
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
            graph[name] = imports_of(name, f.read(), set(modules))
    return graph


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


class RunPrivates(unittest.TestCase):
    def test_only_run_py_writes_private_attributes_of_other_objects(self):
        # start() used to set eight of a new Run's attributes and loader.py wrote its fetch
        # timing into Run's privates; now Run.open makes a Run and Run.next_batch records a fetch.
        offences = []
        for name, path in module_names().items():
            if name == "trainpilot.run":
                continue
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                targets = (node.targets if isinstance(node, ast.Assign) else
                           [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else [])
                for t in targets:
                    for a in ast.walk(t):
                        if (isinstance(a, ast.Attribute) and a.attr.startswith("_") and not a.attr.startswith("__")
                                and not (isinstance(a.value, ast.Name) and a.value.id in ("self", "cls"))):
                            offences.append(f"{os.path.basename(path)}:{a.lineno} {ast.unparse(a)}")
        self.assertEqual(offences, [])


if __name__ == "__main__":
    unittest.main()
