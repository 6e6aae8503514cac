"""trainpilot's zero-code hook (DESIGN §10): `trainpilot run` puts this folder first on a Python
job's PYTHONPATH, so Python imports this module at start-up (site.py's `sitecustomize`); where
nothing wraps the job, PYTHONPATH=$(trainpilot hook-path) does the same (a pod's trainer, a node's
jobs, a launcher of its own), and the hook registers the run itself.

It does three small things and nothing else until the job imports torch:
  1. runs the sitecustomize this one shadows (the next one on sys.path), so a site's or
     distribution's own start-up code still runs, and raises as it would have;
  2. when the job imports torch, loads the trainpilot package that sits beside this folder under
     a private module name (the job's `import trainpilot` is left as it was) and activates the
     hook (trainpilot/_autohook) once torch has finished importing;
  3. nothing at all under TRAINPILOT_INJECT=0, or without TRAINPILOT_URL.

A failure of the hook itself is swallowed (one line on stderr): the job runs as without it.
This folder holds this file alone, since everything in it is importable by the job.
"""


def _trainpilot_watch():
    import os
    import sys

    env = os.environ
    if env.get("TRAINPILOT_INJECT", "1").strip().lower() in ("0", "false", "no", "off"):
        return
    if not env.get("TRAINPILOT_URL"):
        return
    here = os.path.dirname(os.path.abspath(__file__))
    package_dir = os.path.join(os.path.dirname(here), "trainpilot")
    private = "_trainpilot_zero_code"

    def activate():
        try:
            import importlib.util

            mod = sys.modules.get(private)
            if mod is None:
                spec = importlib.util.spec_from_file_location(
                    private, os.path.join(package_dir, "__init__.py"), submodule_search_locations=[package_dir])
                mod = importlib.util.module_from_spec(spec)
                sys.modules[private] = mod
                try:
                    spec.loader.exec_module(mod)
                except BaseException:
                    sys.modules.pop(private, None)
                    raise
            hook = importlib.import_module(private + "._autohook")
            hook.activate()
        except Exception as e:  # the hook's own import failed: the job goes on without it
            try:
                sys.stderr.write(f"trainpilot: zero-code hook off ({type(e).__name__}: {e})\n")
            except Exception:
                pass

    class TorchWatch:
        """A meta path finder that only looks for `torch`: it lets the other finders find it and
        activates the hook after torch's own module code has run (a post-import hook)."""

        busy = False

        def find_spec(self, name, path=None, target=None):
            if name != "torch" or self.busy:
                return None
            self.busy = True
            try:
                spec = None
                for finder in list(sys.meta_path):
                    find = getattr(finder, "find_spec", None)
                    if finder is self or find is None:
                        continue
                    spec = find(name, path, target)
                    if spec is not None:
                        break
            except Exception:
                return None  # the import goes on as if we were not here
            finally:
                self.busy = False
            try:
                sys.meta_path.remove(self)
            except ValueError:
                pass
            loader = getattr(spec, "loader", None)
            if loader is None or not hasattr(loader, "exec_module"):
                return spec
            run = loader.exec_module

            def exec_module(module):
                try:
                    run(module)  # torch's own errors reach the job unchanged
                finally:
                    try:
                        del loader.exec_module  # the instance attribute set below
                    except AttributeError:
                        pass
                activate()  # only once torch imported without an error

            try:
                # On this spec's loader instance only: the loader keeps its class (isinstance,
                # get_resource_reader, get_source all as before).
                loader.exec_module = exec_module
            except Exception:
                pass
            return spec

    if "torch" in sys.modules:
        activate()
    else:
        sys.meta_path.insert(0, TorchWatch())


def _trainpilot_chain():
    """The sitecustomize this file shadows, run as Python would have run it."""
    import importlib.machinery
    import importlib.util
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    mod = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = mod
    spec.loader.exec_module(mod)  # its errors propagate: site.py reports them, as it would have


try:
    _trainpilot_watch()
except Exception:
    pass
del _trainpilot_watch
_trainpilot_chain()
