"""The Transformer workspace (configuration form, block diagram with bits on its edges,
plots against d_model and sequence length, the ledger and beyond-the-course tables).
Imports core and gui.widgets, never another workspace."""

from gui.transformer.panel import TransformerPanel

__all__ = ["TransformerPanel"]
