"""benchmarks/workers.py (issue 23): while one worker times a variant, every other worker, and
everything it started, is stopped; a planted busy worker cannot take the timed one's cores."""

import ast
import pathlib
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from workers import Worker, start  # noqa: E402

pytestmark = pytest.mark.skipif(
    not pathlib.Path("/proc/self/stat").exists(), reason="reads process states from /proc (Linux)"
)

# A worker whose thread pools never sleep: two child processes spin from the start, as an
# idle library's OpenMP or Eigen threads (or torch.compile's helpers) can.
BUSY = """
import multiprocessing, sys
sys.path.insert(0, {bench!r})
from workers import protocol_stream, serve

def spin():
    while True:
        pass

if __name__ == "__main__":
    out = protocol_stream()
    spinners = [multiprocessing.Process(target=spin, daemon=True) for _ in range(2)]
    for p in spinners:
        p.start()
    serve({{"busy": lambda seconds: float(len(spinners))}}, out,
          about=",".join(str(p.pid) for p in spinners))
"""

# A worker whose one variant samples, through its timing window, whether the given processes
# are all stopped (state T in /proc/PID/stat), and returns the share of samples in which they are.
PROBE = """
import sys, time
sys.path.insert(0, {bench!r})
from workers import protocol_stream, serve

def state(pid):
    with open(f"/proc/{{pid}}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]

def stopped_share(seconds):
    pids, samples, stopped = sys.argv[1:], 0, 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        samples += 1
        stopped += all(state(p) == "T" for p in pids)
        time.sleep(0.005)
    return stopped / samples

if __name__ == "__main__":
    serve({{"probe": stopped_share}}, protocol_stream())
"""


def state(pid) -> str:
    return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_a_busy_worker_is_stopped_while_another_is_timed(tmp_path):
    (tmp_path / "busy.py").write_text(textwrap.dedent(BUSY.format(bench=str(ROOT / "benchmarks"))))
    (tmp_path / "probe.py").write_text(
        textwrap.dedent(PROBE.format(bench=str(ROOT / "benchmarks")))
    )
    busy = Worker("busy", str(tmp_path / "busy.py"))
    probe = None
    try:
        assert busy.wait_ready() == ["busy"], busy.error
        pids = [str(busy.process.pid), *busy.about.split(",")]
        probe = Worker("probe", str(tmp_path / "probe.py"), pids)
        # Without the harness the busy worker runs beside the timed one: the probe sees it.
        assert probe.wait_ready() == ["probe"], probe.error
        assert probe.measure("probe", 0.3) == 0.0
        # Through start(): while the probe is timed, the busy worker and its children are
        # stopped in every sample of the window.
        variants = start([busy, probe])
        assert variants["probe"](0.5) == 1.0
        # and on its own turn the busy worker runs again (the probe stopped meanwhile)
        assert variants["busy"](0.1) == 2.0
        assert all(state(pid) != "T" for pid in pids)
        assert state(probe.process.pid) == "T"
    finally:
        for worker in (busy, probe):
            if worker is not None:
                worker.close()
    assert busy.process.poll() is not None and probe.process.poll() is not None


def test_a_roofline_share_uses_only_rounds_whose_roofline_agrees():
    """train_step.py reports a share of the roofline only from rounds whose roofline is within
    10% of its median; a round in which the machine was busy during the roofline is left out."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_step", ROOT / "benchmarks/train_step.py")
    train_step = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_step)
    assert train_step.steady_rounds([100, 105, 150, 98, 60]) == [0, 1, 3]
    assert train_step.steady_rounds([100, 300, 10]) == [0]  # only the median's own round
    assert train_step.ROOFLINE_AGREEMENT == 0.10


HELPERS = ("workers.py", "records.py")  # modules the scripts import, not scripts


@pytest.mark.parametrize(
    "script", sorted(p.name for p in (ROOT / "benchmarks").glob("*.py") if p.name not in HELPERS)
)
def test_every_benchmark_script_calls_its_main(script):
    """A script whose ``if __name__ == "__main__": main()`` went missing runs nothing and exits
    0 (it happened to train_step.py once); read from the source, so no script is started."""
    tree = ast.parse((ROOT / "benchmarks" / script).read_text())
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    last = tree.body[-1]
    assert isinstance(last, ast.If) and ast.unparse(last.test) == "__name__ == '__main__'", (
        f"benchmarks/{script} does not end with if __name__ == '__main__': main()"
    )
    called = {
        n.func.id
        for n in ast.walk(last)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    assert called & defined, f"benchmarks/{script}: its __main__ calls nothing it defines"
