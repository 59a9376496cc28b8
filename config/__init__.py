"""jobtui.config."""
