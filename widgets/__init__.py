"""jobtui.widgets."""
