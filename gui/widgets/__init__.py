"""Small widgets shared by the workspaces (player, form fields, table file dialogs).

Imports core and Qt only, never a workspace.
"""
