"""A progress bar that looks right in a terminal, in Jupyter, and in the built book.

In a terminal it is a ``tqdm`` bar. In a Jupyter kernel it is one line of text
that is *replaced* as training goes on (an IPython display handle), so a
notebook shows a live line and a saved or built notebook keeps only the final
state, instead of one line per refresh.
"""

from __future__ import annotations

import sys
import time

from tqdm.std import tqdm

__all__ = ["Progress"]


def _in_jupyter_kernel() -> bool:
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return bool(shell) and hasattr(shell, "kernel")


class Progress:
    """Counts steps toward ``total`` and shows rate, time left and named values.

    Args:
      total: number of steps, or ``None`` when unknown.
      enabled: ``False`` shows nothing.
      min_interval: seconds between refreshes in Jupyter.
      notebook: force (``True``) or forbid (``False``) the Jupyter display;
        ``None`` detects it.
      unit: what is counted (``"step"``, ``"sample"``).
      file: the terminal bar's stream; ``None`` is ``sys.stdout`` (the evaluations
        pass ``sys.stderr``, so their bar never mixes with what a script prints).
      delay: show nothing until this many seconds have passed, so that a short run
        (a quick evaluation) prints nothing at all.
    """

    def __init__(
        self,
        total: int | None,
        *,
        enabled: bool = True,
        min_interval: float = 1.0,
        notebook: bool | None = None,
        unit: str = "step",
        file=None,
        delay: float = 0.0,
    ):
        self.total, self.n, self.postfix = total, 0, ""
        self.enabled, self.unit, self.file, self.delay = enabled, unit, file, delay
        self.notebook = _in_jupyter_kernel() if notebook is None else notebook
        self.min_interval = min_interval
        self.start = self.last = time.perf_counter()
        self.bar = self.handle = None
        if enabled and delay <= 0:
            self._show()

    def _show(self) -> None:
        """Starts the display: a Jupyter display handle, or a tqdm bar."""
        if self.notebook:
            from IPython.display import display

            self.handle = display({"text/plain": self.line()}, raw=True, display_id=True)
        else:
            self.bar = tqdm(
                total=self.total,
                initial=self.n,
                file=self.file or sys.stdout,
                ascii=True,
                mininterval=2.0,
                unit=self.unit,
            )

    def line(self) -> str:
        """The text of the bar now."""
        return tqdm.format_meter(
            self.n,
            self.total,
            time.perf_counter() - self.start,
            ncols=None,
            ascii=True,
            unit=self.unit,
            postfix=self.postfix or None,
        )

    def update(self, n: int = 1) -> None:
        self.n += n
        if (
            self.enabled
            and self.bar is None
            and self.handle is None
            and time.perf_counter() - self.start >= self.delay
        ):
            self._show()  # after the delay
            return
        if self.bar is not None:
            self.bar.update(n)
        elif self.handle is not None and time.perf_counter() - self.last >= self.min_interval:
            self.refresh()

    def set_postfix(self, values: dict[str, float]) -> None:
        self.postfix = ", ".join(f"{k}={v:.4g}" for k, v in values.items())
        if self.bar is not None:
            self.bar.set_postfix_str(self.postfix, refresh=False)

    def refresh(self) -> None:
        if self.handle is not None:
            self.handle.update({"text/plain": self.line()}, raw=True)
            self.last = time.perf_counter()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.refresh()
