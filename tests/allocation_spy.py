"""Run a launch with the kernel replaced by a no-op and keep the arrays run_batch allocates for it
(nothing is compiled): the oracle of the memory-budget and row-placement tests."""

from simdyn.engine import run


class NoKernel:
    """A kernel that does nothing, callable as a CPU kernel and launchable as a CUDA one."""

    def __call__(self, *args):
        return None

    def __getitem__(self, launch_configuration):
        return self


def allocated_arrays(monkeypatch, launch) -> tuple[dict, object]:
    """(name -> array of every kernel array run_batch allocated, its BatchResult) for ``launch``."""
    made = {}
    allocate = run._allocate

    def spy(*args, **kwargs):
        a, buffers = allocate(*args, **kwargs)
        made.update(a)
        return a, buffers

    monkeypatch.setattr(run, "_allocate", spy)
    monkeypatch.setattr(run, "get_kernel", lambda req: NoKernel())
    return made, run.run_batch(launch.request, launch.inputs)
