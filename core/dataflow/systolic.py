"""SCALE-Sim-compatible systolic-array model: cycles, utilisation and SRAM traffic of a conv layer.

The layer is lowered to a matrix product as SCALE-Sim 3.0 does: an ifmap operand of
Npix × Win (output pixels × window elements Fh·Fw·C), a filter operand of Win × F and an
ofmap of Npix × F. Each dataflow keeps one operand in the R × C array, maps two
dimensions onto its rows (Sr) and columns (Sc) and streams the third (T) in time,
folding whenever Sr > R or Sc > C. All figures are closed forms that reproduce SCALE-Sim
3.0.0's compute and SRAM reports exactly (CALC bandwidth mode, no stalls).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from core.common.lattice import covered
from core.dataflow.layer import ConvLayer, require_int
from core.common.errors import InputError

SYSTOLIC_DATAFLOWS = ("os", "ws", "is")
ROUNDINGS = ("ceil", "floor")
WORD_BYTES = 1  # SCALE-Sim's default word size

SCALESIM_CONVENTIONS = (
    "Output size: SCALE-Sim rounds up, ofmap = ceil((H − Fh) / S) + 1, and has no padding; PyTorch floors, "
    "floor((H + 2P − K) / S) + 1. They differ only when the stride does not tile the input: SCALE-Sim then "
    "adds a last window that runs past the input edge (its missing elements count as reads of address −1). "
    "Choose rounding='floor' for PyTorch's size.",
    "Lowering: im2col; a window element is re-read for every output pixel that uses it, so SRAM ifmap reads "
    "count Npix × Win per pass, not the H × W × C distinct inputs.",
    "Dataflows: os maps pixels × filters on rows × columns and streams the window (T = Win); ws maps window × "
    "filters and streams pixels (T = Npix); is maps window × pixels and streams filters (T = F).",
    "SRAM reads: the stationary operand is read once; the streamed one once per fold of the other mapped "
    "dimension (os re-reads both: ifmap per column fold, filters per row fold).",
    "SRAM ofmap writes: ws and is write every partial sum of every row fold, row_folds × Npix × F (they are not "
    "accumulated inside the array across folds); os writes Npix × F results plus (R + C) per fold — an artefact "
    "of SCALE-Sim's output-stationary model that counts the drain edges; a real array writes Npix × F.",
    "Cycles: every fold pays the pipeline fill and drain; os folds last T + R + C − 2 cycles, ws and is folds "
    "2R + C + T − 2 (R cycles to preload the stationary operand); the total is folds × fold length − 1 (SCALE-Sim "
    "reports the index of the last cycle).",
    "Utilisation = MACs / (R·C·cycles) (SCALE-Sim's 'overall utilization'); mapping efficiency = average over "
    "folds of the fraction of PEs mapped; compute utilisation = average over folds of the fraction of PE-cycles "
    "busy within the fold (ws/is measure the fold as 2R + 2C + T − 3 cycles there).",
    "DRAM figures here are an estimate: an operand is fetched once if its distinct elements fit half its SRAM "
    "(SCALE-Sim double-buffers), otherwise once per pass over it; ofmap DRAM writes are Npix × F for os and every "
    "partial sum (row_folds × Npix × F) for ws and is, as SCALE-Sim drains them. SCALE-Sim's own DRAM counts come "
    "from replaying its address trace through set-based prefetch buffers and can differ when data exceed the SRAM.",
)

@dataclass(frozen=True)
class SystolicLayer:
    """A conv layer in SCALE-Sim's terms (no padding; rectangular filters allowed)."""

    ifmap_h: int
    ifmap_w: int
    filter_h: int
    filter_w: int
    channels: int
    filters: int
    stride: int = 1

    def __post_init__(self):
        for name in ("ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels", "filters", "stride"):
            object.__setattr__(self, name, require_int(name.replace("_", " "), getattr(self, name), 1))
        for side in ("h", "w"):
            filt, ifmap = getattr(self, f"filter_{side}"), getattr(self, f"ifmap_{side}")
            if filt > ifmap:
                word = "height" if side == "h" else "width"
                raise InputError(f"filter {word}: {filt} is larger than the ifmap {word} {ifmap} (allowed: <= {ifmap})")

    @classmethod
    def from_conv(cls, layer: ConvLayer) -> SystolicLayer:
        """SCALE-Sim has no padding: a padded layer becomes one on the zero-padded input."""
        p = layer.padding
        return cls(layer.height + 2 * p, layer.width + 2 * p, layer.kernel, layer.kernel,
                   layer.channels, layer.filters, layer.stride)

    def ofmap(self, rounding: str = "ceil") -> tuple[int, int]:
        if rounding not in ROUNDINGS:
            raise InputError(f"output rounding: {rounding!r} is not known (allowed: {', '.join(ROUNDINGS)})")
        size = (lambda n, k: -(-(n - k) // self.stride) + 1) if rounding == "ceil" else (
            lambda n, k: (n - k) // self.stride + 1)
        return size(self.ifmap_h, self.filter_h), size(self.ifmap_w, self.filter_w)

    @property
    def window(self) -> int:
        return self.filter_h * self.filter_w * self.channels

@dataclass(frozen=True)
class SystolicResult:
    """SCALE-Sim's compute and SRAM figures for one layer, array and dataflow (fractions, not %)."""

    dataflow: str
    rows: int
    cols: int
    rounding: str
    ofmap_h: int
    ofmap_w: int
    spatial_rows: int     # Sr: dimension mapped on the array rows
    spatial_cols: int     # Sc: dimension mapped on the array columns
    temporal: int         # T: dimension streamed in time
    row_folds: int
    col_folds: int
    fold_cycles: int
    cycles: int
    macs: int
    utilization: float
    compute_utilization: float
    mapping_efficiency: float
    sram_ifmap_reads: int
    sram_filter_reads: int
    sram_ofmap_writes: int
    dram_ifmap_reads: int
    dram_filter_reads: int
    dram_ofmap_writes: int

    @property
    def folds(self) -> int:
        return self.row_folds * self.col_folds

    def as_dict(self) -> dict:
        d = asdict(self)
        d.update({
            "ofmap": [self.ofmap_h, self.ofmap_w],
            "sram_reads": {"ifmap": self.sram_ifmap_reads, "filter": self.sram_filter_reads},
            "sram_writes": {"ofmap": self.sram_ofmap_writes},
            "dram_estimate": {"ifmap_reads": self.dram_ifmap_reads, "filter_reads": self.dram_filter_reads,
                              "ofmap_writes": self.dram_ofmap_writes},
            "utilization_pct": 100 * self.utilization,
            "mapping_efficiency_pct": 100 * self.mapping_efficiency,
            "compute_utilization_pct": 100 * self.compute_utilization,
        })
        return d

    def explain(self) -> str:
        """The formulas behind every figure, with this layer's values substituted."""
        R, C, T, Sr, Sc = self.rows, self.cols, self.temporal, self.spatial_rows, self.spatial_cols
        fold_formula = "T + R + C − 2" if self.dataflow == "os" else "2R + C + T − 2"
        lines = [
            f"ofmap {self.ofmap_h}×{self.ofmap_w} ({self.rounding}); Sr = {Sr}, Sc = {Sc}, T = {T} on a {R}×{C} array",
            f"folds = ceil(Sr/R)·ceil(Sc/C) = {self.row_folds}·{self.col_folds} = {self.folds}",
            f"fold length = {fold_formula} = {self.fold_cycles}; cycles = folds·length − 1 = {self.cycles:,}",
            f"utilisation = MACs/(R·C·cycles) = {self.macs:,}/({R}·{C}·{self.cycles:,}) = {100 * self.utilization:.4f} %",
            f"mapping efficiency = Sr·Sc/(folds·R·C) = {Sr}·{Sc}/({self.folds}·{R}·{C}) = {100 * self.mapping_efficiency:.4f} %",
            f"SRAM reads: ifmap {self.sram_ifmap_reads:,}, filter {self.sram_filter_reads:,}; "
            f"SRAM ofmap writes {self.sram_ofmap_writes:,}",
        ]
        return "\n".join(lines)

def _check_array(rows: int, cols: int, dataflow: str) -> None:
    require_int("array rows", rows, 1)
    require_int("array columns", cols, 1)
    if dataflow not in SYSTOLIC_DATAFLOWS:
        raise InputError(f"dataflow: {dataflow!r} is not a systolic dataflow (allowed: {', '.join(SYSTOLIC_DATAFLOWS)})")

def _check_sram(sram_kb) -> tuple[int, int, int]:
    if len(sram_kb) != 3:
        raise InputError(f"SRAM sizes: {sram_kb!r} must be three sizes in KB (ifmap, filter, ofmap)")
    return tuple(require_int(f"{name} SRAM (KB)", kb, 1) for name, kb in zip(("ifmap", "filter", "ofmap"), sram_kb))

def mapping_dims(layer: SystolicLayer, dataflow: str, rounding: str = "ceil") -> tuple[int, int, int]:
    """(Sr, Sc, T): the dimensions mapped on rows, on columns and streamed in time."""
    oh, ow = layer.ofmap(rounding)
    npix, win, f = oh * ow, layer.window, layer.filters
    return {"os": (npix, f, win), "ws": (win, f, npix), "is": (win, npix, f)}[dataflow]

def ifmap_footprint(layer: SystolicLayer, rounding: str = "ceil") -> int:
    """Distinct ifmap elements the windows touch (positions beyond the edge excluded)."""
    oh, ow = layer.ofmap(rounding)
    rows = covered(layer.ifmap_h, 0, oh, layer.stride, layer.filter_h)
    cols = covered(layer.ifmap_w, 0, ow, layer.stride, layer.filter_w)
    return rows * cols * layer.channels

def simulate_systolic(
    layer: SystolicLayer | ConvLayer,
    rows: int,
    cols: int,
    dataflow: str,
    sram_kb: tuple[int, int, int] = (64, 64, 64),
    rounding: str = "ceil",
) -> SystolicResult:
    """SCALE-Sim 3.0's figures for ``layer`` on an R × C array (closed form, microseconds)."""
    if isinstance(layer, ConvLayer):
        layer = SystolicLayer.from_conv(layer)
    _check_array(rows, cols, dataflow)
    kb = _check_sram(sram_kb)
    oh, ow = layer.ofmap(rounding)
    sr, sc, t = mapping_dims(layer, dataflow, rounding)
    rf, cf = math.ceil(sr / rows), math.ceil(sc / cols)
    folds = rf * cf
    fold_len = t + rows + cols - 2 if dataflow == "os" else 2 * rows + cols + t - 2
    cycles = folds * fold_len - 1
    macs = sr * sc * t
    util_fold_len = fold_len if dataflow == "os" else fold_len + cols - 1
    npix, win, f = oh * ow, layer.window, layer.filters
    sram = _sram_counts(dataflow, npix, win, f, rf, cf, rows, cols)
    dram = _dram_estimate(layer, dataflow, rounding, npix, win, f, rf, cf, kb)
    return SystolicResult(
        dataflow, rows, cols, rounding, oh, ow, sr, sc, t, rf, cf, fold_len, cycles, macs,
        utilization=macs / (rows * cols * cycles),
        compute_utilization=macs / (folds * rows * cols * util_fold_len),
        mapping_efficiency=sr * sc / (folds * rows * cols),
        sram_ifmap_reads=sram[0], sram_filter_reads=sram[1], sram_ofmap_writes=sram[2],
        dram_ifmap_reads=dram[0], dram_filter_reads=dram[1], dram_ofmap_writes=dram[2],
    )

def _sram_counts(dataflow, npix, win, f, rf, cf, rows, cols) -> tuple[int, int, int]:
    if dataflow == "os":
        return cf * npix * win, rf * win * f, npix * f + rf * cf * (rows + cols)
    if dataflow == "ws":
        return cf * npix * win, win * f, rf * npix * f
    return win * npix, cf * win * f, rf * npix * f

def _dram_estimate(layer, dataflow, rounding, npix, win, f, rf, cf, kb) -> tuple[int, int, int]:
    half = [k * 1024 // WORD_BYTES // 2 for k in kb]
    ifmap_unique, filter_unique, outputs = ifmap_footprint(layer, rounding), win * f, npix * f

    def fetched(unique: int, passes: int, space: int) -> int:
        return unique if unique <= space else unique * passes

    if dataflow == "os":
        return fetched(ifmap_unique, cf, half[0]), fetched(filter_unique, rf, half[1]), outputs
    # SCALE-Sim drains every partial sum of every row fold to DRAM (no accumulation in SRAM).
    psums = rf * outputs
    if dataflow == "ws":
        return fetched(ifmap_unique, cf, half[0]), filter_unique, psums
    return ifmap_unique, fetched(filter_unique, cf, half[1]), psums
