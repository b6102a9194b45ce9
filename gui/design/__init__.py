"""The Design workspace: palette, canvas, property form, document and undo commands, drag
MIME types, the analysis panel and table model, and the solver and compare dialogs.

Imports core and gui.widgets, never another workspace.
"""
