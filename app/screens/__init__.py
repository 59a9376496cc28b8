"""jobtui.app.screens."""
