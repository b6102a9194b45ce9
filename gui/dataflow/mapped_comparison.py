"""The Comparison tab's "mapper's best per dataflow" view: the mapper's best mapping within each
dataflow (core.dataflow.ranking_mapped, run in the worker thread) beside the textbook nest,
with the gain, the best-against-best verdict, Stop, export, and a click on a row that sends
that dataflow's best mapping to the Mapping tab."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QLabel

from core.dataflow.ranking_mapped import MappedRanking, RankProgress, rank_mapped_steps

from gui.dataflow.search_view import SearchTableView
from gui.widgets.table_view import fill_table


class MappedComparisonView(SearchTableView):
    """``set_problem(layer, hierarchy)`` (re)starts the ranking; ``sig_load(mapping, dataflow)``
    asks for a dataflow's best mapping in the Mapping tab."""

    sig_load = Signal(object, str)
    sig_ranked = Signal()

    def __init__(self, parent=None):
        super().__init__("mapped-ranking", {
            "objective": "What the mapper minimises within each dataflow, and what the verdict "
                         "compares (memory accesses, energy or cycles)",
            "progress": "Dataflows searched so far (and mappings evaluated in the one running)",
            "stop": "Stop the search: the dataflows searched so far stay shown",
            "table": "Per dataflow: the mapper's best mapping beside the textbook nest; gain = "
                     "textbook ÷ best of the objective. Click a row to load its best mapping into "
                     "the Mapping tab and the animation",
            "status": "Result of the last export or load"}, "dataflow_best_vs_textbook.csv", parent)
        self.problem = None          # (layer, hierarchy) asked for last
        self.active = False          # searches run only while this view is shown (see showEvent)
        self.ranking: MappedRanking | None = None
        self._running_for = None
        self.objective_box.currentIndexChanged.connect(lambda _i: self.restart())
        self.progress.setRange(0, 4)
        self.verdict = QLabel("Searching each dataflow's best mapping…")
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.verdict.setToolTip("Which dataflow is best when each one uses the mapper's best mapping "
                                "(not its textbook nest)")
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.cellClicked.connect(lambda row, _col: self.load_row(row))
        self.lay_out(self.verdict)

    # -- running ---------------------------------------------------------------------------------
    def set_problem(self, layer, hierarchy) -> None:
        """A new layer or hierarchy: rank again (after stopping a ranking still running)."""
        if self.problem == (layer, hierarchy) and (self.ranking is not None or self.jobs.is_running()):
            return
        self.problem = (layer, hierarchy)
        self.restart()

    def set_active(self, active: bool) -> None:
        """Shown (True) or not: a ranking not yet made for the current problem starts when shown."""
        self.active = active
        if active and not self.jobs.is_running() and (
                self.ranking is None or (self.ranking.layer, self.ranking.objective) !=
                (self.problem[0] if self.problem else None, self.objective) or not self._current()):
            self.restart()

    def restart(self) -> None:
        if self.problem is None or not self.active:
            return
        if self.jobs.is_running():
            self.jobs.stop()  # _running(False) starts the pending problem
            return
        layer, hierarchy = self.problem
        objective = self.objective
        self._running_for = (layer, hierarchy, objective)
        self.ranking = None  # the last one answered another problem: nothing to load until the new one
        self._stop_asked = False
        self.progress.setRange(0, 4)
        self.progress.setValue(0)
        self.progress.setFormat("searching ws…")
        self.jobs.start(lambda should_stop, _pause: rank_mapped_steps(layer, hierarchy, objective, should_stop))

    def _current(self) -> bool:
        return self._running_for is not None and self.problem is not None and \
            self._running_for == (*self.problem, self.objective)

    def _running(self, running: bool) -> None:
        self.stop_button.setEnabled(running)
        if not running and not self._current():
            self.restart()  # the problem or objective changed while it ran

    def _event(self, event) -> None:
        if not self._current():
            return
        if isinstance(event, RankProgress):
            self.progress.setRange(0, event.total)
            self.progress.setValue(event.done)
            self.progress.setFormat(f"{event.done} of {event.total} dataflows; {event.dataflow}: "
                                    f"{event.evaluated:,} mappings evaluated")
        elif isinstance(event, MappedRanking):
            self.show_ranking(event)

    def _failed(self, message: str) -> None:
        self.verdict.setText(f"The search failed: {message}")
        self.sig_message.emit(f"Best-per-dataflow search failed: {message}")

    def show_ranking(self, ranking: MappedRanking) -> None:
        self.ranking = ranking
        done = len(ranking.entries)
        self.progress.setRange(0, 4)
        self.progress.setValue(done)
        self.progress.setFormat(f"{done} of 4 dataflows in {ranking.seconds:.2f} s"
                                + (" (stopped)" if ranking.stopped else ""))
        self.verdict.setText(ranking.explanation())
        fill_table(self.table, ranking.table())

    # -- rows ------------------------------------------------------------------------------------
    def load_row(self, row: int) -> bool:
        """Send row ``row``'s best mapping to the Mapping tab; False when it has none."""
        if self.ranking is None or not 0 <= row < len(self.ranking.entries):
            return False
        entry = self.ranking.entries[row]
        if entry.best is None:
            self._say(f"{entry.dataflow}: no mapping fits, nothing to load")
            return False
        self.sig_load.emit(entry.best, entry.dataflow)
        self._say(f"Loaded the best {entry.dataflow} mapping into the Mapping tab")
        return True

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.set_active(True)

    def hideEvent(self, event) -> None:
        self.active = False  # a search running goes on to its end; none starts while hidden
        super().hideEvent(event)

    def current_table(self):
        return None if self.ranking is None else self.ranking.table()
