"""Pieces shared by the workspaces: player, form fields, table file dialogs, atomic file
writes, and the QThread worker that runs a core generator.

Imports core and Qt only, never a workspace.
"""
