"""Terminal progress for management commands: bars per stage, logs above them."""

import logging
from contextlib import contextmanager

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm


@contextmanager
def logs_above_bars():
    """Route semrec's log lines through tqdm so they print above the bars, not inside them."""
    with logging_redirect_tqdm(loggers=[logging.getLogger("semrec")]):
        yield


class StageBars:
    """Receives ``(stage, done, total)`` from a run and draws one bar per stage.

    A total of 0 means "not known yet": the bar counts without a percentage
    until a later update brings the total.
    """

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.bar = None
        self.stage = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=total or None, initial=done, desc=stage, unit="it")
            return
        self.bar.total = total or None
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
