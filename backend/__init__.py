"""jobtui.backend."""
