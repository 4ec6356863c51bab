"""The progress bar in its terminal and Jupyter modes."""

import sys
import types

from vaelib.progress import Progress


def test_terminal_mode_writes_final_state(capsys):
    bar = Progress(10, notebook=False)
    for _ in range(10):
        bar.update()
    bar.set_postfix({"loss": 0.5})
    bar.close()
    out = capsys.readouterr().out
    assert "10/10" in out and "loss=0.5" in out


def test_notebook_mode_replaces_one_display(monkeypatch):
    shown = []

    class Handle:
        def update(self, bundle, raw):
            shown[-1] = bundle["text/plain"]

    def display(bundle, raw, display_id):
        shown.append(bundle["text/plain"])
        return Handle()

    monkeypatch.setitem(sys.modules, "IPython.display", types.SimpleNamespace(display=display))
    bar = Progress(4, notebook=True, min_interval=0.0)
    for _ in range(4):
        bar.update()
    bar.set_postfix({"test_accuracy": 0.97})
    bar.close()
    assert len(shown) == 1  # one line, replaced in place
    assert "4/4" in shown[0] and "test_accuracy=0.97" in shown[0]


def test_disabled_shows_nothing(capsys):
    bar = Progress(3, enabled=False)
    bar.update()
    bar.close()
    assert capsys.readouterr().out == ""


def test_a_delayed_bar_shows_nothing_in_a_short_run_and_writes_to_its_file(capsys):
    bar = Progress(5, notebook=False, delay=60.0, file=sys.stderr, unit="code")
    for _ in range(5):
        bar.update()
    bar.close()
    assert capsys.readouterr() == ("", "")
    bar = Progress(5, notebook=False, delay=1e-9, file=sys.stderr, unit="code")
    for _ in range(5):
        bar.update()
    bar.close()
    out, err = capsys.readouterr()
    assert out == "" and "5/5" in err and "code" in err
