"""jobtui.app.dialogs."""
